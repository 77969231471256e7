"""Self-check settings (selfcheck/exercise.json) and the ways `shiftwork check` refuses to run."""
from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from grader.exercise import DIMENSIONS, load_exercise
from grader.scenario import Scenario
from grader.truth import PhaseTraffic, PhaseTruth, RecordTruth, ScenarioTraffic
from harness import selfcheck
from harness.baseline import BaselineSpec

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
        expectations=expectations, baseline=BaselineSpec(inputs="text", target="classification", text=["subject", "body"]))


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


def test_results_print_the_total_and_every_reason_whole_at_a_narrow_width() -> None:
    from grader.report.model import CheckEntry

    long_reason = ("Sent 1155 familiar clean records that your service answered with status 'fallback' while the "
                   "plain baseline got 1108 of them right [bold]: a fallback says the model is unsure, so the "
                   "records it falls back on should be the ones it gets wrong more often than those it serves; "
                   "here the error rate on fallback records was 4.1 % against 3.9 % on served records, which is "
                   "no better than falling back at random (credit_limit, paid_amount, age_years).")
    assert len(long_reason) > 300
    results = [
        CheckEntry(id="unfamiliar_fallback", dimension="degradation", score=0.31, passed=False, evidence=long_reason),
        CheckEntry(id="in_distribution_accuracy", dimension="accuracy", score=1.0, passed=True,
                   evidence="Accuracy 0.91 on 800 in-distribution records against 0.74 for the plain baseline."),
        CheckEntry(id="performance_alarm", dimension="degradation", score=0.0, passed=False,
                   evidence="not measured: no phase", not_measured="the public scenario has no performance phase"),
    ]
    outcome = selfcheck.SelfCheckOutcome(status="graded", results=results, score=83.7,
                                         dimensions={"validation": 90.0, "degradation": 62.0, "accuracy": 100.0})
    console = Console(width=80, record=True, file=io.StringIO())
    selfcheck.print_results(None, outcome, console)  # type: ignore[arg-type]  # the bundle is not read
    out = console.export_text()
    lines = out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines) and "…" not in out
    # wrapped, not cut: the whole reason is there, in order, with only line breaks and indents added
    assert "".join(long_reason.split()) in "".join(out.split())
    assert "[bold]" in out  # the candidate's words are printed as they are, never read as markup
    # each check's row starts with its id, dimension, score and result
    rows = {line.split()[0]: line.split()[1:4] for line in lines if line and not line.startswith(" ")}
    assert rows["unfamiliar_fallback"] == ["degr", "0.31", "fail"]
    assert rows["in_distribution_accuracy"] == ["accu", "1.00", "pass"]
    assert rows["performance_alarm"] == ["degr", "0.00", "n/a"]
    assert "Accuracy 0.91 on 800 in-distribution records" in " ".join(out.split())
    assert "the public scenario has no performance phase" in " ".join(out.split())
    assert "total 83.7/100" in out and "(validation 90 degradation 62 accuracy 100)" in " ".join(out.split())
    assert "1 of 2 measured checks passed." in out
