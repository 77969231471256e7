"""load-forecast in docker: the product's promises on a regression exercise (issue 11).

The reference scores far above the accuracy-only and robust-demo solutions while its error is
no better than theirs by more than 5 %; a regrade lands within a point; each new kind of
shift (stuck value, sensor offset, clock shift) is caught by the reference and missed by a
service without monitoring; the trivial strategies get nothing in the dimension they game.
Each solution is graded once per session (tests/integration/conftest.py `gradings`).
"""
from __future__ import annotations

import logging
import re
from statistics import median
from typing import Any

import pytest

from _gradings import Gradings, format_table, score_row

log = logging.getLogger(__name__)

EXERCISE = "load-forecast"
DEMOS = ("accuracy-only", "robust-demo")
REFERENCE_MIN = 85.0
DEMO_MAX = 35.0
ERROR_SLACK = 1.05  # the demos' in-distribution MAE is within 5 % of the reference's
GAMED_MAX = 10.0


@pytest.fixture(scope="module")
def graded(gradings: Gradings) -> dict[str, Any]:
    out = {name: gradings.solution(name, runtime="docker", exercise=EXERCISE) for name in ("reference", *DEMOS)}
    log.warning("product gap, %s (docker runtime, full plan, seed 7):\n%s", EXERCISE,
                format_table([score_row(f"{EXERCISE}/{n} (docker)", r) for n, r in out.items()]))
    return out


def _check(report: Any, check_id: str) -> Any:
    return {c.id: c for c in report.checks}[check_id]


def _onset_credit(report: Any, check_id: str, scenario_phase: str) -> float:
    """The credit an alarm check gave one onset (its evidence lists every scored onset)."""
    evidence = _check(report, check_id).evidence
    found = re.search(re.escape(scenario_phase) + r" \(onset at record \d+[^)]*\): alarm [^;]*?credit ([0-9.]+)",
                      evidence)
    assert found, f"{scenario_phase} is not a scored onset of {check_id}: {evidence}"
    return float(found.group(1))


@pytest.mark.docker
@pytest.mark.slow
def test_reference_scores_far_above_the_demos(graded: dict[str, Any]) -> None:
    ref = graded["reference"]
    assert ref.status == "graded" and ref.runtime == "docker", ref.reasons
    assert ref.score >= REFERENCE_MIN, (ref.score, {d: s.score for d, s in ref.dimensions.items()})
    for demo in DEMOS:
        got = graded[demo]
        assert got.status == "graded", (demo, got.reasons)
        assert got.score <= DEMO_MAX, (demo, got.score, {d: s.score for d, s in got.dimensions.items()})


@pytest.mark.docker
@pytest.mark.slow
def test_the_accuracy_only_solution_is_as_accurate_and_the_metric_is_mae(graded: dict[str, Any]) -> None:
    ref = graded["reference"].accuracy
    got = graded["accuracy-only"].accuracy
    assert ref.in_distribution is not None and got.in_distribution is not None
    # an error: lower is better
    assert got.in_distribution <= ref.in_distribution * ERROR_SLACK, (ref.in_distribution, got.in_distribution)
    assert getattr(ref, "metric", None) == "mae"


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize(("check_id", "onset"), [
    ("drift_alarm_delay", "stuck-sensor/stuck"),
    ("drift_alarm_delay", "sensor-offset/offset"),
    ("performance_alarm", "clock-shift/shifted"),
])
def test_each_new_kind_of_shift_is_caught_by_monitoring_and_missed_without_it(
        graded: dict[str, Any], check_id: str, onset: str) -> None:
    assert _onset_credit(graded["reference"], check_id, onset) >= 0.5
    assert _onset_credit(graded["accuracy-only"], check_id, onset) == 0.0


# -- trivial strategies: the stdlib fixture service, with a constant number as its forecast -------------
GAMES = {
    "do_nothing": ("validation", "degradation"),
    "reject_all": ("validation",),
    "always_alarm": ("monitoring",),
    "perf_always": ("degradation",),
}


def _median_actual(plan: Any) -> float:
    """The best constant forecast in hindsight (the median actual of the held-back traffic)."""
    values = [t.label for sc in plan.traffic.values() for ph in sc.phases for t in ph.truths
              if isinstance(t.label, (int, float))]
    return round(float(median(values)), 1)


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(GAMES))
def test_trivial_strategies_get_nothing_in_what_they_game(gradings: Gradings, mode: str) -> None:
    plan = gradings.plan_for(EXERCISE)
    fields = [f for f in plan.fields]
    report = gradings.fixture("trivial", "trivial.json",
                              {"mode": mode, "fields": fields, "label": _median_actual(plan)},
                              plan=plan, tag=EXERCISE)
    assert report.status == "graded", report.reasons
    for dim in GAMES[mode]:
        assert report.dimensions[dim].score <= GAMED_MAX, (mode, dim, report.dimensions[dim].score)
