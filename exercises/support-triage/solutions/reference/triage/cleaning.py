"""Validate and repair one raw record.

Rules (they mirror what upstream systems really send):
- recoverable problems are repaired and reported, the record is still scored ("coerced"):
  numbers sent as strings with commas/currency/units, category case or whitespace variants,
  non-ISO timestamps, HTML or mojibake in text, a missing optional field, unknown extra fields;
- a record is "invalid" (not scored) when there is no text at all, when subject/body is not
  text, or when a numeric field is not a number or is outside its valid range.
The same function cleans the training rows, so training and serving cannot disagree.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from triage.fields import CATEGORICAL_FIELDS, ID, KNOWN_FIELDS, NUMERIC_FIELDS, TEXT_FIELDS, TIMESTAMP_FIELDS

_TAG = re.compile(r"<[^>]{0,200}>")
_SPACES = re.compile(r"\s+")
_CAT_SEP = re.compile(r"[\s_]+")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")  # the canonical form; others are coerced
_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)([a-z]*)$")
_MOJIBAKE_MARKS = ("Ã", "Â", "â€", "Å", "Ð")
_CURRENCY = ("usd", "us$", "$", "dollars", "dollar")
# Unit words we can convert to the field's unit; anything else is not a number we trust.
_UNITS: dict[str, dict[str, float]] = {
    "account_age_days": {"": 1, "d": 1, "day": 1, "days": 1, "w": 7, "wk": 7, "week": 7, "weeks": 7,
                         "mo": 30.44, "month": 30.44, "months": 30.44,
                         "y": 365.25, "yr": 365.25, "yrs": 365.25, "year": 365.25, "years": 365.25},
    "prior_tickets": {"": 1, "ticket": 1, "tickets": 1},
    "order_value": {"": 1, "k": 1000},
}
_TS_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
               "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y",
               "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%b %d %Y %H:%M", "%d %b %Y %H:%M")


@dataclass
class Cleaned:
    id: str
    values: dict[str, Any] = field(default_factory=dict)  # typed values; None when missing
    issues: list[tuple[str, str]] = field(default_factory=list)
    invalid_fields: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # known fields absent or blank
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


def fix_text(s: str) -> tuple[str, list[str]]:
    """Strip HTML and undo UTF-8-read-as-cp1252 mojibake; returns the codes of what was fixed."""
    codes = []
    if any(m in s for m in _MOJIBAKE_MARKS):
        for enc in ("cp1252", "latin-1"):
            try:
                fixed = s.encode(enc).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if fixed != s:
                s = fixed
                codes.append("mojibake")
            break
    if "<" in s or "&" in s:
        stripped = html.unescape(_TAG.sub(" ", s))
        if stripped != s:
            s = stripped
            codes.append("html")
    return _SPACES.sub(" ", s).strip(), codes


def parse_number(name: str, v: Any) -> tuple[float | None, str | None, bool]:
    """Return (value, issue code or None, invalid?)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None, "not_a_number", True
    coerced = isinstance(v, str)
    if coerced:
        s = v.strip().lower().replace(",", "").replace(" ", "")
        for cur in _CURRENCY:
            s = s.replace(cur, "")
        m = _NUMBER.match(s)
        factor = _UNITS[name].get(m.group(2)) if m else None
        if m is None or factor is None:
            return None, "not_a_number", True
        x = float(m.group(1)) * factor
    else:
        try:
            x = float(v)
        except OverflowError:  # an int beyond float range is out of any valid range
            return None, "out_of_range", True
    if not math.isfinite(x):
        return None, "not_a_number", True
    spec = NUMERIC_FIELDS[name]
    if not spec.lo <= x <= spec.hi:
        return None, "out_of_range", True
    if spec.integer and x != round(x):
        return float(round(x)), "rounded", False
    return x, ("parsed_string" if coerced else None), False


def parse_timestamp(v: Any) -> tuple[datetime | None, str | None]:
    ts, code = _parse_timestamp(v)
    if ts is not None and ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)  # comparable with every other timestamp
    return ts, code


def _parse_timestamp(v: Any) -> tuple[datetime | None, str | None]:
    if isinstance(v, str) and _ISO.match(v.strip()):
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
                return datetime.strptime(s, fmt).replace(tzinfo=timezone.utc), "timestamp_format"
            except ValueError:
                continue
        try:
            return parsedate_to_datetime(s), "timestamp_format"
        except (TypeError, ValueError, IndexError):
            pass
    return None, "unparseable"


def normalize_category(v: str) -> str:
    return _CAT_SEP.sub("-", v.strip().lower())


def clean_record(raw: Any, index: int = 0) -> Cleaned:
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
        c.flag(k, "unknown_field")
    for name in KNOWN_FIELDS:
        v = raw.get(name)
        if _blank(v):
            c.values[name] = None
            c.missing.append(name)
            if name not in TEXT_FIELDS:
                c.flag(name, "missing")
            continue
        if name in NUMERIC_FIELDS:
            x, code, bad = parse_number(name, v)
            c.values[name] = x
            if code:
                c.flag(name, code, invalid=bad)
        elif name in CATEGORICAL_FIELDS:
            if not isinstance(v, str):
                c.values[name] = None
                c.flag(name, "wrong_type")
                continue
            norm = normalize_category(v)
            c.values[name] = norm
            if norm != v:
                c.flag(name, "normalized")
        elif name in TEXT_FIELDS:
            if not isinstance(v, str):
                c.values[name] = None
                c.flag(name, "wrong_type", invalid=True)
                continue
            text, codes = fix_text(v)
            c.values[name] = text or None
            for code in codes:
                c.flag(name, code)
        elif name in TIMESTAMP_FIELDS:
            ts, code = parse_timestamp(v)
            c.values[name] = ts
            if code:
                c.flag(name, code)
    texts_missing = [n for n in TEXT_FIELDS if n in c.missing]
    if len(texts_missing) == len(TEXT_FIELDS):
        for n in TEXT_FIELDS:
            c.flag(n, "missing", invalid=True)
    else:
        for n in texts_missing:
            c.flag(n, "missing")
    return c
