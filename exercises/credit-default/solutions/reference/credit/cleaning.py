"""Validate and repair one raw record.

Rules (they mirror what upstream systems really send, see data/data_dictionary.md):
- recoverable problems are repaired and reported, the record is still scored ("coerced"):
  amounts as strings with a currency, thousands separators or European decimals
  ("NT$ 52,000", "52.000,00", "52000 TWD"); an annual income sent per month and marked so
  ("4,300/month": x12); category case/whitespace variants; documented numeric codes;
  undocumented codes (education 0/5/6, marital_status 0: treated as missing); dates of birth
  and timestamps in other spellings; a missing field; unknown extra fields;
- a record is "invalid" (not scored) when a numeric field is not a number or is outside its
  valid range, or when the date of birth is not a date or gives an impossible age.
The same function cleans the training rows, so training and serving cannot disagree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from credit.fields import (AGE_RANGE, CATEGORICAL_FIELDS, DATE_FIELDS, DOCUMENTED_CODES, ID, KNOWN_FIELDS,
                           NUMERIC_FIELDS, TIMESTAMP_FIELDS, UNDOCUMENTED_CODES)

_ISO_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")  # the canonical form
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CAT_SEP = re.compile(r"[\s\-]+")
_CURRENCY = re.compile(r"^(nt\$|ntd|twd|\$)|(nt\$|ntd|twd|dollars?)$")
_PERIOD = re.compile(r"(/\s*month|per\s+month|monthly|/\s*mo|a\s+month)$")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$")
_TS_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
               "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y",
               "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%b %d %Y %H:%M", "%d %b %Y %H:%M")
# Date-of-birth spellings seen upstream. Day-first before month-first: the bank's forms are
# day-first; "%m-%d-%Y" (dashes) is the US export, distinguishable by its separator.
_DATE_FORMATS = ("%d/%m/%Y", "%m-%d-%Y", "%d.%m.%Y", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%Y%m%d",
                 "%Y/%m/%d", "%d-%m-%Y", "%m/%d/%Y")
_DAYS_PER_YEAR = 365.2425


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
    """'NT$ 52,000' / '52,000' / '52.000,00' / '964,00' / '52000 TWD' / '-1,234.5' -> a float."""
    s = s.strip().lower().replace("\u00a0", " ")
    s = _CURRENCY.sub("", s).strip()
    s = _CURRENCY.sub("", s).strip()  # a currency on both ends ("NT$ 5 TWD") is still one amount
    s = s.replace(" ", "").replace("'", "")
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
    spec = NUMERIC_FIELDS[name]
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None, ["not_a_number"], True
    codes: list[str] = []
    if isinstance(v, str):
        s = v.strip().lower()
        factor = 1.0
        m = _PERIOD.search(s)
        if m:
            if not spec.periodic:
                return None, ["not_a_number"], True
            s, factor = s[:m.start()].strip(), 12.0
            codes.append("monthly_amount")
        x = _amount_text(s) if spec.amount else (float(s) if _NUMBER.match(s) else None)
        if x is None:
            return None, ["not_a_number"], True
        x *= factor
        if not codes:
            codes.append("parsed_string")
    else:
        try:
            x = float(v)
        except OverflowError:  # an int beyond float range is out of any valid range
            return None, ["out_of_range"], True
    if not math.isfinite(x):
        return None, ["not_a_number"], True
    if not spec.lo <= x <= spec.hi:
        return None, ["out_of_range"], True
    if spec.integer and x != round(x):
        x = float(round(x))
        if "monthly_amount" not in codes:  # x12 of a rounded monthly figure is not an integer anyway
            codes.append("rounded")
    return x, codes, False


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


def parse_date(v: Any) -> tuple[date | None, str | None]:
    """A date of birth: ISO is canonical; other spellings are coerced; anything else is invalid."""
    if isinstance(v, str):
        s = v.strip()
        if _ISO_DATE.match(s):
            try:
                return date.fromisoformat(s), (None if s == v else "date_format")
            except ValueError:
                return None, "not_a_date"
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(s, fmt).date(), "date_format"
            except ValueError:
                continue
        try:  # "1987-06-30T00:00:00Z"
            return datetime.fromisoformat(s.replace("Z", "+00:00")).date(), "date_format"
        except ValueError:
            pass
    return None, "not_a_date"


def age_years(born: date, on: datetime) -> float:
    return (on.date() - born).days / _DAYS_PER_YEAR


def normalize_category(v: str) -> str:
    return _CAT_SEP.sub("_", v.strip().lower())


def clean_record(raw: Any, index: int = 0, now: datetime | None = None) -> Cleaned:
    """`now` dates a record that has no readable timestamp (for its applicant's age)."""
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
                c.flag(name, code)  # a timestamp we cannot read only costs the age its reference day
        elif name in DATE_FIELDS:
            d, code = parse_date(v)
            c.values[name] = d
            if code:
                c.flag(name, code, invalid=d is None)
    # the applicant's age on the record's date: the model's and the monitor's view of a birth date
    born = c.values.get("date_of_birth")
    c.values["age"] = None
    if born is not None:
        on = c.values.get("applied_at") or now or datetime.now(timezone.utc)
        age = age_years(born, on)
        if not AGE_RANGE[0] <= age <= AGE_RANGE[1]:
            c.flag("date_of_birth", "impossible_age", invalid=True)
        else:
            c.values["age"] = age
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
    code = text.strip()
    if code in UNDOCUMENTED_CODES.get(name, ()):
        c.values[name] = None  # as good as missing: say so
        c.missing.append(name)
        c.flag(name, "undocumented_code")
        return
    if code in DOCUMENTED_CODES.get(name, {}):
        c.values[name] = DOCUMENTED_CODES[name][code]
        c.flag(name, "numeric_code")
        return
    norm = normalize_category(text)
    c.values[name] = norm
    if norm != v:
        c.flag(name, "normalized")
