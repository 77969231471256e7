"""The wire schema: which raw fields exist, their kinds and valid ranges.

Category *values* are not listed here on purpose: the vocabulary is learned from the
training data, so a value never seen in training is "unfamiliar" (served as fallback)
rather than silently one-hot encoded as nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

LABEL = "queue"
ID = "id"
TEXT_FIELDS: tuple[str, ...] = ("subject", "body")
CATEGORICAL_FIELDS: tuple[str, ...] = ("channel", "customer_tier", "product", "language")
TIMESTAMP_FIELDS: tuple[str, ...] = ("created_at",)


@dataclass(frozen=True)
class NumericSpec:
    lo: float
    hi: float
    integer: bool = False


NUMERIC_FIELDS: dict[str, NumericSpec] = {
    "account_age_days": NumericSpec(0, 20_000),
    "prior_tickets": NumericSpec(0, 1_000, integer=True),
    "order_value": NumericSpec(0, 50_000),
}

# Every raw input field the service knows, in wire order. Anything else is "unknown".
KNOWN_FIELDS: tuple[str, ...] = (
    *TIMESTAMP_FIELDS, *CATEGORICAL_FIELDS, *TEXT_FIELDS, *NUMERIC_FIELDS,
)
