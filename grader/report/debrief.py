"""Debrief questions for the interviewer, drawn from what the service got wrong.

Each check writes its own questions (specific: the record, the value, what came back);
here they are ordered by the points the failure cost, de-duplicated and capped.
"""
from __future__ import annotations

import logging

from grader.checks.base import CheckResult
from grader.exercise import Exercise

log = logging.getLogger(__name__)

MAX_QUESTIONS = 12

STATUS_QUESTIONS = {
    "build_failed": "The submission did not build ({reason}). Ask how they checked that it builds from a clean checkout.",
    "start_failed": "The service never became ready ({reason}). Ask how they run it locally and what it needs at start-up.",
    "crashed": "The service crashed during grading ({reason}). Ask which input or load could bring it down.",
    "timed_out": "Grading ran out of time ({reason}). Ask where the service spends its time per request.",
}


def lost_points(r: CheckResult, exercise: Exercise, results: list[CheckResult]) -> float:
    """Points of the 0-100 total this check's shortfall cost."""
    dim_w = exercise.weights.get(r.dimension, 0.0)  # type: ignore[call-overload]
    measures = [x for x in results if x.dimension == r.dimension and x.role == "measure"]
    total_w = sum(x.weight for x in measures) or 1.0
    if r.role == "gate":  # a gate takes its share of whatever the measures earned
        earned = 100.0 * sum(x.weight * x.score for x in measures) / total_w
        return dim_w * earned * (1.0 - (r.gate_floor or 0.0)) * (1.0 - r.score)
    return 100.0 * dim_w * r.weight / total_w * (1.0 - r.score)


def collect_debrief(results: list[CheckResult], exercise: Exercise, status: str = "graded",
                    reasons: list[str] | None = None) -> list[str]:
    out: list[str] = []
    if status in STATUS_QUESTIONS:
        reason = (reasons or ["no reason recorded"])[0]
        out.append(STATUS_QUESTIONS[status].format(reason=reason))
    if status in ("build_failed", "start_failed"):
        return out  # nothing ran: every other question would only restate this one
    failed = [r for r in results if not r.passed and r.not_measured is None]
    for r in sorted(failed, key=lambda x: -lost_points(x, exercise, results)):
        for q in r.debrief:
            if q not in out:
                out.append(q)
    return out[:MAX_QUESTIONS]
