"""Validate and repair one raw record.

Rules (they mirror what upstream systems really send, see data/data_dictionary.md):
- recoverable problems are repaired and reported, the record is still scored ("coerced"):
  numbers as strings with a unit, thousands separators or European decimals (" 1,234 ",
  "1.234,5"); category case/whitespace variants; timestamps in other spellings; a missing
  field; unknown extra fields;
- a record is "invalid" (not scored) when a numeric field is not a number or is outside its
  valid range.
The same function cleans the training rows, so training and serving cannot disagree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from service.fields import (CATEGORICAL_FIELDS, CATEGORY_SPELLINGS, ID, INTEGER_FIELDS, KNOWN_FIELDS, NUMERIC_FIELDS,
                            TIMESTAMP_FIELDS)

_ISO_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")  # the canonical form
_CAT_SEP = re.compile(r"[\s\-]+")
_UNIT = re.compile(r"^[^\d+\-.]+|[^\d.]+$")  # a currency or unit either side of the number
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$")
_TS_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
               "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y",
               "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%b %d %Y %H:%M", "%d %b %Y %H:%M")


@dataclass
class Cleaned:
    id: str
    values: dict[str, Any] = field(default_factory=dict)  # typed values; None when missing
    issues: list[tuple[str, str]] = field(default_factory=list)
    invalid_fields: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # known fields absent, blank or as good as missing
    unknown: list[str] = field(default_factory=list)  # field names we do not know

    @property
    def invalid(self) -> bool:
        return bool(self.invalid_fields)

    def flag(self, name: str, code: str, invalid: bool = False) -> None:
        self.issues.append((name, code))
        if invalid and name not in self.invalid_fields:
            self.invalid_fields.append(name)

    @property
    def status(self) -> str:
        return "invalid" if self.invalid else ("coerced" if self.issues else "ok")


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _amount_text(s: str) -> float | None:
    """'$ 52,000' / '52,000' / '52.000,00' / '964,00' / '52000 kg' / '-1,234.5' -> a float."""
    s = s.strip().lower().replace("\u00a0", " ").replace(" ", "").replace("'", "")
    s = _UNIT.sub("", s)
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):  # European: 52.000,00
            s = s.replace(".", "").replace(",", ".")
        else:  # 52,000.00
            s = s.replace(",", "")
    elif "," in s:
        groups = s.split(",")
        if len(groups) == 2 and len(groups[1]) != 3:  # 964,00: a decimal comma
            s = s.replace(",", ".")
        elif all(len(g) == 3 for g in groups[1:]):  # 1,234,567: thousands
            s = s.replace(",", "")
        else:
            return None
    elif s.count(".") > 1:  # 1.234.567: European thousands
        if not all(len(g) == 3 for g in s.split(".")[1:]):
            return None
        s = s.replace(".", "")
    if not _NUMBER.match(s):
        return None
    return float(s)


def parse_number(name: str, v: Any) -> tuple[float | None, list[str], bool]:
    """Return (value, issue codes, invalid?)."""
    lo, hi = NUMERIC_FIELDS[name]
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None, ["not_a_number"], True
    codes: list[str] = []
    if isinstance(v, str):
        x = _amount_text(v)
        if x is None:
            return None, ["not_a_number"], True
        codes.append("parsed_string")
    else:
        try:
            x = float(v)
        except OverflowError:  # an int beyond float range is out of any valid range
            return None, ["out_of_range"], True
    if not math.isfinite(x):
        return None, ["not_a_number"], True
    if not lo <= x <= hi:
        return None, ["out_of_range"], True
    if name in INTEGER_FIELDS and x != round(x):
        x = float(round(x))
        codes.append("rounded")
    return x, codes, False


def parse_target(v: Any) -> float | None:
    """A numeric target as train.csv or /feedback carries it: a finite number, text read as a numeric
    field's would be ("1,234.5"); None when it is missing or no number (such a row teaches nothing)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    try:
        x = _amount_text(v) if isinstance(v, str) else float(v)
    except OverflowError:
        return None
    return x if x is not None and math.isfinite(x) else None


def parse_timestamp(v: Any) -> tuple[datetime | None, str | None]:
    ts, code = _parse_timestamp(v)
    if ts is not None and ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts, code


def _parse_timestamp(v: Any) -> tuple[datetime | None, str | None]:
    if isinstance(v, str) and _ISO_TS.match(v.strip()):
        try:
            return datetime.fromisoformat(v.strip().replace("Z", "+00:00")), None
        except ValueError:
            pass
    if isinstance(v, (int, float)) and not isinstance(v, bool) or (isinstance(v, str) and v.strip().isdigit()):
        try:
            secs = float(v)
            if secs > 1e11:  # epoch milliseconds
                secs /= 1000
            return datetime.fromtimestamp(secs, tz=timezone.utc), "timestamp_format"
        except (ValueError, OverflowError, OSError):
            return None, "unparseable"
    if isinstance(v, str):
        s = v.strip()
        try:
            return datetime.fromisoformat(s.replace("Z", "+00:00")), "timestamp_format"
        except ValueError:
            pass
        for fmt in _TS_FORMATS:
            try:
                return datetime.strptime(s, fmt), "timestamp_format"
            except ValueError:
                continue
    return None, "unparseable"


def normalize_category(v: str) -> str:
    return _CAT_SEP.sub("_", v.strip().lower())


def clean_record(raw: Any, index: int = 0, now: datetime | None = None) -> Cleaned:
    """`now`: kept for the caller's symmetry with records that carry no readable timestamp."""
    if not isinstance(raw, dict):
        c = Cleaned(id=str(index))
        c.flag("record", "not_an_object", invalid=True)
        return c
    rid = raw.get(ID)
    c = Cleaned(id=rid if isinstance(rid, str) else ("" if rid is None else str(rid)))
    if not isinstance(rid, str) or not rid:
        c.flag(ID, "missing" if rid is None else "wrong_type")
    c.unknown = [k for k in raw if k != ID and k not in KNOWN_FIELDS]
    for k in c.unknown:
        c.flag(str(k), "unknown_field")
    for name in KNOWN_FIELDS:
        v = raw.get(name)
        if _blank(v):
            c.values[name] = None
            c.missing.append(name)
            c.flag(name, "missing")
            continue
        if name in NUMERIC_FIELDS:
            x, codes, bad = parse_number(name, v)
            c.values[name] = x
            for code in codes:
                c.flag(name, code, invalid=bad)
        elif name in CATEGORICAL_FIELDS:
            _clean_category(c, name, v)
        elif name in TIMESTAMP_FIELDS:
            ts, code = parse_timestamp(v)
            c.values[name] = ts
            if ts is None:
                c.missing.append(name)
            if code:
                c.flag(name, code)  # a timestamp we cannot read costs nothing the model uses
    return c


def _clean_category(c: Cleaned, name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        c.values[name] = None
        c.missing.append(name)
        c.flag(name, "wrong_type")
        return
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)  # a code sent as 5.0
    text = str(v)
    norm = normalize_category(text)
    c.values[name] = norm
    if text not in CATEGORY_SPELLINGS.get(name, (norm,)):  # a documented spelling is clean as sent
        c.flag(name, "normalized")
