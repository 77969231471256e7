"""Run an exercise's checks and roll them up: check -> dimension (0-100) -> total (0-100).

A dimension's score is the weighted mean of its *measures* (weights from exercise.toml
[[checks]]) x 100, multiplied by the factor of each of its *gates* (floor + (1 - floor) x
score): a gate is a contract duty — no 5xx, a 4xx for a malformed body — that every
service owes, so it can take points away but never earns any by itself. The total is the
sum of dimension weight x dimension score. A check that could not be measured scores 0
and still counts. A check that raises is a grader bug: it propagates. docs/scoring.md
states every formula.
"""
from __future__ import annotations

import logging

from grader.checks import CheckContext, CheckResult, resolve
from grader.exercise import DIMENSIONS, Exercise

log = logging.getLogger(__name__)


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Every check named in the exercise, in its order, each carrying its exercise weight."""
    specs = ctx.exercise.checks
    checks = resolve([s.id for s in specs])
    results = []
    for spec, check in zip(specs, checks):
        res = check.run(ctx)
        if res.id != spec.id:
            raise RuntimeError(f"check {spec.id} returned a result for {res.id}")
        res.weight = spec.weight if res.role == "measure" else 0.0  # a gate multiplies; its weight is moot
        if not res.title:
            res.title = check.title
        log.debug("check %s: %.3f%s", res.id, res.score, f" (not measured: {res.not_measured})" if res.not_measured else "")
        results.append(res)
    return results


def dimension_scores(results: list[CheckResult], exercise: Exercise) -> dict[str, tuple[float, float]]:
    """{dimension: (score 0-100, weight)} for every dimension of the exercise, in canonical order."""
    out: dict[str, tuple[float, float]] = {}
    for dim in DIMENSIONS:
        mine = [r for r in results if r.dimension == dim and r.role == "measure"]
        total_w = sum(r.weight for r in mine)
        score = 100.0 * sum(r.weight * r.score for r in mine) / total_w if total_w else 0.0
        out[dim] = (score * gate_factor(results, dim), exercise.weights[dim])  # type: ignore[index]
    return out


def gate_factor(results: list[CheckResult], dimension: str) -> float:
    """The product of a dimension's gate factors (1 when it has none)."""
    factor = 1.0
    for r in results:
        if r.dimension == dimension and r.role == "gate":
            floor = r.gate_floor or 0.0
            factor *= floor + (1.0 - floor) * r.score
    return factor


def total_score(dimensions: dict[str, tuple[float, float]]) -> float:
    return round(sum(score * weight for score, weight in dimensions.values()), 1)


def score(results: list[CheckResult], exercise: Exercise) -> tuple[float, dict[str, tuple[float, float]]]:
    dims = dimension_scores(results, exercise)
    return total_score(dims), dims


# What a service gets in each dimension when it does nothing there: the 0 every point is measured from.
NULL_SERVICE: dict[str, str] = {
    "validation": ("0 for a service that answers every record the same way — all 'ok' (accept-all), all "
                   "'invalid', all 'fallback' or all 'coerced' — however well it avoids crashing: answering "
                   "without a 5xx and a 4xx for malformed bodies are gates that can only take points away."),
    "monitoring": ("0 for an alarm that does not look at the traffic: never on, always on, on a timer; naming "
                   "every field earns no attribution."),
    "degradation": ("0 for never or always falling back, a performance alarm that is never or always on, and a "
                    "constant prediction (accuracy under shift is measured from the best constant answer)."),
    "operations": ("0 beyond start-up for a service that hangs or fails its calls: latency counts errors as "
                   "infinitely slow, memory and restart credit are scaled by the share of calls answered."),
    "accuracy": "0 for a constant prediction: accuracy is measured from the best constant answer on the same records.",
}


def contributions(results: list[CheckResult], dimension: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """([(check, points of the dimension's 100 it earned)], [(gate, factor it applied)])."""
    measures = [r for r in results if r.dimension == dimension and r.role == "measure"]
    total_w = sum(r.weight for r in measures)
    factor = gate_factor(results, dimension)
    earned = [(r.id, 100.0 * r.weight * r.score / total_w * factor if total_w else 0.0) for r in measures]
    gates = [(r.id, (r.gate_floor or 0.0) + (1.0 - (r.gate_floor or 0.0)) * r.score)
             for r in results if r.dimension == dimension and r.role == "gate"]
    return earned, gates
