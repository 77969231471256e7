"""Self-check settings (selfcheck/exercise.json) and the ways `shiftwork check` refuses to run."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness import selfcheck
from harness.baseline import BaselineSpec
from grader.truth import PhaseTraffic, PhaseTruth, RecordTruth, ScenarioTraffic
from grader.exercise import DIMENSIONS, load_exercise
from grader.scenario import Scenario

SCENARIO = Scenario.model_validate({
    "name": "self-check", "public": True, "phases": [
        {"name": "stable", "records": 200, "expect": {"drift": "silent", "quality": "silent"}},
        {"name": "shift", "records": 200, "shifts": [{"kind": "covariate", "field": "channel",
                                                      "weights": {"chat": 0.9, "email": 0.1}}],
         "expect": {"drift": "detect"}},
    ]})


def _traffic(kinds: list[str]) -> ScenarioTraffic:
    truths = [RecordTruth(id=f"r{i}", scenario="self-check", phase="stable", index=i, kind=k, label="billing")
              for i, k in enumerate(kinds)]
    truth = PhaseTruth(scenario="self-check", name="stable", start=0, end=len(kinds))
    return ScenarioTraffic(scenario="self-check", seed=1, phases=[
        PhaseTraffic(truth=truth, records=[{"id": t.id} for t in truths], truths=truths)])


def _settings(expectations: list[selfcheck.PhaseExpectation], kinds=("clean",)) -> selfcheck.BundleSettings:
    ex = load_exercise("support-triage")
    checks = selfcheck.public_checks(ex, SCENARIO, _traffic(list(kinds)), expectations)
    return selfcheck.BundleSettings(
        exercise=ex.id, version=ex.version, title=ex.title, label=ex.label, classes=["billing", "technical"],
        weights=dict(ex.weights), budgets=ex.budgets, limits=ex.limits, checks=checks, scenario=SCENARIO,
        expectations=expectations, baseline=BaselineSpec(kind="text", text=["subject", "body"]))


def test_public_checks_follow_what_the_scenario_can_show() -> None:
    exp = [selfcheck.PhaseExpectation(phase="stable", drift="silent"),
           selfcheck.PhaseExpectation(phase="shift", drift="detect")]
    ids = [c.id for c in _settings(exp).checks]
    assert {"no_server_errors", "drift_alarm_delay", "drift_false_alarms", "drift_attribution", "shift_accuracy"} <= set(ids)
    # no load or restart phase, no unfamiliar records, nothing calibrated for quality or performance
    assert not {"latency_p95", "restart_recovery", "unfamiliar_fallback", "quality_alarms", "performance_alarm"} & set(ids)
    silent_only = [c.id for c in _settings([selfcheck.PhaseExpectation(phase="stable", drift="silent")],
                                           kinds=("clean", "unfamiliar")).checks]
    assert "drift_alarm_delay" not in silent_only and "unfamiliar_fallback" in silent_only


def test_settings_round_trip_and_hold_nothing_held_back(tmp_path: Path) -> None:
    exp = [selfcheck.PhaseExpectation(phase="stable", drift="silent", quality="silent"),
           selfcheck.PhaseExpectation(phase="shift", drift="detect")]
    s = _settings(exp)
    text = s.model_dump_json(indent=2)
    for held in load_exercise("support-triage").scenarios:  # held-back scenario file names say what is coming
        assert held not in text
        if held.removesuffix(".toml") not in DIMENSIONS:
            assert held.removesuffix(".toml") not in text
    back = selfcheck.BundleSettings.model_validate_json(text)
    scored = back.scored()
    assert scored.drift == {("self-check", "stable"): "silent", ("self-check", "shift"): "detect"}
    assert scored.quality == {("self-check", "stable"): "silent"} and scored.performance == {}
    ex = back.exercise_model(tmp_path)
    assert ex.id == "support-triage" and [c.id for c in ex.checks] == [c.id for c in s.checks]


def _run(path: Path) -> tuple[int, str]:
    buf = io.StringIO()
    code = selfcheck.check_command(path, runtime="local", console=Console(file=buf, width=200))
    return code, buf.getvalue()


def test_check_refuses_a_folder_without_exercise_json(tmp_path: Path) -> None:
    code, out = _run(tmp_path)
    assert code != 0 and "no .exercise.json" in out and len(out.strip().splitlines()) == 1


def test_check_refuses_missing_or_damaged_selfcheck_files(tmp_path: Path) -> None:
    (tmp_path / ".exercise.json").write_text(json.dumps({"exercise": "support-triage", "version": "1", "candidate": "c", "token": "t"}))
    code, out = _run(tmp_path)
    assert code != 0 and "selfcheck/exercise.json" in out
    (tmp_path / "selfcheck").mkdir()
    (tmp_path / selfcheck.SETTINGS_PATH).write_text("{}")
    (tmp_path / selfcheck.TRAFFIC_PATH).write_text("{}")
    code, out = _run(tmp_path)
    assert code != 0 and "damaged" in out and len(out.strip().splitlines()) == 1


def test_check_refuses_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    code, out = _run(tmp_path / "nope")
    assert code != 0 and "not a folder" in out
