"""The wire schema: which raw fields exist, their kinds and valid ranges (data/data_dictionary.md).

Category *values* are learned from the training data (beyond the documented codes below), so
a value never seen in training is "unfamiliar" (served as fallback) rather than silently
encoded as nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

LABEL = "outcome"
ID = "id"
CLASSES = ("no_default", "default")
PROTECTED = "sex"  # never a model feature; watched per group on /monitoring

TIMESTAMP_FIELDS: tuple[str, ...] = ("applied_at",)
CATEGORICAL_FIELDS: tuple[str, ...] = ("sex", "education", "marital_status", "employment_type")
DATE_FIELDS: tuple[str, ...] = ("date_of_birth",)
AGE_RANGE = (18, 100)  # valid age on the record's date, in years

# UCI's numeric codes: documented ones are read as their names (coerced), undocumented ones
# (education 0/5/6, marriage 0) say nothing we can trust: the field is treated as missing.
DOCUMENTED_CODES: dict[str, dict[str, str]] = {
    "education": {"1": "graduate_school", "2": "university", "3": "high_school", "4": "other"},
    "marital_status": {"1": "married", "2": "single", "3": "other"},
}
UNDOCUMENTED_CODES: dict[str, frozenset[str]] = {
    "education": frozenset({"0", "5", "6"}),
    "marital_status": frozenset({"0"}),
}


@dataclass(frozen=True)
class NumericSpec:
    lo: float
    hi: float
    integer: bool = True
    amount: bool = True  # may arrive as "NT$ 52,000", "52.000,00", "52000 TWD"
    periodic: bool = False  # an annual amount that may arrive per month ("4,300/month")


NUMERIC_FIELDS: dict[str, NumericSpec] = {
    "credit_limit": NumericSpec(1_000, 5_000_000),
    "annual_income": NumericSpec(0, 50_000_000, periodic=True),
    "repayment_status": NumericSpec(-2, 9, amount=False),
    "repayment_status_prev": NumericSpec(-2, 9, amount=False),
    "bill_amount": NumericSpec(-1_000_000, 5_000_000),
    "paid_amount": NumericSpec(0, 5_000_000),
}

# Every raw input field the service knows, in wire order. Anything else is "unknown".
KNOWN_FIELDS: tuple[str, ...] = (*TIMESTAMP_FIELDS, *CATEGORICAL_FIELDS, *DATE_FIELDS, *NUMERIC_FIELDS)
# What the monitor compares with training: numbers (the date of birth as an age) and categories.
MONITORED_NUMERIC: tuple[str, ...] = (*NUMERIC_FIELDS, "date_of_birth")
