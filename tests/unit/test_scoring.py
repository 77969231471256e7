"""Scoring: exercise order and weights, dimension and total arithmetic, and that gaming scores badly."""
from __future__ import annotations

import pytest

import _builders as b
from grader.checks.base import REGISTRY, CheckResult
from grader.scoring import dimension_scores, run_checks, score, total_score
from grader.transcript import LoadRun, RestartRun


@pytest.fixture(scope="module")
def oracle():
    ctx = b.standard()
    return ctx, run_checks(ctx)


def test_run_checks_follows_exercise_order_and_weights(oracle):
    ctx, results = oracle
    assert [r.id for r in results] == [c.id for c in ctx.exercise.checks]
    weights = {c.id: c.weight for c in ctx.exercise.checks}
    assert all(r.weight == weights[r.id] for r in results if r.role == "measure")
    gates = {r.id for r in results if r.role == "gate"}
    assert gates == {"no_server_errors", "malformed_rejected"} and all(r.weight == 0 for r in results
                                                                        if r.role == "gate")
    assert all(r.title for r in results)


def test_a_sound_service_scores_100(oracle):
    ctx, results = oracle
    total, dims = score(results, ctx.exercise)
    assert total == 100.0 and all(s == 100.0 for s, _ in dims.values())


def test_dimension_and_total_arithmetic():
    ex = b.exercise()
    res = [CheckResult(id="a", dimension="validation", score=1.0, passed=True, evidence="", weight=2),
           CheckResult(id="b", dimension="validation", score=0.25, passed=False, evidence="", weight=1),
           CheckResult(id="c", dimension="accuracy", score=0.5, passed=False, evidence="")]
    dims = dimension_scores(res, ex)
    assert dims["validation"] == (pytest.approx(75.0), 0.30)
    assert dims["accuracy"] == (50.0, 0.10)
    assert dims["monitoring"] == (0.0, 0.30)  # no checks: nothing earned
    assert total_score(dims) == round(0.3 * 75 + 0.1 * 50, 1)


def test_a_gate_multiplies_its_dimension():
    ex = b.exercise()
    res = [CheckResult(id="a", dimension="validation", score=0.8, passed=True, evidence="", weight=1),
           CheckResult(id="g", dimension="validation", score=0.5, passed=False, evidence="", role="gate",
                       gate_floor=0.0),
           CheckResult(id="h", dimension="validation", score=0.0, passed=False, evidence="", role="gate",
                       gate_floor=0.75)]
    assert dimension_scores(res, ex)["validation"][0] == pytest.approx(80.0 * 0.5 * 0.75)
    only_gates = [r for r in res if r.role == "gate"]
    assert dimension_scores(only_gates, ex)["validation"][0] == 0.0


def test_a_raising_check_propagates(monkeypatch):
    def boom(self, ctx):
        raise ZeroDivisionError("grader bug")

    monkeypatch.setattr(REGISTRY["memory_limit"], "run", boom)
    with pytest.raises(ZeroDivisionError):
        run_checks(b.standard())


def test_a_service_that_never_started_scores_zero():
    base = b.standard()
    ctx = b.context(list(base.traffic.values()), [], base.scored, baseline=(0.2, 0.7),
                    status="start_failed", reasons=["/health never answered"])
    total, dims = score(run_checks(ctx), ctx.exercise)
    assert total == 0.0


TRIVIAL = {
    # strategy: (how the service answers, the dimension it games, checks it must get (near) nothing on)
    "accept-all": (dict(answer=b.serve_all_ok), "validation", ("invalid_flagged", "valid_served",
                                                               "recoverable_coerced")),
    "reject-all": (dict(answer=b.reject_all), "validation", ("invalid_flagged", "valid_served")),
    "all-fallback": (dict(answer=b.fallback_all), "validation", ("invalid_flagged", "valid_served",
                                                                 "recoverable_coerced", "unfamiliar_fallback")),
    "all-coerced": (dict(answer=b.coerce_all), "validation", ("invalid_flagged", "valid_served",
                                                              "recoverable_coerced")),
    "never-alarm": (dict(monitor=b.never_on), "monitoring", ("drift_alarm_delay", "drift_false_alarms",
                                                             "quality_alarms", "performance_alarm")),
    "no-monitoring": (dict(monitor=b.no_monitoring), "monitoring", ("drift_false_alarms", "performance_alarm")),
    "always-alarm": (dict(monitor=b.always_on), "monitoring", ("drift_alarm_delay", "drift_false_alarms",
                                                               "drift_attribution", "quality_alarms",
                                                               "performance_alarm")),
    # alarms on a timer: tests/unit/test_checks_monitoring.py, on phases long enough to tell luck from skill
    "perf-always": (dict(monitor=b.perf_only(True)), None, ("performance_alarm",)),
    "perf-never": (dict(monitor=b.perf_only(False)), None, ("performance_alarm",)),
}


@pytest.mark.parametrize("name", list(TRIVIAL))
def test_every_trivial_strategy_gets_nothing_where_it_games(name):
    kw, dimension, gamed = TRIVIAL[name]
    ctx = b.standard(**kw)
    results = {r.id: r for r in run_checks(ctx)}
    for cid in gamed:
        assert results[cid].score <= 0.1, (name, cid, results[cid].score, results[cid].evidence)
    if dimension is not None:
        assert dimension_scores(list(results.values()), ctx.exercise)[dimension][0] <= 10.0, name


def test_the_do_nothing_service_earns_only_what_running_fast_and_small_earns():
    ctx = b.standard(answer=b.constant_ok, monitor=b.never_on)
    ctx.transcript = ctx.transcript.model_copy(update=dict(
        startup_s=1.0, peak_memory_mb=50.0, load=LoadRun(concurrency=8, batch_size=100, latencies_ms=[5.0] * 40),
        restart=RestartRun(attempted=True, ready_s=1.0, served_after=True)))
    total, dims = score(run_checks(ctx), ctx.exercise)
    assert {d: s for d, (s, _) in dims.items() if d != "operations"} == {
        "validation": 0.0, "monitoring": 0.0, "degradation": 0.0, "accuracy": 0.0}
    assert dims["operations"][0] == 100.0 and total == pytest.approx(100 * ctx.exercise.weights["operations"])


def test_a_demo_grade_service_scores_far_below_a_sound_one(oracle):
    # no validation (everything 'ok'), no /monitoring: what an accuracy-only demo does
    ctx = b.standard(answer=b.serve_all_ok, monitor=b.no_monitoring)
    total, dims = score(run_checks(ctx), ctx.exercise)
    assert dims["monitoring"][0] == 0.0
    assert total < 60.0


def test_checks_declare_what_they_need_and_unmet_needs_are_named():
    from grader.checks import NEEDS, REGISTRY, provided, unmet

    ctx = b.standard()
    assert all(cls.needs <= NEEDS for cls in REGISTRY.values())
    have = provided(ctx.scored, ctx.traffic, list(ctx.scenarios.values()))
    assert {"drift_onset", "quality_onset", "performance_onset", "invalid", "unfamiliar"} <= have
    missing = unmet(["drift_alarm_delay", "latency_p95", "slice_alarm"], have)
    assert set(missing) == {"latency_p95", "slice_alarm"} and missing["latency_p95"] == {"load"}


def test_a_held_back_set_that_cannot_measure_a_weighted_check_fails_before_any_container(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    import harness.planning as planning
    from grader.errors import ConfigError
    from grader.exercise import load_exercise
    from harness.planning import plan_grading

    # the checkout's (cached) calibration of the real exercise: no need to simulate the copy again
    real = planning.scored_phases(load_exercise("support-triage"))
    monkeypatch.setattr(planning, "scored_phases", lambda ex: real)
    src = Path(__file__).resolve().parents[2] / "exercises" / "support-triage"
    shutil.copytree(src, tmp_path / "exercises" / "support-triage", ignore=shutil.ignore_patterns("solutions", "starter"))
    toml = tmp_path / "exercises" / "support-triage" / "exercise.toml"
    toml.write_text(toml.read_text().replace('  "operations.toml",\n', ""))  # no load phase left
    ex = load_exercise("support-triage", root=tmp_path)
    with pytest.raises(ConfigError, match=r"cannot measure latency_p95 \(needs load\)"):
        plan_grading(ex, 7)
