"""The grading checks cannot be gamed: each gamed service loses the check it games, and its total.

Graded for real: the reference solution wrapped by tests/fixtures/services/gaming (a plain
ASGI wrapper rewriting one endpoint's answers per mode), run by the local runtime on
127.0.0.1, replayed with three held-back scenarios and scored by the real checks. The
`honest` mode is the same wrapper passing everything through: the control.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from grader.baseline import Baselines
from grader.checks.base import Scored, resolve
from grader.grade import GradePlan, grade_one
from harness.calibration import scored_phases
from harness.data.engine import generate_scenario, load_recipe
from harness.exercise import load_exercise
from harness.runtime.local import LocalRuntime
from harness.solutions import materialize_solution

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "services" / "gaming"
SEED = 7
# A drift onset (product-launch, also the unfamiliar records), a performance drop from
# concept drift (policy-change) and a data-quality onset (outage); each has a stable phase.
SCENARIOS = ("product-launch", "policy-change", "outage")
MODES = ("honest", "always_alarm", "never_alarm", "reject_all", "all_fallback")


def small_plan() -> GradePlan:
    ex = load_exercise("support-triage")
    recipe = load_recipe(ex.dataset)
    scenarios = [s for s in ex.held_back_scenarios() if s.name in SCENARIOS]
    assert [s.name for s in scenarios] and {s.name for s in scenarios} == set(SCENARIOS)
    traffic = {s.name: generate_scenario(recipe, s, SEED) for s in scenarios}
    full = scored_phases(ex)
    keep = set(SCENARIOS)
    scored = Scored(**{a: {k: v for k, v in getattr(full, a).items() if k[0] in keep}
                       for a in ("drift", "quality", "performance")})
    predictions = Baselines.for_exercise(ex.dataset, ex.label, SEED).predictions(traffic)
    return GradePlan(exercise=ex, seed=SEED, scenarios=scenarios, traffic=traffic, scored=scored,
                     classes=list(recipe.classes), checks=resolve([c.id for c in ex.checks]),
                     baseline_predictions=predictions)


def trained_reference(dest: Path) -> Path:
    """The reference solution with data/train.csv and its model trained once, shared by every mode."""
    folder = materialize_solution("support-triage", "reference", dest, seed=SEED)
    done = subprocess.run([sys.executable, "train.py"], cwd=folder, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (folder / "model" / "model.joblib").is_file()
    return folder


def gaming_submission(dest: Path, mode: str, reference: Path) -> Path:
    shutil.copytree(FIXTURE, dest, ignore=shutil.ignore_patterns("__pycache__", "gaming.json"))
    (dest / "gaming.json").write_text(json.dumps({"mode": mode, "reference": str(reference)}))
    return dest


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("gaming")
    began = time.monotonic()
    reference = trained_reference(tmp / "reference")
    plan = small_plan()
    budgets = plan.exercise.budgets.model_copy(update={"grading_timeout_s": 240})
    out: dict[str, dict] = {}
    for mode in MODES:
        sub = gaming_submission(tmp / "subs" / mode, mode, reference)
        t0 = time.monotonic()
        report, folder = grade_one(sub, out=tmp / "reports" / mode, plan=plan, budgets=budgets,
                                   runtime_obj=LocalRuntime(plan.exercise), console=Console(stderr=True, quiet=True))
        checks = {c.id: c for c in report.checks}
        out[mode] = {"report": report, "checks": checks, "took": time.monotonic() - t0}
        log.warning("gaming %s: total %.1f in %.1fs; %s", mode, report.score, out[mode]["took"],
                    ", ".join(f"{k} {c.score:.2f}" for k, c in checks.items()))
    log.warning("gaming: all modes graded in %.1fs", time.monotonic() - began)
    return out


def check(graded: dict, mode: str, check_id: str):
    return graded[mode]["checks"][check_id]


def test_every_mode_is_graded_and_the_control_passes(graded: dict) -> None:
    for mode in MODES:
        report = graded[mode]["report"]
        assert report.status == "graded", (mode, report.reasons)
    honest = graded["honest"]["checks"]
    for cid in ("drift_false_alarms", "drift_alarm_delay", "quality_alarms", "performance_alarm",
                "valid_served", "unfamiliar_fallback"):
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
    # Silence is what never_alarm is good at; it must not be what decides the total.
    assert check(graded, "never_alarm", "drift_false_alarms").score == 1


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


@pytest.mark.parametrize("mode", [m for m in MODES if m != "honest"])
def test_every_gamed_total_is_far_below_the_control(graded: dict, mode: str) -> None:
    honest, gamed = graded["honest"]["report"].score, graded[mode]["report"].score
    assert gamed <= honest - 15, (mode, gamed, honest)
