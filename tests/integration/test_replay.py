"""Replay against a tiny real service: batching, late feedback, monitoring reads, load, restart, failures."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from grader.client import ServiceClient
from grader.replay import Replayer, ReplayBudgets, ReplayStopped, replay
from grader.truth import PhaseTraffic, PhaseTruth, RecordTruth, ScenarioTraffic
from harness.runtime.local import LocalRuntime
from grader.scenario import Phase, Scenario

_spec = importlib.util.spec_from_file_location("lrt", Path(__file__).with_name("test_local_runtime.py"))
_lrt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_lrt)  # type: ignore[union-attr]
stub_submission = _lrt.stub_submission


def small_scenario(with_ops: bool = True) -> tuple[Scenario, ScenarioTraffic]:
    phases = [Phase(name="stable", records=10), Phase(name="shifted", records=7)]
    if with_ops:
        phases += [Phase(name="load", kind="load", requests=6, concurrency=3), Phase(name="restart", kind="restart")]
    sc = Scenario(name="tiny", batch_size=4, label_delay=2, window=20, phases=phases)
    out, index = [], 0
    for ph in phases:
        recs, truths = [], []
        for i in range(ph.records):
            rid = f"r-{index + i:03d}"
            invalid = (index + i) % 5 == 4
            recs.append({"id": rid, "subject": None if invalid else "refund", "body": None if invalid else "money back",
                         "channel": "email"})
            truths.append(RecordTruth(id=rid, scenario="tiny", phase=ph.name, index=index + i,
                                      kind="invalid" if invalid else "clean", label="refunds"))
        out.append(PhaseTraffic(truth=PhaseTruth(scenario="tiny", name=ph.name, kind=ph.kind, start=index,
                                                 end=index + ph.records), records=recs, truths=truths))
        index += ph.records
    return sc, ScenarioTraffic(scenario="tiny", seed=1, phases=out)


@pytest.fixture
def service(tmp_path: Path, request: pytest.FixtureRequest):
    mode = getattr(request, "param", "good")
    rt = LocalRuntime()
    rt.prepare(stub_submission(tmp_path / mode, mode))
    info = rt.start(20)
    yield rt, info
    rt.teardown()


def budgets(**kw: float) -> ReplayBudgets:
    return ReplayBudgets(request_timeout_s=kw.get("timeout", 5.0), startup_s=20, grading_timeout_s=kw.get("grading", 120))


def test_replay_batches_feedback_and_monitoring(service) -> None:
    rt, info = service
    sc, traffic = small_scenario()
    run = replay(info.base_url, traffic, sc, rt, budgets())
    # 10 records -> batches of 4, 4, 2; 7 records -> 4, 3: batches stay inside their phase
    assert [len(e.ids) for e in run.exchanges] == [4, 4, 2, 4, 3]
    assert [e.phase for e in run.exchanges] == ["stable"] * 3 + ["shifted"] * 2
    assert all(e.error is None and [r.id for r in e.results] == e.ids for e in run.exchanges)
    assert [m.records_seen for m in run.monitor] == [4, 8, 10, 14, 17]
    assert all(m.view is not None and m.error is None for m in run.monitor)
    # labels of batch i go out after batch i + 2; the last two are flushed at the end
    assert [(f.after_batch, f.for_batch) for f in run.feedback] == [(2, 0), (3, 1), (4, 2), (4, 3), (4, 4)]
    assert [f.labels for f in run.feedback] == [4, 3, 1, 4, 2]  # r-004, r-009, r-014 are invalid: no label
    assert run.load is not None and len(run.load.latencies_ms) == 6 and run.load.errors == 0
    assert run.restart is not None and run.restart.attempted and run.restart.served_after
    assert run.restart.ready_s is not None


def test_the_service_sees_feedback_late_and_monitoring_after_each_batch(service) -> None:
    rt, info = service
    sc, traffic = small_scenario(with_ops=False)
    replay(info.base_url, traffic, sc, rt, budgets())
    with ServiceClient(info.base_url) as client:
        events = client.get("/debug/events").data["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[:3] == ["predict", "monitoring", "predict"]
    predicted_before = {}
    n_predicts = 0
    for e in events:
        if e["kind"] == "predict":
            n_predicts += 1
            for i in e["ids"]:
                predicted_before[i] = n_predicts
        if e["kind"] == "feedback" and n_predicts < 5:
            # labels only for records sent at least label_delay (2) batches ago
            assert all(predicted_before[i] <= n_predicts - 2 for i in e["ids"])
    assert "r-004" not in {i for e in events if e["kind"] == "feedback" for i in e["ids"]}


@pytest.mark.parametrize("service", ["wrong_ids"], indirect=True)
def test_misaligned_answers_are_contract_errors(service) -> None:
    rt, info = service
    sc, traffic = small_scenario(with_ops=False)
    run = replay(info.base_url, traffic, sc, rt, budgets())
    assert all(e.error == "contract" and e.results is None for e in run.exchanges)
    assert "expected" in run.exchanges[0].detail


@pytest.mark.parametrize("service", ["garbage"], indirect=True)
def test_garbage_answers_are_recorded_not_raised(service) -> None:
    rt, info = service
    sc, traffic = small_scenario(with_ops=False)
    run = replay(info.base_url, traffic, sc, rt, budgets())
    assert {e.error for e in run.exchanges} == {"not_json"}
    assert {m.error for m in run.monitor} == {"not_json"}


@pytest.mark.parametrize("service", ["crash"], indirect=True)
def test_a_service_that_dies_ends_the_replay_as_crashed(service) -> None:
    rt, info = service
    sc, traffic = small_scenario(with_ops=False)
    with pytest.raises(ReplayStopped) as stop:
        replay(info.base_url, traffic, sc, rt, budgets())
    assert stop.value.status == "crashed" and "exit code 1" in stop.value.reason
    assert stop.value.run is not None and len(stop.value.run.exchanges) == 1
    assert stop.value.run.exchanges[0].error == "connection"


@pytest.mark.parametrize("service", ["hang"], indirect=True)
def test_a_hanging_service_ends_as_timed_out(service) -> None:
    rt, info = service
    sc, traffic = small_scenario(with_ops=False)
    with pytest.raises(ReplayStopped) as stop:
        replay(info.base_url, traffic, sc, rt, budgets(timeout=0.5))
    assert stop.value.status == "timed_out" and "3 requests in a row" in stop.value.reason
    # /monitoring still answers, so the timeouts are the three predicts
    assert [e.error for e in stop.value.run.exchanges] == ["timeout"] * 3


def test_probes_expect_4xx(service) -> None:
    rt, info = service
    with Replayer(rt, info.base_url, budgets()) as rep:
        probes = rep.probes()
    assert [p.name for p in probes] == ["not_json", "no_records", "records_not_list", "empty_records",
                                        "too_many_records"]
    assert [p.status_code for p in probes] == [400, 422, 422, 422, 413]
    assert all(p.error is None for p in probes)


def test_the_grading_deadline_stops_replay(service) -> None:
    rt, info = service
    sc, traffic = small_scenario(with_ops=False)
    with pytest.raises(ReplayStopped) as stop:
        replay(info.base_url, traffic, sc, rt, budgets(grading=0.0001))
    assert stop.value.status == "timed_out" and "budget" in stop.value.reason


class _Hiccup(Replayer):
    """Adds `extra_ms` to the measured latency of the first `slow` load requests (machine noise, or a slow service)."""

    def __init__(self, *a, slow: int, extra_ms: float = 900.0, events: list[str] | None = None, **kw) -> None:
        super().__init__(*a, **kw)
        self.slow, self.extra_ms, self.events, self.load_calls = slow, extra_ms, events, 0

    def call(self, method, path, payload=None, raw=None):
        reply = super().call(method, path, payload, raw)
        if isinstance(payload, dict) and str(payload.get("records", [{}])[0].get("id", "")).startswith("load-"):
            with self._lock:
                self.load_calls += 1
                k = self.load_calls
            if self.events is not None and k == 1:
                self.events.append("load")
            if k <= self.slow:
                reply.latency_ms += self.extra_ms
        return reply


def test_a_load_run_over_budget_is_measured_again_and_the_fastest_run_kept(service) -> None:
    rt, info = service
    sc, traffic = small_scenario()
    rb = ReplayBudgets(request_timeout_s=5.0, startup_s=20, grading_timeout_s=120, p95_ms=300)
    with _Hiccup(rt, info.base_url, rb, slow=6) as rep:  # the whole first run (6 requests) hit by a hiccup
        run = rep.run_scenario(traffic, sc)
    assert rep.load_calls == 12
    first, second = run.load.attempts_p95_ms
    assert first > 900 and second < 300
    assert run.load.p95_ms() == pytest.approx(second, abs=0.001) and len(run.load.latencies_ms) == 6


def test_a_slow_service_is_slow_in_every_run(service) -> None:
    rt, info = service
    sc, traffic = small_scenario()
    rb = ReplayBudgets(request_timeout_s=5.0, startup_s=20, grading_timeout_s=120, p95_ms=300)
    with _Hiccup(rt, info.base_url, rb, slow=10_000) as rep:
        run = rep.run_scenario(traffic, sc)
    assert rep.load_calls == 18 and len(run.load.attempts_p95_ms) == 3
    assert all(p > 900 for p in run.load.attempts_p95_ms) and run.load.p95_ms() > 900


def test_a_run_within_budget_is_measured_once(service) -> None:
    rt, info = service
    sc, traffic = small_scenario()
    rb = ReplayBudgets(request_timeout_s=5.0, startup_s=20, grading_timeout_s=120, p95_ms=300)
    with _Hiccup(rt, info.base_url, rb, slow=0) as rep:
        run = rep.run_scenario(traffic, sc)
    assert rep.load_calls == 6 and run.load.attempts_p95_ms == []


class _Recording(LocalRuntime):
    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def warm(self, startup_budget_s: float, copies: int = 1) -> None:
        self.events.append("warm")
        super().warm(startup_budget_s, copies)

    def settle(self, timeout_s: float) -> None:
        self.events.append("settle")
        super().settle(timeout_s)
        self.events.append("settled" if all(c.done.is_set() for c in self._spares.copies) else "still starting")


def test_no_copy_starts_while_the_load_run_is_timed(tmp_path: Path) -> None:
    """The copies the next scenarios need finish starting before the load run and start again after it."""
    events: list[str] = []
    rt = _Recording(events)
    rt.prepare(stub_submission(tmp_path / "good", "good"))
    try:
        info = rt.start(20)
        rt.warm(20, copies=1)  # what the previous scenario left starting
        sc, traffic = small_scenario()
        with _Hiccup(rt, info.base_url, budgets(), slow=0, events=events) as rep:
            rep.run_scenario(traffic, sc, warm_next=2)
    finally:
        rt.teardown()
    assert events == ["warm", "settle", "settled", "load", "warm"]
