"""Validate and repair one raw record before it reaches the model.

`validate(raw)` returns a `Checked`: the values the model should see, the issues found,
and whether the record can be scored at all. The status rules the grader applies:

- ok        every field present, well-typed, canonical and in range;
- coerced   recoverable problems repaired (say which in `issues`);
- invalid   cannot be scored: `prediction` must be null and `issues` must say why;
- fallback  (decided later, by the model) usable but unfamiliar or low confidence.

Only the bare minimum is implemented below: a record that is not a JSON object is invalid.
Everything marked TODO is yours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.fields import ID, KNOWN_FIELDS


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

    # TODO(coercion): numbers arrive as strings with thousands separators, stray spaces or
    #   European decimals (" 1,234 ", "1.234,5"): parse them and flag the field as coerced.
    # TODO(validation): a numeric value that cannot be parsed ("pending", a list), or is
    #   outside its valid range (service/fields.py), makes the record invalid.
    # TODO(coercion): timestamps in other formats (epoch seconds, "03/14/2025 10:22").
    # TODO(coercion): category values in another case or with whitespace: normalise them
    #   and say so.
    # TODO(coercion): a missing field (absent, null or blank) is repaired (imputed) and
    #   reported; unknown extra fields are ignored but reported.
    # TODO(duplicates): the same record may arrive twice under different ids.
    return checked
