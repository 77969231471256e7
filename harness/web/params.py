"""Path parameters shared by the pages and the API."""
from __future__ import annotations

from fastapi import Path

MAX_ID = 2**31 - 1  # a row id: larger numbers are a 422, never a database error


def path_id() -> int:
    """A row id in the path, 1 to MAX_ID. A fresh Path() per parameter: one shared instance makes two
    parameters of a route read the same one."""
    return Path(ge=1, le=MAX_ID)  # type: ignore[no-any-return]
