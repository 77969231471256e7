"""The grading checks cannot be gamed: each gamed service loses the check it games, and its total.

Graded for real: the reference solution wrapped by tests/fixtures/services/gaming (a plain
ASGI wrapper rewriting one endpoint's answers per mode), run by the local runtime on
127.0.0.1, replayed with three held-back scenarios and scored by the real checks. The
`honest` mode is the same wrapper passing everything through: the control. The reference
is trained once per session (conftest.py `trained_reference`, shared with the habit ladder)
and every mode is graded once (conftest.py `gradings`; the score table is printed at the end).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from _gradings import Gradings, format_table, score_row
from grader.exercise import load_exercise
from grader.grade import GradePlan
from harness.grading import plan_grading

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

SEED = 7
# A drift onset (product-launch, also the unfamiliar records), a performance drop from
# concept drift (policy-change) and a data-quality onset (outage); each has a stable phase.
SCENARIOS = ("product-launch", "policy-change", "outage")
# The first modes game a whole habit and must cost the total dearly; the later ones game a
# single check each (GAMED) and must lose that check.
MODES = ("honest", "always_alarm", "never_alarm", "reject_all", "all_fallback",
         "accept_all", "all_coerced", "timer_alarm", "name_every_field", "perf_always", "perf_never")
WHOLE_HABIT_MODES = ("always_alarm", "never_alarm", "reject_all", "all_fallback")
GAMED: dict[str, tuple[str, ...]] = {
    "accept_all": ("invalid_flagged", "recoverable_coerced", "valid_served"),
    "all_coerced": ("recoverable_coerced",),
    "timer_alarm": ("drift_alarm_delay", "drift_false_alarms", "quality_alarms", "performance_alarm"),
    "name_every_field": ("drift_attribution",),
    "perf_always": ("performance_alarm",),
    "perf_never": ("performance_alarm",),
}
GAMED_MAX = 0.1


def small_plan() -> GradePlan:
    plan = plan_grading(load_exercise("support-triage"), SEED, only=SCENARIOS)
    assert {s.name for s in plan.scenarios} == set(SCENARIOS)
    return plan


@pytest.fixture(scope="module")
def graded(gradings: Gradings, trained_reference: Path) -> dict[str, dict]:
    began = time.monotonic()
    plan = small_plan()
    budgets = plan.exercise.budgets.model_copy(update={"grading_timeout_s": 240})
    out: dict[str, dict] = {}
    for mode in MODES:
        t0 = time.monotonic()
        report = gradings.fixture("gaming", "gaming.json", {"mode": mode, "reference": str(trained_reference)},
                                  plan=plan, budgets=budgets, tag="small-plan")
        checks = {c.id: c for c in report.checks}
        out[mode] = {"report": report, "checks": checks, "took": time.monotonic() - t0}
        log.warning("gaming %s: total %.1f in %.1fs; %s", mode, report.score, out[mode]["took"],
                    ", ".join(f"{k} {c.score:.2f}" for k, c in checks.items()))
    log.warning("gaming: all modes graded in %.1fs (small plan: %s)\n%s", time.monotonic() - began,
                ", ".join(SCENARIOS), format_table([score_row(f"gaming:{m}", v["report"]) for m, v in out.items()]))
    return out


def check(graded: dict, mode: str, check_id: str):
    return graded[mode]["checks"][check_id]


def test_every_mode_is_graded_and_the_control_passes(graded: dict) -> None:
    for mode in MODES:
        report = graded[mode]["report"]
        assert report.status == "graded", (mode, report.reasons)
    honest = graded["honest"]["checks"]
    gamed_checks = sorted({c for ids in GAMED.values() for c in ids})
    for cid in dict.fromkeys(("drift_false_alarms", "drift_alarm_delay", "quality_alarms", "performance_alarm",
                              "valid_served", "unfamiliar_fallback", *gamed_checks)):
        assert honest[cid].not_measured is None, (cid, honest[cid].not_measured)
        assert honest[cid].passed, (cid, honest[cid].score, honest[cid].evidence)
    assert honest["drift_false_alarms"].score >= 0.8


def test_always_on_alarms_lose_silence_and_earn_no_detection(graded: dict) -> None:
    assert check(graded, "always_alarm", "drift_false_alarms").score == 0
    assert not check(graded, "always_alarm", "quality_alarms").passed
    assert not check(graded, "always_alarm", "performance_alarm").passed
    # Naming every field does not buy attribution either.
    assert check(graded, "always_alarm", "drift_attribution").score < check(graded, "honest", "drift_attribution").score


def test_never_on_alarms_detect_nothing(graded: dict) -> None:
    assert check(graded, "never_alarm", "drift_alarm_delay").score == 0
    assert check(graded, "never_alarm", "performance_alarm").score == 0
    assert check(graded, "never_alarm", "quality_alarms").score == 0
    # Silence alone is not paid for (DESIGN.md, "Nothing is free"): false-alarm credit is
    # combined with detection, so the null detector earns none there either.
    assert check(graded, "never_alarm", "drift_false_alarms").score <= GAMED_MAX


def test_rejecting_everything_serves_nothing(graded: dict) -> None:
    assert check(graded, "reject_all", "valid_served").score == 0
    assert graded["reject_all"]["report"].score <= graded["honest"]["report"].score - 30


def test_fallback_for_everything_is_not_recall(graded: dict) -> None:
    gamed, honest = check(graded, "all_fallback", "unfamiliar_fallback"), check(graded, "honest", "unfamiliar_fallback")
    assert gamed.metrics["recall"] == 1.0  # it does catch every unfamiliar record...
    assert gamed.metrics["clean_fallback_rate"] > 0.9  # ...by sending familiar ones to review too
    assert gamed.score < 0.5 and honest.passed
    # Deferring familiar tickets to review beyond a small tolerance is not serving them.
    assert check(graded, "all_fallback", "valid_served").score < 0.5 and check(graded, "honest", "valid_served").passed


@pytest.mark.parametrize("mode", WHOLE_HABIT_MODES)
def test_every_gamed_total_is_far_below_the_control(graded: dict, mode: str) -> None:
    honest, gamed = graded["honest"]["report"].score, graded[mode]["report"].score
    assert gamed <= honest - 15, (mode, gamed, honest)


@pytest.mark.parametrize("mode,check_id", [(m, c) for m, ids in GAMED.items() for c in ids])
def test_a_gamed_check_earns_nothing(graded: dict, mode: str, check_id: str) -> None:
    gamed, honest = check(graded, mode, check_id), check(graded, "honest", check_id)
    assert gamed.not_measured is None, (mode, check_id, gamed.not_measured)
    assert gamed.score <= GAMED_MAX, (f"{mode}: {check_id} scores {gamed.score:.2f} (honest {honest.score:.2f}); "
                                      f"{gamed.evidence}")


@pytest.mark.parametrize("mode", list(GAMED))
def test_gaming_one_check_never_raises_the_total(graded: dict, mode: str) -> None:
    honest, gamed = graded["honest"]["report"].score, graded[mode]["report"].score
    assert gamed < honest, (mode, gamed, honest)
