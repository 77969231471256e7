"""Run an exercise's checks and roll them up: check -> dimension (0-100) -> total (0-100).

A dimension's score is the weighted mean of its checks' scores x 100 (weights from
exercise.toml [[checks]]); the total is the sum of dimension weight x dimension score.
A check that could not be measured scores 0 and still counts, so an unreachable part of
a broken submission costs what it is worth. A check that raises is a grader bug: it
propagates.
"""
from __future__ import annotations

import logging

from grader.checks.base import CheckContext, CheckResult, resolve
from harness.exercise import DIMENSIONS, Exercise

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
        res.weight = spec.weight
        if not res.title:
            res.title = check.title
        log.debug("check %s: %.3f%s", res.id, res.score, f" (not measured: {res.not_measured})" if res.not_measured else "")
        results.append(res)
    return results


def dimension_scores(results: list[CheckResult], exercise: Exercise) -> dict[str, tuple[float, float]]:
    """{dimension: (score 0-100, weight)} for every dimension of the exercise, in canonical order."""
    out: dict[str, tuple[float, float]] = {}
    for dim in DIMENSIONS:
        mine = [r for r in results if r.dimension == dim]
        total_w = sum(r.weight for r in mine)
        score = 100.0 * sum(r.weight * r.score for r in mine) / total_w if total_w else 0.0
        out[dim] = (score, exercise.weights[dim])  # type: ignore[index]
    return out


def total_score(dimensions: dict[str, tuple[float, float]]) -> float:
    return round(sum(score * weight for score, weight in dimensions.values()), 1)


def score(results: list[CheckResult], exercise: Exercise) -> tuple[float, dict[str, tuple[float, float]]]:
    dims = dimension_scores(results, exercise)
    return total_score(dims), dims
