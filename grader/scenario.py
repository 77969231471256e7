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


class TargetScale(_Shift):
    """P(y|x) changes for a numeric target (prices rise, a policy pays out more): the target of a
    `share` of the records, in one group only when `where` names it, is multiplied by `factor`;
    the inputs do not show it."""

    kind: Literal["target_scale"]
    factor: float = Field(gt=0)
    share: float = Field(default=1.0, gt=0, le=1)
    where: dict[str, str] = Field(default_factory=dict, description="Only records with these categorical values")


class RenameField(_Shift):
    """Schema change: upstream renames a field."""

    kind: Literal["rename_field"]
    field: str
    to: str


class StuckValue(_Shift):
    """A sensor sticks: a numeric field repeats one value (the first affected reading's) while
    what it measures goes on moving."""

    kind: Literal["stuck_value"]
    field: str
    where: dict[str, str] = Field(default_factory=dict, description="Only records with these categorical values")


class SensorOffset(_Shift):
    """A sensor reads off by a constant (a bad recalibration): the field moves, the world does not."""

    kind: Literal["sensor_offset"]
    field: str
    offset: float
    where: dict[str, str] = Field(default_factory=dict, description="Only records with these categorical values")


class ClockShift(_Shift):
    """A clock jumps (a daylight-saving rule applied twice, a gateway in another zone): every
    timestamp is `minutes` off the interval its readings describe."""

    kind: Literal["clock_shift"]
    minutes: int = Field(description="Wire timestamp minus the real interval's start")


class ProfileChange(_Shift):
    """Concept change for a numeric target (a new tariff moves demand): within the local hours
    [start, end) the target is multiplied by `factor`; the inputs do not show it."""

    kind: Literal["profile_change"]
    factor: float = Field(gt=0)
    hours: tuple[int, int] = Field(description="Local hours [start, end) the change applies to")


class ExtremeDays(_Shift):
    """Traffic from days kept out of training because they are extreme (a heat wave): `field`
    goes beyond anything in training, and the target does not follow the familiar pattern."""

    kind: Literal["extreme_days"]
    field: str = Field(description="The field whose values leave the training range")
    share: float = Field(default=1.0, gt=0, le=1, description="Share of records drawn from extreme days")


Shift = Annotated[
    Union[Covariate, NewCategory, UnitChange, MissingBurst, LabelPrior, ConceptDrift, TargetScale, RenameField,
          StuckValue, SensorOffset, ClockShift, ProfileChange, ExtremeDays],
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
