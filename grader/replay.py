"""Replay held-back traffic against a running service and record everything into a transcript.

Batches go out in time order. After each batch: the labels that are now due (batch
i - label_delay) go to /feedback, then /monitoring is read, so the grader knows when each
alarm was raised. A dead service (connection errors and the runtime says it is not
running) or repeated timeouts end the replay: what came before is measured, what comes
after is not. Checks read only the transcript, never the live service.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from grader.client import Reply, ServiceClient
from grader.contract import MAX_BATCH, FeedbackResponse, MonitoringResponse, PredictResponse, Result
from grader.errors import ReplayStopped
from grader.runtime import Runtime, RuntimeFailure, StartInfo
from grader.scenario import Phase, Scenario
from grader.transcript import CallError, Exchange, FeedbackCall, LoadRun, MonitorRead, Probe, RestartRun, ScenarioRun
from grader.truth import PhaseTraffic, RecordTruth, ScenarioTraffic

log = logging.getLogger(__name__)

DETAIL_CAP = 300
WARM_AHEAD = 2  # fresh copies started ahead of the scenarios that will need them
ERROR_EXAMPLES = 10
# A load run whose p95 misses the budget is measured again, the fastest run kept: noise on the
# grading machine only ever adds latency, so a slow service is slow in every run and a fast one
# caught by a hiccup (another process, a disk flush) is not marked down for it.
LOAD_ATTEMPTS = 3
SETTLE_S = 15.0  # at most this long waiting for warming copies to finish before a timed load run


@dataclass
class ReplayBudgets:
    request_timeout_s: float = 10.0
    max_response_bytes: int = 5_000_000
    startup_s: float = 60.0
    grading_timeout_s: float = 900.0
    max_consecutive_timeouts: int = 3
    p95_ms: float = math.inf  # the load run's latency budget: a run over it is measured again
    started: float = 0.0  # monotonic time the grading clock started (0: at construction)

    def __post_init__(self) -> None:
        if not self.started:
            self.started = time.monotonic()

    @classmethod
    def from_budgets(cls, budgets: Any, **kw: Any) -> "ReplayBudgets":
        """From grader.exercise.Budgets (or anything with the same attributes)."""
        return cls(request_timeout_s=budgets.request_timeout_s, max_response_bytes=budgets.max_response_bytes,
                   startup_s=budgets.startup_s, grading_timeout_s=budgets.grading_timeout_s,
                   p95_ms=budgets.p95_ms, **kw)

    def left(self) -> float:
        return self.started + self.grading_timeout_s - time.monotonic()

    def call_timeout(self) -> float:
        return max(0.0, min(self.request_timeout_s, self.left()))


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_CAP else text[:DETAIL_CAP] + "…"


def check_predict(reply: Reply, ids: list[str]) -> tuple[CallError | None, str, list[Result] | None]:
    """Contract v1 + alignment: one result per record, same ids, same order."""
    if reply.error is not None:
        return reply.error, _short(reply.detail), None
    try:
        results = PredictResponse.model_validate(reply.data).results
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return "contract", _short(f"answer does not match contract v1 at {where}: {first['msg']}; "
                                  f"got {reply.excerpt(150)}"), None
    got = [r.id for r in results]
    if len(got) != len(ids):
        return "contract", f"{len(got)} results for {len(ids)} records", None
    for k, (a, b) in enumerate(zip(got, ids)):
        if a != b:
            return "contract", _short(f"result {k} has id {a!r}, expected {b!r} (same ids, same order)"), None
    return None, "", results


class Replayer:
    """One grading's conversation with the service: shared deadline, liveness and restarts."""

    def __init__(self, runtime: Runtime, base_url: str, budgets: ReplayBudgets, progress: Any = None) -> None:
        self.runtime, self.budgets, self.progress = runtime, budgets, progress
        self._lock = threading.Lock()
        self._timeouts: dict[str, int] = {}  # path -> timeouts in a row on that path
        self.client = self._client(base_url)
        self.restart_wait_s = 0.0  # replay time spent waiting for restarted or fresh services
        self.settle_wait_s = 0.0  # time spent letting warming copies finish before a load run
        self._warm_wanted = 0  # fresh copies the current scenario still wants started

    def _client(self, base_url: str) -> ServiceClient:
        return ServiceClient(base_url, timeout_s=self.budgets.request_timeout_s,
                             max_bytes=self.budgets.max_response_bytes, max_connections=32)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Replayer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one call, with the grading-wide rules ------------------------------------------
    def call(self, method: str, path: str, payload: Any = None, raw: bytes | None = None) -> Reply:
        if self.budgets.left() <= 0:
            raise ReplayStopped("timed_out", f"the grading ran past its {self.budgets.grading_timeout_s:g} s budget")
        timeout = self.budgets.call_timeout()
        if raw is not None:
            return self.client.request(method, path, body=raw, timeout_s=timeout)
        if payload is not None:
            return self.client.post_json(path, payload, timeout_s=timeout)
        return self.client.request(method, path, timeout_s=timeout)

    def judge(self, reply: Reply, what: str, path: str = "/predict") -> None:
        """After recording a call: stop the grading when the service is dead or keeps timing out.

        Timeouts are counted per path: a service whose /predict hangs while /monitoring
        answers is still hung.
        """
        if reply.error == "timeout":
            with self._lock:
                n = self._timeouts[path] = self._timeouts.get(path, 0) + 1
            if self.budgets.left() <= 0:
                raise ReplayStopped("timed_out", f"the grading ran past its {self.budgets.grading_timeout_s:g} s budget")
            if n >= self.budgets.max_consecutive_timeouts:
                raise ReplayStopped("timed_out", f"{n} requests in a row got no complete answer within "
                                                 f"{self.budgets.request_timeout_s:g} s (last: {what})")
            return
        with self._lock:
            self._timeouts[path] = 0
        if reply.error == "connection":
            self.ensure_alive(what)

    def ensure_alive(self, what: str) -> None:
        # The process may still be exiting when its socket drops: look twice before deciding.
        for attempt in range(2):
            st = self.runtime.state()
            if st.running:
                if attempt == 0:
                    time.sleep(0.2)
                continue
            if st.oom_killed:
                raise ReplayStopped("crashed", f"the service was killed for running out of memory (OOM) during {what}",
                                    oom=True)
            code = "" if st.exit_code is None else f" with exit code {st.exit_code}"
            raise ReplayStopped("crashed", f"the service died{code} during {what}")

    def restart(self, why: str, fresh: bool = False) -> StartInfo:
        """Restart the service (`fresh`: swap in a fresh copy, warmed ahead when the runtime can)."""
        began = time.monotonic()
        # Our keep-alive connections would hold a gracefully stopping server for its whole grace period.
        self.client.close()
        try:
            start = self.runtime.fresh if fresh else self.runtime.restart
            info = start(self.budgets.startup_s)
        except RuntimeFailure as exc:
            raise ReplayStopped("crashed", f"the service did not come back after a restart ({why}): {exc.reason}")
        finally:
            self.restart_wait_s += time.monotonic() - began
        self.client = self._client(info.base_url)
        with self._lock:
            self._timeouts.clear()
        return info

    # -- a scenario -----------------------------------------------------------------------
    def run_scenario(self, traffic: ScenarioTraffic, scenario: Scenario, *, restart_first: bool = False,
                     warm_next: int = 0) -> ScenarioRun:
        """Replay one scenario; `restart_first` gives it a fresh service (no window carried over),
        `warm_next` fresh copies for the scenarios after it start in the background meanwhile
        (at most WARM_AHEAD: a scenario may replay faster than a service cold-starts)."""
        run = ScenarioRun(scenario=scenario.name, batch_size=scenario.batch_size)
        try:
            if restart_first:
                run.restart_ready_s = self.restart(f"fresh monitoring window for {scenario.name}", fresh=True).ready_s
            self._warm_wanted = min(WARM_AHEAD, warm_next)
            if not any(p.kind == "load" for p in scenario.phases):
                self._warm_now()  # else after the load run: copies starting would slow what it times
            self._scenario(traffic, scenario, run)
        except ReplayStopped as stop:
            run.aborted = stop.reason
            stop.run = run
            raise
        return run

    def _warm_now(self) -> None:
        if self._warm_wanted:
            self.runtime.warm(self.budgets.startup_s, copies=self._warm_wanted)
        self._warm_wanted = 0

    def _scenario(self, traffic: ScenarioTraffic, scenario: Scenario, run: ScenarioRun) -> None:
        pairs = _pair_phases(traffic, scenario)
        batches = sum(-(-len(pt.records) // scenario.batch_size) for ph, pt in pairs if ph.kind == "traffic")
        extra = sum(ph.requests if ph.kind == "load" else 1 for ph, _ in pairs if ph.kind != "traffic")
        task = self.progress.add_task(scenario.name, total=batches + extra) if self.progress is not None else None
        pending: list[tuple[int, list[RecordTruth]]] = []  # batches whose labels are not yet sent
        sent: list[dict[str, Any]] = []  # records already sent: the pool for load and restart batches
        batch = -1
        for phase, pt in pairs:
            if phase.kind == "load":
                self._load(run, phase, scenario.batch_size, pt.records or sent, task)
                self._warm_now()
                continue
            if phase.kind == "restart":
                self._restart_phase(run, scenario.batch_size, pt.records or sent)
                self._advance(task)
                continue
            truths = {t.id: t for t in pt.truths}
            for lo in range(0, len(pt.records), scenario.batch_size):
                records = pt.records[lo:lo + scenario.batch_size]
                batch += 1
                # Position in the scenario's record index (what checks compare phase bounds with).
                seen = pt.truth.start + lo + len(records)
                ids = [str(r.get("id")) for r in records]
                self._predict(run, batch, phase.name, records, ids)
                sent.extend(records)
                pending.append((batch, [truths[i] for i in ids if i in truths]))
                while pending and pending[0][0] <= batch - scenario.label_delay:
                    self._feedback(run, batch, *pending.pop(0))
                self._monitor(run, batch, seen)
                self._advance(task)
        for for_batch, truths_due in pending:  # flush: the labels still owed
            self._feedback(run, max(batch, 0), for_batch, truths_due)

    def _advance(self, task: Any, n: int = 1) -> None:
        if task is not None:
            self.progress.advance(task, n)

    def _predict(self, run: ScenarioRun, batch: int, phase: str, records: list[dict[str, Any]],
                 ids: list[str]) -> None:
        reply = self.call("POST", "/predict", {"records": records})
        error, detail, results = check_predict(reply, ids)
        run.exchanges.append(Exchange(batch=batch, phase=phase, ids=ids, status_code=reply.status_code,
                                      error=error, detail=detail, latency_ms=reply.latency_ms, results=results))
        self.judge(reply, f"POST /predict (batch {batch} of {run.scenario})")

    def _feedback(self, run: ScenarioRun, after: int, for_batch: int, truths: list[RecordTruth]) -> None:
        labels = [{"id": t.id, "label": t.label} for t in truths if t.kind != "invalid" and t.label is not None]
        if not labels:
            return
        reply = self.call("POST", "/feedback", {"labels": labels})
        error = reply.error
        if error is None:
            try:
                FeedbackResponse.model_validate(reply.data)
            except ValidationError:
                error = "contract"
        run.feedback.append(FeedbackCall(after_batch=after, for_batch=for_batch, labels=len(labels),
                                         status_code=reply.status_code, error=error))
        self.judge(reply, f"POST /feedback (labels of batch {for_batch} of {run.scenario})", "/feedback")

    def _monitor(self, run: ScenarioRun, batch: int, seen: int) -> None:
        reply = self.call("GET", "/monitoring")
        error, view = reply.error, None
        if error is None:
            try:
                view = MonitoringResponse.model_validate(reply.data)
            except ValidationError:
                error = "contract"
        run.monitor.append(MonitorRead(after_batch=batch, records_seen=seen, status_code=reply.status_code,
                                       error=error, view=view))
        self.judge(reply, f"GET /monitoring (after batch {batch} of {run.scenario})", "/monitoring")

    # -- load and restart phases ---------------------------------------------------------
    def _load(self, run: ScenarioRun, phase: Phase, batch_size: int, pool: list[dict[str, Any]], task: Any) -> None:
        """The load phase, timed on a quiet machine; run again (up to LOAD_ATTEMPTS) while its p95
        misses the budget with every request answered, the fastest run kept and every run's p95 noted."""
        if not pool:
            run.load = LoadRun(concurrency=phase.concurrency, batch_size=batch_size)
            run.load.error_examples.append("no records to send (the scenario has no traffic before its load phase)")
            return
        began = time.monotonic()
        self.runtime.settle(SETTLE_S)
        self.settle_wait_s += time.monotonic() - began
        tried: list[float] = []
        best: LoadRun | None = None
        for attempt in range(LOAD_ATTEMPTS):
            out = self._load_once(run, phase, batch_size, pool, task if attempt == 0 else None)
            p95 = out.p95_ms()
            tried.append(p95)
            if best is None or p95 < best.p95_ms():
                best = out
            if out.errors or p95 <= self.budgets.p95_ms:
                break
        assert best is not None
        best.attempts_p95_ms = [round(v, 3) for v in tried] if len(tried) > 1 else []
        run.load = best

    def _load_once(self, run: ScenarioRun, phase: Phase, batch_size: int, pool: list[dict[str, Any]],
                   task: Any) -> LoadRun:
        out = run.load = LoadRun(concurrency=phase.concurrency, batch_size=batch_size)  # kept if the run stops
        stop = threading.Event()
        failure: list[ReplayStopped] = []

        def one(k: int) -> None:
            if stop.is_set():
                return
            records = [{**pool[(k * batch_size + j) % len(pool)], "id": f"load-{k}-{j}"} for j in range(batch_size)]
            ids = [r["id"] for r in records]
            try:
                reply = self.call("POST", "/predict", {"records": records})
                error, detail, _ = check_predict(reply, ids)
                with self._lock:
                    if error is None:
                        out.latencies_ms.append(reply.latency_ms)
                    else:
                        out.errors += 1
                        if len(out.error_examples) < ERROR_EXAMPLES:
                            out.error_examples.append(f"request {k}: {error}: {detail}"[:DETAIL_CAP])
                self.judge(reply, f"load request {k}")
            except ReplayStopped as exc:
                stop.set()
                failure.append(exc)
            finally:
                self._advance(task)

        with ThreadPoolExecutor(max_workers=phase.concurrency, thread_name_prefix="load") as pool_ex:
            list(pool_ex.map(one, range(phase.requests)))
        self.runtime.state()  # a memory sample right after the peak
        if failure:
            raise failure[0]
        return out

    def _restart_phase(self, run: ScenarioRun, batch_size: int, pool: list[dict[str, Any]]) -> None:
        out = run.restart = RestartRun(attempted=True)
        try:
            info = self.restart("the restart phase")
        except ReplayStopped as stop:
            out.error = stop.reason
            raise
        out.ready_s = info.ready_s
        if not pool:
            out.error = "no records to send after the restart"
            return
        records = [{**pool[j % len(pool)], "id": f"restart-{j}"} for j in range(min(batch_size, MAX_BATCH))]
        ids = [r["id"] for r in records]
        reply = self.call("POST", "/predict", {"records": records})
        error, detail, _ = check_predict(reply, ids)
        out.served_after = error is None
        out.error = None if error is None else f"{error}: {detail}"[:DETAIL_CAP]
        self.judge(reply, "the first batch after a restart")

    # -- accuracy apart from validation, once per grading ---------------------------------
    def accuracy_probe(self, batches: list[list[dict[str, Any]]]) -> list[Exchange]:
        """Send clean, in-distribution records in clean-only batches; answers feed the accuracy check."""
        out: list[Exchange] = []
        for k, records in enumerate(batches):
            ids = [str(r["id"]) for r in records]
            reply = self.call("POST", "/predict", {"records": records})
            error, detail, results = check_predict(reply, ids)
            out.append(Exchange(batch=k, phase="accuracy-probe", ids=ids, status_code=reply.status_code,
                                error=error, detail=detail, latency_ms=reply.latency_ms, results=results))
            self.judge(reply, f"accuracy probe batch {k}")
        return out

    # -- malformed bodies, once per grading ---------------------------------------------
    def probes(self, sample: dict[str, Any] | None = None) -> list[Probe]:
        base = {k: v for k, v in (sample or {}).items()
                if k != "id"}
        too_many = {"records": [{**base, "id": f"probe-{i}"} for i in range(MAX_BATCH + 1)]}
        bodies: list[tuple[str, bytes, str]] = [
            ("not_json", b'{"records": [ this is not json', "not JSON"),
            ("no_records", b'{"items": [{"id": "probe-1"}]}', '{"items": [...]} (no "records")'),
            ("records_not_list", b'{"records": {"id": "probe-1"}}', '{"records": {...}} (an object)'),
            ("empty_records", b'{"records": []}', '{"records": []}'),
            ("too_many_records", _dumps(too_many), f"{MAX_BATCH + 1} records (the limit is {MAX_BATCH})"),
        ]
        out: list[Probe] = []
        for name, body, sent in bodies:
            reply = self.call("POST", "/predict", raw=body)
            # A 4xx is what we want here; only transport failures are errors.
            error = None if reply.error == "client_error" else reply.error
            if reply.status_code is not None and 200 <= reply.status_code < 300:
                error = None
            out.append(Probe(name=name, sent=sent, status_code=reply.status_code, error=error,
                             detail=_short(reply.detail or reply.excerpt(200))))
            self.judge(reply, f"malformed-body probe {name}")
        return out


def _dumps(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":"), default=str).encode()


def _pair_phases(traffic: ScenarioTraffic, scenario: Scenario) -> list[tuple[Phase, PhaseTraffic]]:
    by_name = {p.truth.name: p for p in traffic.phases}
    out = []
    for k, phase in enumerate(scenario.phases):
        pt = by_name.get(phase.name) or (traffic.phases[k] if k < len(traffic.phases) else None)
        if pt is None:
            raise ValueError(f"scenario {scenario.name}: no traffic for phase {phase.name!r}")
        out.append((phase, pt))
    return out


def replay(base_url: str, traffic: ScenarioTraffic, scenario: Scenario, runtime: Runtime,
           budgets: ReplayBudgets, progress: Any = None) -> ScenarioRun:
    """Replay one scenario against a service that is already up. Raises ReplayStopped (with .run)."""
    with Replayer(runtime, base_url, budgets, progress) as r:
        return r.run_scenario(traffic, scenario)
