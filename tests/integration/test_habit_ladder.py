"""Adding a working habit always raises the grade (DESIGN.md, "Nothing is free"; issue 8).

tests/fixtures/services/habits is the reference solution with its habits switched on one
at a time: none (robust-demo behaviour) -> validation -> fallback -> a noisy drift monitor
(uncorrected per-field tests) -> the calibrated drift monitor -> data-quality alarms ->
the performance alarm from feedback (the full reference). Each rung is graded once per
session for real (local runtime, FULL held-back plan, seed 7); the total must rise by more
than a point at every rung, and noisy monitoring must score above none and below calibrated.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from _gradings import Gradings, format_table, score_row

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

RUNGS = ("none", "validation", "fallback", "noisy_drift", "calibrated_drift", "quality", "performance")
MIN_STEP = 1.0  # points of total each habit must add, at least (strictly more)


def graded_rung(gradings: Gradings, reference: Path, rung: str) -> Any:
    return gradings.fixture("habits", "habits.json", {"rung": rung, "reference": str(reference)})


@pytest.fixture(scope="module")
def ladder(gradings: Gradings, trained_reference: Path) -> dict[str, Any]:
    out = {rung: graded_rung(gradings, trained_reference, rung) for rung in RUNGS}
    log.warning("habit ladder (local runtime, full plan, seed 7):\n%s",
                format_table([score_row(f"habits:{k}:{r}", rep) for k, (r, rep) in enumerate(out.items())]))
    return out


def _dims(report: Any) -> dict[str, float]:
    return {d: round(s.score, 1) for d, s in report.dimensions.items()}


def test_every_rung_is_graded(ladder: dict[str, Any]) -> None:
    for rung, report in ladder.items():
        assert report.status == "graded", (rung, report.reasons)


@pytest.mark.parametrize("step", range(1, len(RUNGS)), ids=[f"{a}->{b}" for a, b in zip(RUNGS, RUNGS[1:])])
def test_each_habit_raises_the_total(ladder: dict[str, Any], step: int) -> None:
    below, above = ladder[RUNGS[step - 1]], ladder[RUNGS[step]]
    assert above.score > below.score + MIN_STEP, (
        f"{RUNGS[step - 1]} {below.score:.1f} {_dims(below)} -> {RUNGS[step]} {above.score:.1f} {_dims(above)}")


def test_noisy_monitoring_scores_above_none(ladder: dict[str, Any]) -> None:
    none, noisy = ladder["fallback"].dimensions["monitoring"].score, ladder["noisy_drift"].dimensions["monitoring"].score
    assert noisy > none, (none, noisy)
    assert ladder["none"].dimensions["monitoring"].score <= none  # nothing below the monitor rungs alarms


def test_calibrated_monitoring_scores_above_noisy(ladder: dict[str, Any]) -> None:
    noisy = ladder["noisy_drift"].dimensions["monitoring"].score
    calibrated = ladder["calibrated_drift"].dimensions["monitoring"].score
    assert calibrated > noisy, (noisy, calibrated)


def test_the_noisy_monitor_is_really_noisy(ladder: dict[str, Any]) -> None:
    """The fixture must be what it claims: it false-alarms on stable traffic and still detects shifts."""
    checks = {c.id: c for c in ladder["noisy_drift"].checks}
    calibrated = {c.id: c for c in ladder["calibrated_drift"].checks}
    assert checks["drift_false_alarms"].score < calibrated["drift_false_alarms"].score, (
        checks["drift_false_alarms"].evidence)
    assert checks["drift_alarm_delay"].score > 0, checks["drift_alarm_delay"].evidence
