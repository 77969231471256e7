"""Scenario files: held-back (or public) traffic as an ordered list of phases.

A scenario is data (TOML under exercises/<id>/scenarios/). It is validated here when it
loads, so a typo fails before any container starts.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grader.truth import PhaseExpect
from grader.errors import ConfigError


class _Shift(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Covariate(_Shift):
    """Move a field's distribution: new category weights, or a numeric scale/offset."""

    kind: Literal["covariate"]
    field: str
    weights: dict[str, float] | None = None  # categorical: new mix
    scale: float = 1.0  # numeric: multiply the generating distribution's location
    offset: float = 0.0  # numeric: add, in the field's unit


class NewCategory(_Shift):
    """A category never seen in training appears (e.g. a product launch), with its own vocabulary."""

    kind: Literal["new_category"]
    field: str
    value: str
    share: float = Field(gt=0, le=1)


class UnitChange(_Shift):
    """Upstream starts sending a field in another unit (value * factor)."""

    kind: Literal["unit_change"]
    field: str
    factor: float


class MissingBurst(_Shift):
    """An upstream outage: fields go missing at a high rate."""

    kind: Literal["missing_burst"]
    fields: list[str]
    rate: float = Field(gt=0, le=1)


class LabelPrior(_Shift):
    kind: Literal["label_prior"]
    prior: dict[str, float]


class ConceptDrift(_Shift):
    """P(y|x) changes: a policy re-routes one kind of record to another label."""

    kind: Literal["concept_drift"]
    from_label: str
    to_label: str
    share: float = Field(default=1.0, gt=0, le=1)
    # only records whose categorical field has this value (e.g. {sex = "male"}): a drift that hits one group
    where: dict[str, str] = Field(default_factory=dict)


class RenameField(_Shift):
    """Schema change: upstream renames a field."""

    kind: Literal["rename_field"]
    field: str
    to: str


Shift = Annotated[
    Union[Covariate, NewCategory, UnitChange, MissingBurst, LabelPrior, ConceptDrift, RenameField],
    Field(discriminator="kind"),
]


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["traffic", "load", "restart"] = "traffic"
    records: int = Field(default=0, ge=0)
    mess: float = Field(default=1.0, ge=0, description="Multiplier on the recipe's mess rates")
    shifts: list[Shift] = Field(default_factory=list)
    expect: PhaseExpect = Field(default_factory=PhaseExpect)
    # load phases only
    concurrency: int = Field(default=8, ge=1)
    requests: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Phase":
        if self.kind == "traffic" and self.records <= 0:
            raise ValueError(f"traffic phase {self.name!r} needs records > 0")
        if self.kind == "load" and self.requests <= 0:
            raise ValueError(f"load phase {self.name!r} needs requests > 0")
        return self


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    public: bool = False
    seed_offset: int = 0
    batch_size: int = Field(default=100, ge=1, le=1000)
    label_delay: int = Field(default=3, ge=0, description="Labels for batch i are sent after batch i+label_delay")
    window: int = Field(default=500, ge=10, description="Records per monitoring window calibration assumes")
    phases: list[Phase] = Field(min_length=1)


def load_scenario(path: Path) -> Scenario:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"scenario file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
