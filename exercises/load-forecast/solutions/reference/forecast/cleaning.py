"""Validate and repair one raw record (data/data_dictionary.md).

- coerced (repaired, reported, still forecast): readings as strings with their unit or
  thousands separators ("1,234.5 MW", "1234.5MW", "18.2°C", "18.2 degC"); categories in
  another case or with whitespace (" Metro", "YES"); timestamps in other formats (epoch
  seconds or milliseconds, "03/14/2025 09:30", "14 Mar 2025 09:30", "+10:00" offsets) or in
  local time with a zone name ("14/03/2025 19:30 AEST"), all read as UTC; a timestamp that
  cannot be read (the model then forecasts without the time of day); a missing field;
  unknown extra fields;
- invalid (not forecast): a reading that is not a number or lies outside its valid range
  (negative load, a -99 temperature: a broken meter or sensor), or both lags missing.
The same function cleans the training rows, so training and serving cannot disagree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from forecast.fields import (CATEGORICAL_FIELDS, ID, KNOWN_FIELDS, LAGS, NUMERIC_FIELDS, SITES, TIME, WORKDAY_CODES,
                             ZONES)

_CANONICAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_ZONE = re.compile(r"\s+([a-z]{1,4})$")
_SPACES = re.compile(r"\s+")
# Without a zone upstream writes US month-first dates; with an Australian zone, day-first.
_UTC_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d %b %Y %H:%M", "%d.%m.%Y %H:%M", "%B %d, %Y %H:%M:%S",
                "%B %d, %Y %H:%M", "%b %d, %Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M",
                "%d/%m/%Y %H:%M")
_LOCAL_FORMATS = ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M",
                  "%d %b %Y %H:%M", "%m/%d/%Y %H:%M")
_SCALE = {"kw": 0.001, "gw": 1000.0}  # a load in another unit of power, said so: converted to MW
_EPOCH_RANGE = (946_684_800, 4_102_444_800)  # 2000 .. 2100: anything else is not a timestamp


@dataclass
class Cleaned:
    id: str
    values: dict[str, Any] = field(default_factory=dict)  # typed values; None when missing
    issues: list[tuple[str, str]] = field(default_factory=list)
    invalid_fields: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # known fields absent, blank or unreadable
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


def _number_text(name: str, s: str) -> tuple[float | None, str]:
    """'1,234.5 MW' / '1234.5MW' / '18.2°C' / '18.2 degC' -> (value in the documented unit, code)."""
    s = s.strip().lower().replace("\u00a0", " ")
    code = "parsed_string"
    for unit in sorted(NUMERIC_FIELDS[name].units, key=len, reverse=True):
        if s.endswith(unit):
            s = s[: -len(unit)].strip()
            break
    else:
        for unit, factor in _SCALE.items():
            if name in LAGS and s.endswith(unit):
                x, _ = _number_text(name, s[: -len(unit)])
                return (None if x is None else x * factor), "unit_converted"
    s = s.replace(" ", "")
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    if not _NUMBER.match(s):
        return None, "not_a_number"
    return float(s), code


def parse_number(name: str, v: Any) -> tuple[float | None, str | None, bool]:
    """(value, issue code or None, invalid?)."""
    spec = NUMERIC_FIELDS[name]
    code = None
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None, "not_a_number", True
    if isinstance(v, str):
        x, code = _number_text(name, v)
        if x is None:
            return None, "not_a_number", True
    else:
        try:
            x = float(v)
        except OverflowError:  # an int beyond float range is beyond any valid range
            return None, "out_of_range", True
    if not math.isfinite(x):
        return None, "not_a_number", True
    if not spec.lo <= x <= spec.hi:
        return None, "out_of_range", True
    return x, code, False


def _epoch(v: float) -> datetime | None:
    secs = v / 1000 if v > _EPOCH_RANGE[1] else v  # epoch milliseconds
    if not _EPOCH_RANGE[0] <= secs <= _EPOCH_RANGE[1]:
        return None
    return datetime.fromtimestamp(secs, tz=timezone.utc)


def parse_timestamp(v: Any) -> tuple[datetime | None, str | None]:
    """(the instant in UTC, issue code or None): canonical ISO UTC is the only form without an issue."""
    if isinstance(v, bool):
        return None, "unparseable"
    if isinstance(v, (int, float)):
        try:
            ts = _epoch(float(v)) if math.isfinite(v) else None
        except OverflowError:  # an int beyond float range is no instant
            ts = None
        return (ts, "timestamp_format") if ts else (None, "unparseable")
    if not isinstance(v, str):
        return None, "unparseable"
    s = _SPACES.sub(" ", v.strip())
    if _CANONICAL_TS.match(s):
        try:
            return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc), None
        except ValueError:
            return None, "unparseable"
    if re.fullmatch(r"\d+(\.\d+)?", s):
        ts = _epoch(float(s))
        return (ts, "timestamp_format") if ts else (None, "unparseable")
    try:  # other ISO spellings, "+10:00" offsets included
        ts = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
        return (ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)), \
            "timestamp_format"
    except ValueError:
        pass
    zone = _ZONE.search(s.lower())
    if zone and zone.group(1) in ZONES:
        tz = timezone(timedelta(hours=ZONES[zone.group(1)]))
        body = s[: zone.start()].strip()
        for fmt in _LOCAL_FORMATS:
            try:
                return datetime.strptime(body, fmt).replace(tzinfo=tz).astimezone(timezone.utc), "timestamp_format"
            except ValueError:
                continue
        return None, "unparseable"
    for fmt in _UTC_FORMATS:
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=timezone.utc), "timestamp_format"
        except ValueError:
            continue
    return None, "unparseable"


def _category(c: Cleaned, name: str, v: Any) -> None:
    if isinstance(v, bool) and name == "workday":
        v = "yes" if v else "no"
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        c.values[name] = None
        c.missing.append(name)
        c.flag(name, "wrong_type")
        return
    norm = _SPACES.sub("_", str(v).strip().lower())
    if name == "workday":
        if norm not in WORKDAY_CODES:
            c.values[name] = None  # says nothing we can trust: as good as missing
            c.missing.append(name)
            c.flag(name, "unknown_code")
            return
        norm = WORKDAY_CODES[norm]
    c.values[name] = norm  # an unknown site is kept: the model answers it as "fallback"
    if norm != v:
        c.flag(name, "normalized")


def clean_record(raw: Any, index: int = 0) -> Cleaned:
    if not isinstance(raw, dict):
        c = Cleaned(id=str(index))
        c.flag("record", "not_an_object", invalid=True)
        return c
    rid = raw.get(ID)
    c = Cleaned(id=rid if isinstance(rid, str) else ("" if rid is None else str(rid)))
    if not isinstance(rid, str) or not rid:
        c.flag(ID, "missing" if rid is None else "wrong_type")
    c.unknown = [str(k) for k in raw if k != ID and k not in KNOWN_FIELDS]
    for k in c.unknown:
        c.flag(k, "unknown_field")
    for name in KNOWN_FIELDS:
        v = raw.get(name)
        if _blank(v):
            c.values[name] = None
            c.missing.append(name)
            c.flag(name, "missing")
        elif name in NUMERIC_FIELDS:
            x, code, bad = parse_number(name, v)
            c.values[name] = x
            if code:
                c.flag(name, code, invalid=bad)
        elif name in CATEGORICAL_FIELDS:
            _category(c, name, v)
        elif name == TIME:
            ts, code = parse_timestamp(v)
            c.values[name] = ts
            if ts is None:
                c.missing.append(name)  # forecast without the time of day, and say so
            if code:
                c.flag(name, code)
    if not c.invalid and all(c.values.get(n) is None for n in LAGS):
        for n in LAGS:  # nothing to forecast from
            c.flag(n, "no_lag", invalid=True)
    return c


def known_site(site: str | None) -> bool:
    return site is None or site in SITES
