"""What a table's columns are, read from the table as it is (pandas), before any exercise is written.

Each column gets a kind (number, category, date/time, free text, identifier) and a role (a
feature, the target, a group watched on its own, the time, the record id, or left out with a
one-line reason). The author sees the result and can override a kind in the written recipe.
"""
from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

ColumnKind = Literal["number", "category", "datetime", "text", "identifier"]
Role = Literal["feature", "target", "group", "time", "id", "left_out"]
TargetKind = Literal["classification", "regression"]

# A string column with at most this many distinct values (or this share of its rows) is a category.
MAX_CATEGORIES = 40
# A numeric target with more distinct values than this is a regression target.
MAX_CLASSES = 20
# Values that parse as numbers / dates in at least this share of a column's non-missing cells.
PARSES = 0.95
_ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|no|num|number|code)$|^id[_\W]", re.IGNORECASE)


class Column(BaseModel):
    name: str
    kind: ColumnKind
    role: Role = "feature"
    missing_share: float = Field(ge=0, le=1)
    distinct: int
    left_out: str = Field(default="", description="Why the column is left out, in one line")
    signal: float = Field(default=0.0, description="Share of the gap from chance to perfect it closes alone")


class TableSchema(BaseModel):
    rows: int
    target: str
    target_kind: TargetKind
    classes: list[str] = Field(default_factory=list, description="The target's values (classification)")
    columns: list[Column]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def features(self) -> list[Column]:
        return [c for c in self.columns if c.role in ("feature", "group")]


def numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _parses_as_dates(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    sample = values.dropna().astype(str).head(500)
    if sample.empty or sample.str.fullmatch(r"[-+]?\d+(\.\d+)?").mean() > 0.5:
        return False  # plain numbers (years, counts) are numbers, not dates
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() >= PARSES)


def column_kind(name: str, values: pd.Series) -> ColumnKind:
    present = values.dropna()
    if present.empty:
        return "category"
    distinct = present.nunique()
    unique = distinct >= 0.95 * len(present) and len(present) > MAX_CATEGORIES
    if pd.api.types.is_bool_dtype(values):
        return "category"
    as_numbers = numbers(present)
    if as_numbers.notna().mean() >= PARSES:
        whole = as_numbers.dropna()
        if unique and bool(np.all(np.mod(whole, 1) == 0)) and (_ID_NAME.search(name) or _counts_rows(whole)):
            return "identifier"
        return "number"
    if _parses_as_dates(present):
        return "datetime"
    text = present.astype(str)
    if distinct <= MAX_CATEGORIES or distinct <= 0.01 * len(present):
        return "category"
    # codes without spaces in many distinct values ("2:3:1", "A-10293"): keys, not words
    if distinct > 0.05 * len(present) and text.str.fullmatch(r"\S+").mean() >= PARSES:
        return "identifier"
    return "text"


def _counts_rows(values: pd.Series) -> bool:
    """A row number (1, 2, 3, ... in some order): R's `rownames`, a spreadsheet's index column."""
    ordered = np.sort(values.to_numpy(dtype=float))
    return bool(len(ordered) > 1 and np.all(np.diff(ordered) == 1))


def target_kind(values: pd.Series) -> TargetKind:
    present = values.dropna()
    if numbers(present).notna().mean() >= PARSES and present.nunique() > MAX_CLASSES:
        return "regression"
    return "classification"


def class_name(value: object) -> str:
    """A class as a lowercase token: "Yes" -> "yes", 1.0 -> "1" (classes are wire values)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    token = re.sub(r"[^0-9a-z]+", "_", str(value).strip().lower()).strip("_")
    return token or "blank"
