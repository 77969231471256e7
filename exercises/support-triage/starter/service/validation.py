"""Validate and repair one raw record before it reaches the model.

`validate(raw)` returns a `Checked`: the values the model should see, the issues found,
and whether the record can be scored at all. The status rules the grader applies:

- ok        every field present, well-typed, canonical and in range;
- coerced   recoverable problems repaired (say which in `issues`);
- invalid   cannot be scored: `prediction` must be null and `issues` must say why;
- fallback  (decided later, by the model) usable but unfamiliar or low confidence.

Only the bare minimum is implemented below. Everything marked TODO is yours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.fields import ID, KNOWN_FIELDS, TEXT_FIELDS


@dataclass
class Checked:
    id: str
    values: dict[str, Any] = field(default_factory=dict)
    issues: list[dict[str, str]] = field(default_factory=list)  # [{"field": ..., "code": ...}]
    invalid: bool = False

    def flag(self, name: str, code: str, invalid: bool = False) -> None:
        self.issues.append({"field": name, "code": code})
        self.invalid = self.invalid or invalid

    @property
    def status(self) -> str:
        if self.invalid:
            return "invalid"
        return "coerced" if self.issues else "ok"


def validate(raw: Any, index: int) -> Checked:
    if not isinstance(raw, dict):
        checked = Checked(id=str(index))
        checked.flag("record", "not_an_object", invalid=True)
        return checked
    checked = Checked(id=str(raw.get(ID, index)))
    for name in KNOWN_FIELDS:
        checked.values[name] = raw.get(name)

    # TODO(validation): a record with neither subject nor body (missing, null or blank)
    #   cannot be scored -> invalid. So is a subject/body that is not a string.
    if all(not isinstance(checked.values.get(t), str) or not checked.values[t].strip() for t in TEXT_FIELDS):
        checked.flag("body", "missing", invalid=True)

    # TODO(coercion): numbers arrive as strings with commas, currency or units
    #   ("$1,250.00", "1,250", "30 days"): parse them and flag the field as coerced.
    # TODO(validation): a numeric value that cannot be parsed, or is outside its valid
    #   range (service/fields.py), makes the record invalid.
    # TODO(coercion): category values in other case or with whitespace (" Email", "CHAT").
    # TODO(coercion): timestamps in other formats; HTML tags and mojibake in the text.
    # TODO(coercion): a missing optional field (anything but subject/body) is repaired
    #   (imputed) and reported; unknown extra fields are ignored but reported.
    return checked
