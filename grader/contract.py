"""Contract v1: what every candidate service implements.

These models are the single source of `contract/openapi.json` shipped to candidates
(see grader/openapi.py). The grader parses answers with them too, so what we promise
and what we check cannot disagree.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_VERSION = 1
MAX_BATCH = 1000

Status = Literal["ok", "coerced", "invalid", "fallback"]


class Record(BaseModel):
    """One input record: an `id` plus the exercise's raw fields, as messy as they come."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="Unique id, echoed back in the result")


class PredictRequest(BaseModel):
    # Described as leniently as the contract treats it: a record that is not an object, or
    # has no id, never spoils the batch — it is answered `invalid` in its place (with its
    # position as the id when it has none), so the schema accepts any item.
    records: list[Record | Any] = Field(
        min_length=1, max_length=MAX_BATCH,
        description=("1 to 1000 records, answered one result each in the same order. A record that cannot be "
                     "read (not an object, no id, wrong types) is answered status 'invalid', never a 4xx or "
                     "5xx for the batch; a record without an id gets its position (\"0\", \"1\", ...) as id."))


class Issue(BaseModel):
    field: str = Field(description="Raw input field the issue is about, or \"record\" for an issue about the "
                                   "whole record (e.g. low confidence, a record that is not an object)")
    code: str = Field(description="Short machine-readable code, e.g. 'missing', 'out_of_range'")


class Result(BaseModel):
    id: str
    status: Status
    prediction: Any | None = Field(default=None, description="null when status is 'invalid'")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    issues: list[Issue] = Field(default_factory=list)


class PredictResponse(BaseModel):
    results: list[Result]


class Label(BaseModel):
    id: str
    label: Any


class FeedbackRequest(BaseModel):
    # As lenient as /predict: an unreadable label entry is skipped (not counted in
    # `accepted`), never a failure of the call; an empty list is accepted with 0.
    labels: list[Label | Any] = Field(description="True labels for earlier records; unreadable entries are "
                                                  "skipped and not counted in `accepted`")


class FeedbackResponse(BaseModel):
    accepted: int = Field(ge=0)


class DriftView(BaseModel):
    model_config = ConfigDict(extra="allow")
    detected: bool
    features: list[str] = Field(default_factory=list, description="Raw input fields that drifted")


class SliceView(BaseModel):
    """Performance of one group of records (e.g. one value of a protected attribute), from feedback."""

    model_config = ConfigDict(extra="allow")
    field: str = Field(description="Raw input field that defines the group, e.g. 'sex'")
    value: str = Field(description="The group: that field's value, e.g. 'female'")
    metric: str = Field(description="What is measured, e.g. 'accuracy' or 'recall'")
    metric_value: float | None = Field(default=None, description="The metric over the group's recent labelled "
                                                                 "records; null when too few")
    degraded: bool = Field(description="True when this group's performance has dropped")


class PerformanceView(BaseModel):
    model_config = ConfigDict(extra="allow")
    degraded: bool
    metric: str
    value: float | None = None
    # optional and additive (v1 allows more fields): exercises with a protected attribute
    slices: list[SliceView] | None = Field(default=None, description="Optional: per-group performance, one "
                                                                      "entry per (field, value) watched")


class MonitoringResponse(BaseModel):
    """The service's current view over a recent window. More fields are allowed."""

    model_config = ConfigDict(extra="allow")
    drift: DriftView
    data_quality: DriftView
    performance: PerformanceView


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok"]
