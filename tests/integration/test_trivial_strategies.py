"""Nothing is free: every trivial strategy scores (almost) nothing in the dimension it games.

Each mode of tests/fixtures/services/trivial is the cheapest way to game one part of the
grade (accept everything, reject everything, fall back or "coerce" everything, never /
always / on-a-timer alarms, name every field, an always-on performance alarm, hang).
Graded for real with the FULL held-back support-triage plan at seed 7, each service once
per session (tests/integration/conftest.py `gradings`); the score table is logged and
printed at the end of the session. The thresholds are the product's promises (DESIGN.md,
"Nothing is free"; issue 8): do not loosen them to make a fixture pass.
"""
from __future__ import annotations

import logging
from typing import Any

import pytest

from _gradings import Gradings, format_table, known_fields, score_row

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

MODES = ("do_nothing", "reject_all", "all_fallback", "all_coerced", "never_alarm", "always_alarm",
         "timer_alarm", "name_every_field", "perf_always", "hang")
# mode -> the dimensions it games; each must score <= GAMED_MAX there
GAMES: dict[str, tuple[str, ...]] = {
    "do_nothing": ("validation", "degradation"),  # accept-all, never fall back, never alarm
    "reject_all": ("validation",),
    "all_fallback": ("validation", "degradation"),
    "all_coerced": ("validation",),
    "never_alarm": ("monitoring",),
    "always_alarm": ("monitoring",),
    "timer_alarm": ("monitoring",),
    "name_every_field": ("monitoring",),
    "perf_always": ("degradation",),
}
GAMED_MAX = 10.0
DO_NOTHING_MAX_TOTAL = 15.0
# operations: startup_time, latency_p95, memory_limit, restart_recovery at equal weight; a
# service that never answers /predict keeps at most start-up's share
HANG_OPERATIONS_MAX = 100.0 / 4


def constant_label(plan: Any) -> str:
    """The majority queue of the naive baseline: the best a constant prediction can do."""
    from collections import Counter

    majority = plan.baseline_predictions.get("majority") or {}
    return Counter(majority.values()).most_common(1)[0][0] if majority else plan.classes[0]


def trivial_config(plan: Any, mode: str) -> dict[str, Any]:
    return {"mode": mode, "fields": known_fields(), "label": constant_label(plan)}


def graded_mode(gradings: Gradings, mode: str, runtime: str = "local") -> Any:
    return gradings.fixture("trivial", "trivial.json", trivial_config(gradings.plan, mode), runtime=runtime)


@pytest.fixture(scope="module")
def graded(gradings: Gradings) -> dict[str, Any]:
    out = {mode: graded_mode(gradings, mode) for mode in MODES}
    log.warning("trivial strategies (local runtime, full plan, seed 7):\n%s",
                format_table([score_row(f"trivial:{m}", r) for m, r in out.items()]))
    return out


def test_every_mode_is_graded(graded: dict[str, Any]) -> None:
    for mode, report in graded.items():
        expected = ("timed_out",) if mode == "hang" else ("graded",)
        assert report.status in expected, (mode, report.status, report.reasons)


@pytest.mark.parametrize("mode,dimension", [(m, d) for m, dims in GAMES.items() for d in dims])
def test_a_trivial_strategy_earns_nothing_where_it_games(graded: dict[str, Any], mode: str, dimension: str) -> None:
    report = graded[mode]
    score = report.dimensions[dimension].score
    checks = {c.id: round(c.score, 2) for c in report.checks if c.dimension == dimension}
    assert score <= GAMED_MAX, f"{mode} scores {score:.1f} in {dimension} (at most {GAMED_MAX}); checks {checks}"


def test_doing_nothing_totals_almost_nothing(graded: dict[str, Any]) -> None:
    report = graded["do_nothing"]
    dims = {d: round(s.score, 1) for d, s in report.dimensions.items()}
    assert report.score <= DO_NOTHING_MAX_TOTAL, (report.score, dims)


def test_hanging_keeps_no_operations_credit_beyond_startup(graded: dict[str, Any]) -> None:
    report = graded["hang"]
    ops = report.dimensions["operations"].score
    checks = {c.id: round(c.score, 2) for c in report.checks if c.dimension == "operations"}
    assert ops <= HANG_OPERATIONS_MAX + 1e-6, (ops, checks)


@pytest.mark.docker
def test_doing_nothing_in_docker_earns_nothing(gradings: Gradings) -> None:
    """The same promise for the do-nothing service built and run in the hardened container runtime."""
    report = graded_mode(gradings, "do_nothing", runtime="docker")
    assert report.status == "graded" and report.runtime == "docker", report.reasons
    for dimension in GAMES["do_nothing"]:
        assert report.dimensions[dimension].score <= GAMED_MAX, (dimension, report.dimensions[dimension].score)
    assert report.score <= DO_NOTHING_MAX_TOTAL, report.score
