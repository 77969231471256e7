"""Scoring: exercise order and weights, dimension and total arithmetic, and that gaming scores badly."""
from __future__ import annotations

import pytest

import _builders as b
from grader.checks.base import REGISTRY, CheckResult
from grader.scoring import dimension_scores, run_checks, score, total_score


@pytest.fixture(scope="module")
def oracle():
    ctx = b.standard()
    return ctx, run_checks(ctx)


def test_run_checks_follows_exercise_order_and_weights(oracle):
    ctx, results = oracle
    assert [r.id for r in results] == [c.id for c in ctx.exercise.checks]
    weights = {c.id: c.weight for c in ctx.exercise.checks}
    assert all(r.weight == weights[r.id] for r in results)
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


def test_a_raising_check_propagates(monkeypatch):
    from grader.checks import load_all

    load_all()

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


@pytest.mark.parametrize("kw", [dict(answer=b.reject_all), dict(monitor=b.always_on), dict(monitor=b.never_on),
                                dict(monitor=b.no_monitoring), dict(answer=b.fallback_all)],
                         ids=["reject-all", "always-alarm", "never-alarm", "no-monitoring", "fallback-all"])
def test_gaming_strategies_lose_heavily(kw):
    ctx = b.standard(**kw)
    total, dims = score(run_checks(ctx), ctx.exercise)
    assert total < 80.0
    assert min(s for s, _ in dims.values()) < 50.0


def test_a_demo_grade_service_scores_far_below_a_sound_one(oracle):
    # no validation (everything 'ok'), no /monitoring: what an accuracy-only demo does
    ctx = b.standard(answer=b.serve_all_ok, monitor=b.no_monitoring)
    total, dims = score(run_checks(ctx), ctx.exercise)
    assert dims["monitoring"][0] == 0.0
    assert total < 60.0
