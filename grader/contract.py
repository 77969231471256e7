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
    records: list[Record] = Field(min_length=1, max_length=MAX_BATCH)


class Issue(BaseModel):
    field: str = Field(description="Raw input field the issue is about")
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
    labels: list[Label] = Field(min_length=1)


class FeedbackResponse(BaseModel):
    accepted: int = Field(ge=0)


class DriftView(BaseModel):
    model_config = ConfigDict(extra="allow")
    detected: bool
    features: list[str] = Field(default_factory=list, description="Raw input fields that drifted")


class PerformanceView(BaseModel):
    model_config = ConfigDict(extra="allow")
    degraded: bool
    metric: str
    value: float | None = None


class MonitoringResponse(BaseModel):
    """The service's current view over a recent window. More fields are allowed."""

    model_config = ConfigDict(extra="allow")
    drift: DriftView
    data_quality: DriftView
    performance: PerformanceView


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok"]
