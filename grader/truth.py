"""Ground truth the grader keeps and never sends to a candidate."""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

RecordKind = Literal["clean", "recoverable", "invalid", "unfamiliar"]
Expectation = Literal["detect", "silent", "unscored"]


class Injection(BaseModel):
    """One mess or shift applied to one field of one record."""

    field: str
    code: str  # e.g. "numeric_string", "category_variant", "missing", "out_of_range", "new_category"


class RecordTruth(BaseModel):
    id: str
    scenario: str
    phase: str
    index: int = Field(description="Position of the record in its scenario's traffic, from 0")
    kind: RecordKind
    # a class name (classification) or the true value (regression)
    label: str | float | None = Field(description="True label now (after any concept drift)")
    original_label: str | float | None = Field(default=None, description="Label before concept drift")
    injections: list[Injection] = Field(default_factory=list)
    duplicate_of: str | None = None

    @field_validator("label", "original_label")
    @classmethod
    def _nan_is_unknown(cls, v: str | float | None) -> str | float | None:
        # a data frame's missing actual arrives as NaN: no label, never a number no answer can match
        return None if isinstance(v, float) and not math.isfinite(v) else v


class PhaseExpect(BaseModel):
    """What a sound service should do in this phase (before calibration narrows it)."""

    drift: Expectation = "unscored"
    quality: Expectation = "unscored"
    performance: Expectation = "unscored"
    # per-group performance over the exercise's slice fields: "detect" = some group degrades
    # (calibration finds which), "silent" = no group does
    slices: Expectation = "unscored"


class PhaseTruth(BaseModel):
    scenario: str
    name: str
    kind: Literal["traffic", "load", "restart"] = "traffic"
    start: int = Field(description="Index of the phase's first record in the scenario")
    end: int = Field(description="Index one past its last record")
    onset_time: str | None = Field(default=None, description="ISO timestamp of the first shifted record")
    shifts: list[str] = Field(default_factory=list, description="Shift kinds active in this phase")
    drift_fields: list[str] = Field(default_factory=list, description="Raw fields whose distribution moved")
    quality_fields: list[str] = Field(default_factory=list, description="Raw fields with a quality event")
    expect: PhaseExpect = Field(default_factory=PhaseExpect)
    drawn_moved: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Spans [first, last] of /monitoring read positions (records sent) in this stable phase where "
                    "this seed's draw itself looks shifted to the calibrated reference detector (a chance draw, "
                    "not an injected shift): a drift alarm there is not a false alarm")


class PhaseTraffic(BaseModel):
    truth: PhaseTruth
    records: list[dict[str, Any]] = Field(description="Wire records exactly as sent (messy JSON objects)")
    truths: list[RecordTruth]


class ScenarioTraffic(BaseModel):
    scenario: str
    seed: int
    phases: list[PhaseTraffic]

    def all_truths(self) -> list[RecordTruth]:
        return [t for p in self.phases for t in p.truths]
