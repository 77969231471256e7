"""Columns that look like personal data: left out of an exercise, whatever they would add.

A take-home ships its training data to strangers: names, e-mail addresses, phone numbers and
identifiers that single out a person must never be in it. Two signs, either enough: the
column's name says so, or most of its values look so. Dates of birth and the like are kept
(they are features a brief can discuss), as are groups the author names with --group.
"""
from __future__ import annotations

import re

import pandas as pd

# the share of a column's (non-missing, sampled) values that must look personal
LOOKS = 0.5
MANY = 100
_SAMPLE = 1000

_NAMES = re.compile(
    r"^(?:(?:first|last|full|given|middle|family|sur|maiden|nick|user|customer|client|applicant|"
    r"patient|employee|candidate|contact|person|owner|holder)[_ ]?)?(?:name|names|surname)$"
    r"|^(?:e[_-]?mail|mail|email_address|phone|phone_number|telephone|tel|mobile|cell|fax|ssn|"
    r"social_security(?:_number)?|passport(?:_no|_number)?|national_id|tax_id|street|address|"
    r"street_address|home_address|postcode|zip|zip_code|ip|ip_address|iban|account_number|"
    r"card_number|licen[cs]e_number)$", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[\d\s().-]{7,20}")
_PERSON = re.compile(r"(?:[A-Z][a-z'’-]+\.? ){1,2}[A-Z][a-z'’-]+")


def _sample(values: pd.Series) -> pd.Series:
    return values.dropna().astype(str).str.strip().head(_SAMPLE)


def _share(values: pd.Series, pattern: re.Pattern[str]) -> float:
    text = _sample(values)
    return float(text.str.fullmatch(pattern).mean()) if len(text) else 0.0


def _phone_like(values: pd.Series) -> float:
    text = _sample(values)
    if text.empty:
        return 0.0
    shaped = text.str.fullmatch(_PHONE)
    digits = text.str.count(r"\d")
    # separators or a leading + tell a phone number from a plain amount
    marked = text.str.contains(r"[\s().+-]", regex=True)
    return float((shaped & digits.between(7, 15) & marked).mean())


def personal_reason(name: str, values: pd.Series) -> str:
    """Why the column looks like personal data ("" when it does not)."""
    if _NAMES.search(name.strip()):
        return f"personal data (the column is named {name!r})"
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        if _share(values, _EMAIL) >= LOOKS:
            return "personal data (e-mail addresses)"
        if _phone_like(values) >= LOOKS:
            return "personal data (phone numbers)"
        present = values.dropna()
        # many distinct "First Last" values: people (a city or a product line repeats a few dozen names)
        if present.nunique() > max(MANY, 0.05 * len(present)) and _share(values, _PERSON) >= LOOKS:
            return "personal data (people's names)"
    return ""
