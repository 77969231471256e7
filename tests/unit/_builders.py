"""Hand-made traffic, services and transcripts for check/scoring/report tests.

A scenario is a list of PhaseSpec; `simulate` plays a fake service (answer + monitor
policies) over it the way replay would, producing a ScenarioRun. Everything is
deterministic and small (a few thousand records at most).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from grader.checks.base import CheckContext, Scored
from grader.contract import DriftView, Issue, MonitoringResponse, PerformanceView, Result
from grader.transcript import Exchange, LoadRun, MonitorRead, Probe, RestartRun, ScenarioRun, Transcript
from grader.truth import Injection, PhaseTraffic, PhaseTruth, RecordTruth, ScenarioTraffic
from grader.exercise import load_exercise
from grader.scenario import Scenario

CLASSES = ["billing", "technical", "account", "shipping", "refunds"]
WORDS = {"billing": "invoice charge", "technical": "crash error", "account": "password login",
         "shipping": "parcel delivery", "refunds": "refund money back"}
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def exercise():
    return load_exercise("support-triage", ROOT)


@dataclass
class PhaseSpec:
    name: str
    n: int
    # kinds cycle by index: e.g. ["clean"] * 8 + ["recoverable", "invalid"]
    kinds: list[str] = field(default_factory=lambda: ["clean"])
    shifts: list[str] = field(default_factory=list)
    drift_fields: list[str] = field(default_factory=list)
    quality_fields: list[str] = field(default_factory=list)
    drift: str = "unscored"  # detect | silent | unscored (what calibration scored)
    quality: str = "unscored"
    performance: str = "unscored"


def _record(rid: str, kind: str, label: str, i: int) -> tuple[dict, list[Injection]]:
    rec = {"id": rid, "channel": "email", "customer_tier": "free", "product": "router", "language": "en",
           "subject": f"help {WORDS[label].split()[0]}", "body": f"my {WORDS[label]} issue {i % 7}",
           "account_age_days": 100, "prior_tickets": 1, "order_value": 20.0,
           "created_at": "2026-03-14T10:22:05Z"}
    inj: list[Injection] = []
    if kind == "recoverable":
        rec["order_value"] = "$1,250.00"
        inj.append(Injection(field="order_value", code="numeric_string"))
    elif kind == "invalid":
        rec["subject"], rec["body"] = None, ""
        inj.append(Injection(field="body", code="missing"))
    elif kind == "unfamiliar":
        rec["product"] = "hover-board"
        inj.append(Injection(field="product", code="new_category"))
    return rec, inj


def traffic(scenario: str, specs: list[PhaseSpec]) -> tuple[ScenarioTraffic, Scored]:
    phases, scored, start = [], Scored(), 0
    for spec in specs:
        truth = PhaseTruth(scenario=scenario, name=spec.name, start=start, end=start + spec.n, shifts=spec.shifts,
                           drift_fields=spec.drift_fields, quality_fields=spec.quality_fields)
        records, truths = [], []
        for k in range(spec.n):
            i = start + k
            kind = spec.kinds[k % len(spec.kinds)]
            label = CLASSES[(i * 7) % len(CLASSES)]
            rid = f"{scenario}-{i}"
            rec, inj = _record(rid, kind, label, i)
            records.append(rec)
            truths.append(RecordTruth(id=rid, scenario=scenario, phase=spec.name, index=i, kind=kind,  # type: ignore[arg-type]
                                      label=label, injections=inj))
        phases.append(PhaseTraffic(truth=truth, records=records, truths=truths))
        for sig in ("drift", "quality", "performance"):
            exp = getattr(spec, sig)
            if exp != "unscored":
                getattr(scored, sig)[(scenario, spec.name)] = exp
        start += spec.n
    return ScenarioTraffic(scenario=scenario, seed=1, phases=phases), scored


# --- answer policies: (record, truth) -> Result ---------------------------------------------

def oracle_answer(rec: dict, t: RecordTruth) -> Result:
    """A sound service that also happens to be always right."""
    if t.kind == "invalid":
        return Result(id=t.id, status="invalid", prediction=None, issues=[Issue(field="body", code="missing")])
    if t.kind == "recoverable":
        return Result(id=t.id, status="coerced", prediction=t.label, confidence=0.9,
                      issues=[Issue(field="order_value", code="numeric_string")])
    if t.kind == "unfamiliar":
        return Result(id=t.id, status="fallback", prediction=t.label, confidence=0.3)
    return Result(id=t.id, status="ok", prediction=t.label, confidence=0.9)


def hard(t: RecordTruth) -> bool:
    """About 1 record in 8 the plain baseline gets wrong (see plain_predictions)."""
    return (t.index * 37) % 8 == 3


def sound_answer(rec: dict, t: RecordTruth) -> Result:
    """The oracle, which also says "unsure" (fallback) on a third of the hard familiar records:
    a sound service's selective prediction."""
    base = oracle_answer(rec, t)
    if t.kind == "clean" and hard(t) and t.index % 3 == 0:
        return base.model_copy(update={"status": "fallback", "confidence": 0.4,
                                       "issues": [Issue(field="record", code="low_confidence")]})
    return base


def plain_predictions(traffics: list[ScenarioTraffic]) -> dict[str, str | float]:
    """The plain baseline's labels: right except on the hard records."""
    out: dict[str, str | float] = {}
    for tr in traffics:
        for t in tr.all_truths():
            if t.label is not None:
                out[t.id] = CLASSES[(CLASSES.index(str(t.label)) + 1) % len(CLASSES)] if hard(t) else t.label
    return out


def reject_all(rec: dict, t: RecordTruth) -> Result:
    return Result(id=t.id, status="invalid", prediction=None, issues=[Issue(field="*", code="rejected")])


def serve_all_ok(rec: dict, t: RecordTruth) -> Result:
    """No validation: everything 'ok' with a (right) prediction."""
    return Result(id=t.id, status="ok", prediction=t.label, confidence=0.9)


def fallback_all(rec: dict, t: RecordTruth) -> Result:
    return Result(id=t.id, status="fallback", prediction="billing", confidence=0.2)


def coerce_all(rec: dict, t: RecordTruth) -> Result:
    """Every record 'coerced' with an issue, and a (right) prediction: flags that say nothing."""
    return Result(id=t.id, status="coerced", prediction=t.label, confidence=0.9,
                  issues=[Issue(field="record", code="normalised")])


def constant_ok(rec: dict, t: RecordTruth) -> Result:
    """The do-nothing service: everything 'ok', one constant answer."""
    return Result(id=t.id, status="ok", prediction="billing", confidence=0.5)


def majority_answer(rec: dict, t: RecordTruth) -> Result:
    base = oracle_answer(rec, t)
    return base if base.prediction is None else base.model_copy(update={"prediction": "billing"})


# --- monitor policies: (records_seen, phase truth of the last record, scored) -> MonitoringResponse ----

Monitor = Callable[[int, PhaseTruth, Scored], MonitoringResponse | None]


def view(drift: bool = False, dfeat: list[str] | None = None, quality: bool = False,
         qfeat: list[str] | None = None, perf: bool = False) -> MonitoringResponse:
    return MonitoringResponse(drift=DriftView(detected=drift, features=dfeat or []),
                              data_quality=DriftView(detected=quality, features=qfeat or []),
                              performance=PerformanceView(degraded=perf, metric="accuracy", value=0.8))


def oracle_monitor(delay: int = 200, perf_delay: int = 500) -> Monitor:
    """Alarms turn on `delay` records into a detect phase with the true fields, off otherwise."""
    def mon(seen: int, ph: PhaseTruth, scored: Scored) -> MonitoringResponse:
        into = seen - ph.start
        key = (ph.scenario, ph.name)
        return view(drift=scored.drift.get(key) == "detect" and into >= delay, dfeat=ph.drift_fields,
                    quality=scored.quality.get(key) == "detect" and into >= delay, qfeat=ph.quality_fields,
                    perf=scored.performance.get(key) == "detect" and into >= perf_delay)
    return mon


def always_on(seen: int, ph: PhaseTruth, scored: Scored) -> MonitoringResponse:
    return view(True, ["channel", "product", "order_value"], True, ["order_value", "body"], True)


def never_on(seen: int, ph: PhaseTruth, scored: Scored) -> MonitoringResponse:
    return view()


def timer(n: int, on: int) -> Monitor:
    """Every alarm on for `on` of every `n` batches of 100 records, whatever the traffic."""
    def mon(seen: int, ph: PhaseTruth, scored: Scored) -> MonitoringResponse:
        s = (seen // 100) % n < on
        return view(s, ["channel"] if s else [], s, ["order_value"] if s else [], s)
    return mon


def perf_only(degraded: bool) -> Monitor:
    """The oracle's drift and quality alarms, with a performance alarm stuck at `degraded`."""
    oracle = oracle_monitor()

    def mon(seen: int, ph: PhaseTruth, scored: Scored) -> MonitoringResponse:
        v = oracle(seen, ph, scored)
        return v.model_copy(update={"performance": v.performance.model_copy(update={"degraded": degraded})})
    return mon


def no_monitoring(seen: int, ph: PhaseTruth, scored: Scored) -> None:
    return None


def simulate(tr: ScenarioTraffic, scored: Scored, answer=oracle_answer, monitor: Monitor = oracle_monitor(),
             batch_size: int = 100, fail_batches: set[int] | None = None, fail_code: int = 500,
             stop_after: int | None = None, latency_ms: float = 20.0, restarted: bool = True) -> ScenarioRun:
    """Replay `tr` as grader.replay does (batches within a phase, /monitoring after each batch)
    against a fake service; batches in `fail_batches` get `fail_code`."""
    run = ScenarioRun(scenario=tr.scenario, batch_size=batch_size, restart_ready_s=1.0 if restarted else None)
    b, seen = -1, 0
    for ph in tr.phases:
        pairs = list(zip(ph.records, ph.truths))
        for lo in range(0, len(pairs), batch_size):
            b += 1
            if stop_after is not None and b >= stop_after:
                run.aborted = "service stopped answering"
                return run
            chunk = pairs[lo:lo + batch_size]
            ids = [t.id for _, t in chunk]
            if fail_batches and b in fail_batches:
                err = "server_error" if fail_code >= 500 else "client_error"
                run.exchanges.append(Exchange(batch=b, phase=ph.truth.name, ids=ids, status_code=fail_code,
                                              error=err, detail='{"detail":"boom"}', latency_ms=latency_ms))
            else:
                run.exchanges.append(Exchange(batch=b, phase=ph.truth.name, ids=ids, status_code=200,
                                              latency_ms=latency_ms, results=[answer(r, t) for r, t in chunk]))
            seen += len(chunk)
            v = monitor(seen, ph.truth, scored)
            run.monitor.append(MonitorRead(after_batch=b, records_seen=seen, status_code=200 if v else 404,
                                           error=None if v else "client_error", view=v))
    return run


def merge(*scoreds: Scored) -> Scored:
    out = Scored()
    for s in scoreds:
        out.drift.update(s.drift)
        out.quality.update(s.quality)
        out.performance.update(s.performance)
    return out


def context(traffics: list[ScenarioTraffic], runs: list[ScenarioRun], scored: Scored, *,
            window: int = 500, label_delay: int = 3, batch_size: int = 100,
            baseline: tuple[float, float] | None = None, ex=None,
            predictions: dict[str, dict[str, str | float]] | None = None, **transcript: object) -> CheckContext:
    """A CheckContext over hand-made traffic; `baseline` = (majority, plain_model) accuracy.

    `ex` (default: support-triage) and `predictions` (per-record baseline predictions) serve
    the regression tests (see the regression section below)."""
    ex = ex or exercise()
    t = Transcript(exercise=ex.id, submission="test-sub", runtime="local", runs=runs, **transcript)  # type: ignore[arg-type]
    scen = {tr.scenario: Scenario(name=tr.scenario, window=window, label_delay=label_delay, batch_size=batch_size,
                                  phases=[{"name": "x", "records": 1}]) for tr in traffics}
    base = {"majority": baseline[0], "plain_model": baseline[1]} if baseline else {}
    return CheckContext(exercise=ex, transcript=t, traffic={tr.scenario: tr for tr in traffics}, scored=scored,
                        classes=list(CLASSES), baseline_accuracy=base, scenarios=scen, seed=42,
                        baseline_predictions=dict(predictions or {}))


# --- a standard drift scenario: stable -> shifted -> stable, plus a quality outage -----------------

def standard(answer=sound_answer, monitor: Monitor | None = None, **sim: object) -> CheckContext:
    drift_tr, s1 = traffic("drift", [
        PhaseSpec("stable", 1500, kinds=["clean"] * 7 + ["recoverable", "invalid", "clean"], drift="silent",
                  quality="silent", performance="silent"),
        PhaseSpec("launch", 1500, kinds=["clean", "unfamiliar", "clean", "recoverable"], shifts=["new_category"],
                  drift_fields=["product"], drift="detect"),
    ])
    out_tr, s2 = traffic("outage", [
        PhaseSpec("calm", 1000, kinds=["clean"], drift="silent", quality="silent"),
        PhaseSpec("burst", 1000, kinds=["recoverable", "clean"], shifts=["missing_burst"],
                  quality_fields=["order_value"], quality="detect"),
    ])
    pol_tr, s3 = traffic("policy", [
        PhaseSpec("before", 1000, kinds=["clean"], performance="silent"),
        PhaseSpec("after", 1500, kinds=["clean"], shifts=["concept_drift"], performance="detect"),
    ])
    scored = merge(s1, s2, s3)
    mon = monitor or oracle_monitor()
    runs = [simulate(tr, scored, answer, mon, **sim) for tr in (drift_tr, out_tr, pol_tr)]  # type: ignore[arg-type]
    return context([drift_tr, out_tr, pol_tr], runs, scored, baseline=(0.2, 0.7),
                   predictions={"plain_model": plain_predictions([drift_tr, out_tr, pol_tr])},
                   startup_s=5.0, peak_memory_mb=300.0,
                   probes=[Probe(name="not_json", sent="{oops", status_code=400),
                           Probe(name="no_records", sent="{}", status_code=422)],
                   load=LoadRun(concurrency=8, batch_size=100, latencies_ms=[50.0 + i for i in range(100)]),
                   restart=RestartRun(attempted=True, ready_s=4.0, served_after=True))


def run_check(check_id: str, ctx: CheckContext):
    """Run one registered check on a hand-made context."""
    from grader.checks.base import REGISTRY
    return REGISTRY[check_id]().run(ctx)


# --- regression: a numeric target with a daily season, and its naive baselines ---------------------

SEASON = 48  # half-hours in a day: the seasonal-naive forecast is the value one season ago


def regression_exercise():
    """support-triage's settings graded as regression (the checks only read target, metric, weights)."""
    base = exercise()
    return type(base).model_validate({**base.model_dump(), "root": base.root, "target": "regression", "metric": "mae"})


def _level(i: int) -> float:
    import math

    return 100.0 + 20.0 * math.sin(2 * math.pi * i / SEASON)


def regression_traffic(scenario: str, specs: list[PhaseSpec], seed: int = 3, noise: float = 8.0,
                       offset: float = 0.0) -> tuple[ScenarioTraffic, Scored, dict[str, dict[str, str | float]]]:
    """Float truths (a daily sine plus noise) and the two naive baselines' predictions per record.

    Each record carries `load_last_season` (the seasonal-naive forecast: the level one season
    ago with its own noise); the plain model is the truth plus noise of a third of the size.
    `offset` moves the truths of shifted phases (a concept change the naive forecast misses).
    """
    import random

    rng = random.Random(seed)
    tr, scored = traffic(scenario, specs)
    seasonal: dict[str, str | float] = {}
    plain: dict[str, str | float] = {}
    for ph in tr.phases:
        for k, (rec, t) in enumerate(zip(ph.records, ph.truths)):
            y = _level(t.index) + rng.gauss(0, noise) + (offset if ph.truth.shifts else 0.0)
            last = round(_level(t.index - SEASON) + rng.gauss(0, noise), 1)
            rec.clear()
            rec.update({"id": t.id, "site": "north", "timestamp": f"2026-03-14T{(t.index // 2) % 24:02d}:"
                        f"{30 * (t.index % 2):02d}:00Z", "temperature": 12.5, "load_last_season": last})
            if t.kind == "recoverable":
                rec["temperature"] = "12.5 °C"
            elif t.kind == "invalid":
                rec["timestamp"], rec["load_last_season"] = None, None
            elif t.kind == "unfamiliar":
                rec["site"] = "new-substation"
            ph.truths[k] = t.model_copy(update={"label": round(y, 2)})
            if t.kind != "invalid":
                seasonal[t.id] = last
            plain[t.id] = round(y + rng.gauss(0, noise / 3), 1)
    return tr, scored, {"seasonal_naive": seasonal, "plain_model": plain}


def forecast(noise: float = 1.0, seed: int = 5):
    """A sound forecasting service: the truth plus a little noise, statuses as the oracle's."""
    import random

    rng = random.Random(seed)

    def answer(rec: dict, t: RecordTruth) -> Result:
        base = oracle_answer(rec, t)
        if base.prediction is None:
            return base
        return base.model_copy(update={"prediction": round(float(t.label) + rng.gauss(0, noise), 2)})  # type: ignore[arg-type]
    return answer


def constant_forecast(value: float):
    return lambda rec, t: Result(id=t.id, status="ok", prediction=value, confidence=None)


def seasonal_echo(rec: dict, t: RecordTruth) -> Result:
    """Repeat the value one season ago (what the record carries): the seasonal-naive forecast."""
    return Result(id=t.id, status="ok", prediction=rec.get("load_last_season"))


def regression_standard(answer=None, monitor: Monitor | None = None, **sim: object) -> CheckContext:
    """A regression context: a stable scenario and one whose load moves (offset), with perf alarms scored."""
    stable, s1, p1 = regression_traffic("daily", [
        PhaseSpec("stable", 1500, kinds=["clean"] * 7 + ["recoverable", "invalid", "clean"], drift="silent",
                  quality="silent", performance="silent"),
    ])
    moved, s2, p2 = regression_traffic("heat", [
        PhaseSpec("before", 1000, kinds=["clean"], drift="silent", performance="silent"),
        PhaseSpec("after", 1500, kinds=["clean", "recoverable", "clean", "unfamiliar"], shifts=["concept_drift"],
                  performance="detect"),
    ], seed=4, offset=25.0)
    scored = merge(s1, s2)
    preds = {m: {**p1[m], **p2[m]} for m in p1}
    mon = monitor or oracle_monitor()
    runs = [simulate(tr, scored, answer or forecast(), mon, **sim) for tr in (stable, moved)]  # type: ignore[arg-type]
    return context([stable, moved], runs, scored, ex=regression_exercise(), predictions=preds)
