"""Degradation checks: performance alarm with label delay, fallback for the unfamiliar, accuracy under shift."""
from __future__ import annotations

import pytest

import _builders as b


run = b.run_check


@pytest.fixture(scope="module")
def good():
    return b.standard()


def perf_ctx(monitor):
    tr, scored = b.traffic("p", [b.PhaseSpec("before", 1500, performance="silent"),
                                 b.PhaseSpec("after", 2500, shifts=["concept_drift"], performance="detect")])
    return b.context([tr], [b.simulate(tr, scored, monitor=monitor)], scored, window=500, label_delay=3)


def test_performance_alarm_passes(good):
    r = run("performance_alarm", good)
    assert r.score == 1.0 and r.passed and "300 records late" in r.evidence


def test_performance_alarm_allows_for_the_label_delay():
    # 800 records after the onset = 300 (3 batches of labels late) + one window: still full credit
    assert run("performance_alarm", perf_ctx(b.oracle_monitor(perf_delay=800))).score == 1.0
    mid = run("performance_alarm", perf_ctx(b.oracle_monitor(perf_delay=1300))).score
    assert 0.3 < mid < 0.7
    assert run("performance_alarm", perf_ctx(b.oracle_monitor(perf_delay=1900))).score == 0.0


def test_performance_alarm_gaming():
    a = run("performance_alarm", perf_ctx(b.always_on))
    assert a.score == 0.0 and a.debrief
    n = run("performance_alarm", perf_ctx(b.never_on))
    assert n.score == 0.0 and any("concept drift" in q for q in n.debrief)


def test_performance_alarm_counterweight_multiplies():
    # correct onset, but degraded in 4 of the 15 reads of the stable phase (a fresh service: no grace)
    def mon(seen, ph, scored):
        if ph.name == "before":
            return b.view(perf=seen in (100, 200, 900, 1000))
        return b.view(perf=seen - ph.start >= 500)
    r = run("performance_alarm", perf_ctx(mon))
    assert r.score == pytest.approx(1 - 4 / 15)


def test_performance_silent_phase_after_a_drop_gets_label_grace():
    tr, scored = b.traffic("p", [b.PhaseSpec("drop", 1000, shifts=["concept_drift"], performance="detect"),
                                 b.PhaseSpec("recovered", 2000, performance="silent")])
    def mon(seen, ph, scored):  # stays degraded until the window + late labels have moved on
        return b.view(perf=200 <= seen <= 1800)
    ctx = b.context([tr], [b.simulate(tr, scored, monitor=mon)], scored, window=500, label_delay=3)
    assert run("performance_alarm", ctx).score == 1.0


def test_unfamiliar_fallback(good):
    assert run("unfamiliar_fallback", good).score == 1.0


def test_unfamiliar_fallback_confidently_wrong_fails():
    r = run("unfamiliar_fallback", b.standard(answer=b.serve_all_ok))
    assert r.score == 0.0 and r.failures and "hover-board" in r.debrief[0]


def test_unfamiliar_fallback_everything_fallback_scores_low():
    r = run("unfamiliar_fallback", b.standard(answer=b.fallback_all))
    assert r.metrics["recall"] == 1.0 and r.score == 0.0
    assert any("familiar records were answered as fallback" in q for q in r.debrief)


def test_shift_accuracy(good):
    r = run("shift_accuracy", good)
    assert r.score == 1.0 and r.metrics["accuracy"] == 1.0


def test_shift_accuracy_at_the_majority_baseline_scores_zero():
    r = run("shift_accuracy", b.standard(answer=b.majority_answer))
    assert r.score == 0.0 and r.failures and r.debrief
    assert r.metrics["accuracy"] == pytest.approx(r.metrics["majority"], abs=0.01)


def test_shift_accuracy_uses_per_record_baselines_and_unserved_records_are_wrong():
    tr, scored = b.traffic("s", [b.PhaseSpec("shifted", 1000, shifts=["covariate"])])
    half = lambda rec, t: b.oracle_answer(rec, t) if t.index % 2 else b.reject_all(rec, t)  # noqa: E731
    ctx = b.context([tr], [b.simulate(tr, scored, answer=half)], scored)
    ids = [t.id for t in tr.all_truths()]
    labels = {t.id: t.label for t in tr.all_truths()}
    ctx.baseline_predictions = {"majority": {i: "nothing" for i in ids},  # 0.0
                                "plain_model": {i: labels[i] for i in ids[:800]} | {i: "x" for i in ids[800:]}}
    r = run("shift_accuracy", ctx)
    assert r.metrics["accuracy"] == pytest.approx(0.5)
    assert r.metrics["majority"] == 0.0 and r.metrics["plain_model"] == pytest.approx(0.8)
    # 0 is the best constant answer on these records, not the (worse) majority model
    best = r.metrics["best_constant"]
    assert best is not None and best > 0 and r.metrics["null"] == best
    assert r.score == pytest.approx((0.5 - best) / (0.8 - best))


def test_shift_accuracy_without_baselines_is_not_measured_but_reports_accuracy():
    tr, scored = b.traffic("s", [b.PhaseSpec("shifted", 200, shifts=["covariate"])])
    r = run("shift_accuracy", b.context([tr], [b.simulate(tr, scored)], scored))
    assert r.not_measured and r.metrics["accuracy"] == 1.0
