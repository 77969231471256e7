"""report.json v1 as a pydantic model, and building it from check results.

Keys and types of v1 (DESIGN.md) are fixed; more fields are allowed and added here
(runtime, seed, timings_s, generated_by, interview_kit; per check: title, weight, failures, metrics;
accuracy.metric for an error metric such as MAE).
"""
from __future__ import annotations

import logging
from importlib import metadata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from grader.checks.base import CheckContext, CheckResult
from grader.report.debrief import collect_debrief
from grader.report.kit import InterviewKit, build_kit
from grader.scoring import NULL_SERVICE, contributions, dimension_scores, total_score
from grader.target import Target, target_for

log = logging.getLogger(__name__)

REPORT_VERSION = 1
Status = Literal["graded", "build_failed", "start_failed", "crashed", "timed_out"]


class Earned(BaseModel):
    check: str
    points: float  # of the dimension's 100


class GateEntry(BaseModel):
    check: str
    factor: float = Field(ge=0, le=1)


class DimensionScore(BaseModel):
    score: float = Field(ge=0, le=100)
    weight: float = Field(ge=0, le=1)
    # extra (v1 allows more fields): why the score is not free
    baseline: float = 0.0  # what a service that does nothing in this dimension scores
    null_service: str = ""  # which trivial strategies score that baseline
    earned: list[Earned] = Field(default_factory=list)  # the points above the baseline, by check
    gates: list[GateEntry] = Field(default_factory=list)  # contract duties multiplying the dimension


class CheckEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    dimension: str
    score: float = Field(ge=0, le=1)
    passed: bool
    evidence: str
    title: str = ""
    weight: float = 1.0
    role: Literal["measure", "gate"] = "measure"
    not_measured: str | None = None
    failures: list[str] = Field(default_factory=list)
    metrics: dict[str, float | None] = Field(default_factory=dict)


class AccuracySummary(BaseModel):
    """The exercise's declared metric in and out of distribution: accuracy (0-1), or an error such as MAE.

    `metric` (extra, v1 allows it) names it; it is written only when it is not accuracy, so
    classification reports keep exactly the v1 keys.
    """

    in_distribution: float | None = Field(default=None, ge=0)
    under_shift: float | None = Field(default=None, ge=0)
    metric: str | None = None  # None: accuracy

    @model_validator(mode="after")
    def _accuracy_is_a_share(self) -> "AccuracySummary":
        if self.metric in (None, "accuracy"):
            for name in ("in_distribution", "under_shift"):
                v = getattr(self, name)
                if v is not None and v > 1:
                    raise ValueError(f"accuracy.{name} is an accuracy and must be at most 1, not {v}")
        return self

    @model_serializer(mode="wrap")
    def _v1_keys(self, handler: SerializerFunctionWrapHandler) -> dict:
        data = handler(self)
        if data.get("metric") is None:
            data.pop("metric", None)
        return data

    @property
    def metric_name(self) -> str:
        """How a person reads the figures: "accuracy", "MAE"."""
        return "accuracy" if self.metric in (None, "accuracy") else self.metric.upper()


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")
    report_version: Literal[1] = REPORT_VERSION
    exercise: str
    submission: str
    status: Status
    reasons: list[str] = Field(default_factory=list)
    score: float = Field(ge=0, le=100)
    dimensions: dict[str, DimensionScore]
    checks: list[CheckEntry]
    accuracy: AccuracySummary
    debrief: list[str] = Field(default_factory=list)
    # extra, documented fields
    runtime: str | None = None
    seed: int | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)
    generated_by: str = ""
    # questions for the interviewer from this run's evidence (grader.report.kit); None: none built
    interview_kit: InterviewKit | None = None


def _version() -> str:
    try:
        return f"shiftwork {metadata.version('shiftwork')}"
    except metadata.PackageNotFoundError:
        return "shiftwork"


def _metric(results: list[CheckResult], check_id: str, target: Target) -> float | None:
    r = next((x for x in results if x.id == check_id), None)
    return target.report_value(r.metrics.get(target.metric) if r else None)


def _accuracy(results: list[CheckResult], target: Target) -> AccuracySummary:
    return AccuracySummary(in_distribution=_metric(results, "in_distribution_accuracy", target),
                           under_shift=_metric(results, "shift_accuracy", target),
                           metric=None if target.metric == "accuracy" else target.metric)


def _dimension(results: list[CheckResult], dim: str, score: float, weight: float, target: Target) -> DimensionScore:
    earned, gates = contributions(results, dim)
    return DimensionScore(score=round(score, 1), weight=weight,
                          null_service=target.null_service(dim, NULL_SERVICE.get(dim, "")),
                          earned=[Earned(check=c, points=round(p, 1)) for c, p in earned],
                          gates=[GateEntry(check=c, factor=round(f, 3)) for c, f in gates])


def build_report(ctx: CheckContext, results: list[CheckResult]) -> Report:
    t = ctx.transcript
    target = target_for(ctx.exercise)
    dims = dimension_scores(results, ctx.exercise)
    return Report(
        exercise=t.exercise or ctx.exercise.id,
        submission=t.submission,
        status=t.status,
        reasons=list(t.reasons),
        score=total_score(dims),
        dimensions={d: _dimension(results, d, s, w, target) for d, (s, w) in dims.items()},
        checks=[CheckEntry(id=r.id, dimension=r.dimension, score=round(r.score, 4), passed=r.passed,
                           evidence=r.evidence, title=r.title, weight=r.weight, role=r.role,
                           not_measured=r.not_measured,
                           failures=r.failures, metrics=r.metrics) for r in results],
        accuracy=_accuracy(results, target),
        debrief=collect_debrief(results, ctx.exercise, t.status, t.reasons),
        runtime=t.runtime,
        seed=ctx.seed,
        timings_s=dict(t.timings_s),
        generated_by=_version(),
        interview_kit=build_kit(ctx, results),
    )
