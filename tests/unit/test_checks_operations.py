"""Operations checks: start-up, latency p95 under load (errors count), memory, restart."""
from __future__ import annotations

import pytest

import _builders as b
from grader.checks.base import REGISTRY
from grader.transcript import LoadRun, RestartRun, percentile


def run(check_id: str, **transcript):
    return b.run_check(check_id, b.context([], [], b.Scored(), **transcript))


def test_startup_time():
    assert run("startup_time", startup_s=5.0).score == 1.0
    assert run("startup_time", startup_s=45.0).score == pytest.approx(0.5)
    slow = run("startup_time", startup_s=70.0)
    assert slow.score == 0.0 and slow.debrief
    nm = run("startup_time", status="start_failed")
    assert nm.not_measured and "start_failed" in nm.not_measured


def test_percentile_nearest_rank():
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([1.0, float("inf")], 95) == float("inf")


def test_latency_p95_within_budget():
    r = run("latency_p95", load=LoadRun(concurrency=8, batch_size=100, latencies_ms=[100.0] * 100))
    assert r.score == 1.0 and r.metrics["p95_ms"] == 100.0


def test_latency_p95_fades_to_zero_at_four_times_budget():
    r = run("latency_p95", load=LoadRun(concurrency=8, batch_size=100, latencies_ms=[1250.0] * 100))
    assert r.score == pytest.approx(0.5) and not r.passed and r.debrief
    assert run("latency_p95", load=LoadRun(concurrency=8, batch_size=100, latencies_ms=[2000.0] * 100)).score == 0.0


def test_latency_p95_errors_count_as_slow():
    fast_but_failing = LoadRun(concurrency=8, batch_size=100, latencies_ms=[10.0] * 90, errors=10,
                               error_examples=["HTTP 503"])
    r = run("latency_p95", load=fast_but_failing)
    assert r.score == 0.0 and r.metrics["p95_ms"] is None and r.failures == ["load error: HTTP 503"]


def test_latency_p95_says_when_the_load_was_measured_again():
    kept = LoadRun(concurrency=8, batch_size=100, latencies_ms=[60.0] * 40, attempts_p95_ms=[790.0, 60.0])
    r = run("latency_p95", load=kept)
    assert r.score == 1.0 and "measured 2 times (p95 790 ms, 60 ms)" in r.evidence
    assert "measured" not in run("latency_p95", load=SERVED).evidence.split("Budget")[1]


def test_latency_p95_not_measured_without_load():
    assert run("latency_p95").not_measured


SERVED = LoadRun(concurrency=8, batch_size=100, latencies_ms=[50.0] * 40)
HUNG = LoadRun(concurrency=8, batch_size=100, errors=40, error_examples=["timeout"])
HALF = LoadRun(concurrency=8, batch_size=100, latencies_ms=[50.0] * 20, errors=20)


def test_memory_limit():
    assert run("memory_limit", peak_memory_mb=300.0, load=SERVED).score == 1.0
    assert run("memory_limit", peak_memory_mb=1024.0, load=SERVED).score == pytest.approx(0.5)
    assert run("memory_limit", peak_memory_mb=1500.0, load=SERVED).score == 0.0
    oom = run("memory_limit", peak_memory_mb=200.0, oom_killed=True, load=SERVED)
    assert oom.score == 0.0 and "OOM" in oom.evidence and oom.debrief
    assert run("memory_limit").not_measured


def test_memory_credit_needs_served_calls():
    # staying small while answering nothing is not a habit
    assert run("memory_limit", peak_memory_mb=30.0, load=HUNG).score == 0.0
    assert run("memory_limit", peak_memory_mb=30.0, load=HALF).score == pytest.approx(0.5)


def test_restart_credit_needs_served_calls():
    back = RestartRun(attempted=True, ready_s=3.0, served_after=True)
    assert run("restart_recovery", restart=back, load=HUNG).score == 0.0
    assert run("restart_recovery", restart=back, load=HALF).score == pytest.approx(0.5)


def test_a_hanging_service_keeps_only_startup_credit():
    hung = {"startup_s": 2.0, "peak_memory_mb": 30.0, "load": HUNG,
            "restart": RestartRun(attempted=True, ready_s=2.0, served_after=False)}
    scores = {c: run(c, **hung).score for c in ("startup_time", "latency_p95", "memory_limit", "restart_recovery")}
    assert scores == {"startup_time": 1.0, "latency_p95": 0.0, "memory_limit": 0.0, "restart_recovery": 0.0}


def test_restart_recovery():
    up = {"load": SERVED}
    assert run("restart_recovery", restart=RestartRun(attempted=True, ready_s=3.0, served_after=True),
               **up).score == 1.0
    assert run("restart_recovery", restart=RestartRun(attempted=True, ready_s=90.0, served_after=True),
               **up).score == 0.5
    dead = run("restart_recovery", restart=RestartRun(attempted=True, ready_s=None, served_after=False,
                                                      error="never ready"), **up)
    assert dead.score == 0.0 and "never ready" in dead.evidence and dead.debrief
    assert run("restart_recovery").not_measured


def test_restart_recovery_falls_back_to_restarts_between_scenarios():
    tr, scored = b.traffic("s", [b.PhaseSpec("p", 200)])
    ctx = b.context([tr], [b.simulate(tr, scored, restarted=True)], scored)
    r = REGISTRY["restart_recovery"]().run(ctx)
    assert r.score == 1.0 and r.metrics["ready_s"] == 1.0
