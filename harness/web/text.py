"""Text a person typed into a form or an API body, checked before it is stored or shown."""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(value: str, what: str, limit: int) -> str:
    """`value` stripped; ValueError (a one-line reason naming `what`) on control characters, text that is
    not valid Unicode, or more than `limit` characters."""
    text = value.strip()
    if _CONTROL.search(text):
        raise ValueError(f"the {what} has control characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"the {what} is not valid text") from None
    if len(text) > limit:
        raise ValueError(f"the {what} is longer than {limit} characters")
    return text
