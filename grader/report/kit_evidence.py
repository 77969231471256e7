"""The run's evidence as named facts an interview question can quote (the kit's {placeholders}).

Every fact is a short string an interviewer can read aloud to the candidate: record counts
relative to a change in the traffic (never where a change began), what the service received
and answered, its own /monitoring answers, its timings (grader.report.kit_quote words them).
Scenario and phase names and the seed never become a fact; a value that could still carry one
(the candidate's own text can hold anything) is dropped by the caller's `clean` test, and an
example record is then taken from further on.
"""
from __future__ import annotations

import logging
import math

from grader.checks.alarms import Signal, discrimination, drawn_moved, reads_of, score_onsets, silent_stats, state
from grader.checks.base import CheckContext, CheckResult
from grader.checks.records import Outcome, batch_failed, iter_kind, outcomes
from grader.checks.selective import normal_coverage
from grader.report.kit_quote import (Clean, count, cut, example, first_clean, measure, monitoring_view, share,
                                     slices_view)
from grader.target import target_for
from grader.transcript import MonitorRead
from grader.truth import PhaseTruth

log = logging.getLogger(__name__)

ALARMS: dict[Signal, tuple[str, float, float]] = {  # signal -> (fact prefix, full, zero) as its check scores it
    "drift": ("drift", 1.0, 3.0), "quality": ("quality", 1.0, 2.5), "performance": ("perf", 1.0, 3.0)}
SHIFT_WORDS = {"missing_burst": "{f} started arriving empty",
               "rename_field": "{f} stopped arriving under its documented name",
               "unit_change": "{f} arrived in another unit"}


def run_facts(ctx: CheckContext, results: list[CheckResult], clean: Clean) -> dict[str, str]:
    """Every fact this run supports, name -> text; a fact that is unknown or not clean is absent."""
    ex, t = ctx.exercise, ctx.transcript
    facts = {"p95_budget_ms": f"{ex.budgets.p95_ms:g}", "p95_budget_half_ms": f"{ex.budgets.p95_ms / 2:g}",
             "startup_budget_s": f"{ex.budgets.startup_s:g}", "memory_limit_mb": f"{ex.limits.memory_mb}",
             "metric_name": target_for(ex).metric_name, "label_field": ex.label, "status": t.status}
    if t.status != "graded" and t.reasons:
        facts["status_reason"] = cut(t.reasons[0], 200)
    if t.status not in ("build_failed", "start_failed"):
        rows = outcomes(ctx) if ctx.traffic else []
        by_id = {r.id: r for r in results}
        for part in (_validation(ctx, rows, by_id, clean), _alarm_facts(ctx), _slices(ctx),
                     _degradation(ctx, rows, by_id, clean), _operations(ctx)):
            facts.update(part)
    kept = {k: v for k, v in facts.items() if clean(v)}
    if len(kept) < len(facts):
        log.info("interview kit: %d fact(s) left out as they quote held-back text", len(facts) - len(kept))
    return kept


# -- the facts, by dimension ---------------------------------------------------------------------

def _validation(ctx: CheckContext, rows: list[Outcome], by_id: dict[str, CheckResult],
                clean: Clean) -> dict[str, str]:
    out: dict[str, str] = {}
    bad = list(iter_kind(rows, "invalid"))
    if bad:
        def caught(o: Outcome) -> bool:
            return o.result is not None and o.result.status == "invalid" and o.result.prediction is None
        out["invalid_count"] = count(len(bad))
        out["invalid_flagged_share"] = share(sum(map(caught, bad)), len(bad))
        out.update(example((o for o in bad if not caught(o)), "invalid_missed", clean))
        out.update(example((o for o in bad if caught(o)), "invalid_caught", clean))
    rec = list(iter_kind(rows, "recoverable"))
    if rec:
        out["recoverable_count"] = count(len(rec))
        out["recoverable_flagged_share"] = share(sum(1 for o in rec if o.served and o.flagged), len(rec))
        out.update(example((o for o in rec if not (o.served and o.flagged)), "recoverable_missed", clean))
        out.update(example((o for o in rec if o.served and o.flagged), "recoverable_caught", clean))
    usable = list(iter_kind(rows, "clean", "recoverable", "unfamiliar"))
    if usable:
        out["usable_declined_share"] = share(sum(1 for o in usable if o.declined), len(usable))
    gate = by_id.get("no_server_errors")
    broken, batches = (gate.metrics.get("broken"), gate.metrics.get("batches")) if gate else (None, None)
    if broken and batches:
        out["broken_batches"] = f"{count(int(broken))} of {count(int(batches))}"
        hit = first_clean((o for o in rows if o.exchange is not None and batch_failed(o.exchange)), clean)
        if hit is not None:
            o, sent, answer = hit
            detail = cut(o.exchange.detail, 80) if o.exchange and o.exchange.detail else ""
            out["broken_sent"] = sent
            # replay's detail starts with the status line the answer already names
            code = o.exchange.status_code if o.exchange else None
            detail = detail.removeprefix(f"HTTP {code}").lstrip(" :") if code else detail
            out["broken_answer"] = f"{answer}: {detail}" if detail and clean(detail) else answer
    probes = ctx.transcript.probes
    if probes:
        ok = [p for p in probes if p.status_code is not None and 400 <= p.status_code < 500]
        out["malformed_rejected"] = f"{len(ok)} of {len(probes)}"
        for p in (p for p in probes if p not in ok):
            sent, got = cut(p.sent, 60), f"HTTP {p.status_code}" if p.status_code is not None else str(p.error)
            if clean(sent):
                out.update(malformed_sent=sent, malformed_answer=got)
                break
    return out


def _phase(ctx: CheckContext, scenario: str, name: str) -> PhaseTruth:
    return next(p for p in ctx.phases(scenario) if p.name == name)


def _near(reads: list[MonitorRead], at: int) -> MonitorRead | None:
    """The first read at or past `at` records (else the last one): what the service said by then."""
    return next((r for r in reads if r.records_seen >= at), reads[-1] if reads else None)


def _alarm_facts(ctx: CheckContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for signal, (prefix, full, zero) in ALARMS.items():
        onsets = score_onsets(ctx, signal, full=full, zero=zero, label_allowance=signal == "performance")
        caught = next((o for o in onsets if o.alarm_read is not None), None)
        missed = next((o for o in onsets if o.credit < 1.0), None)
        if caught is not None and caught.delay is not None:
            out[f"{prefix}_delay"] = count(caught.delay)
            out[f"{prefix}_view"] = monitoring_view(caught.alarm_read, signal)
            if signal != "performance":
                out.update(_what_moved(ctx, signal, caught.scenario, caught.phase, prefix))
        if missed is not None:
            window, delay, batch = ctx.scenario_params(missed.scenario)
            allowance = delay * batch if signal == "performance" else 0
            out[f"{prefix}_missed_outcome"] = (f"came on only {count(missed.delay)} records after the change"
                                               if missed.delay is not None
                                               else "never came on while the changed traffic lasted")
            at = missed.start + allowance + window
            out[f"{prefix}_missed_view"] = monitoring_view(_near(missed.reads_after, at), signal)
            if signal != "performance":
                out.update(_what_moved(ctx, signal, missed.scenario, missed.phase, f"{prefix}_missed"))
        if signal == "performance" and onsets:
            window, delay, batch = ctx.scenario_params(onsets[0].scenario)
            out["label_delay_records"] = count(delay * batch)
    disc = discrimination(ctx, "drift")
    if disc.tpr is not None:
        out["drift_on_changed"] = share(disc.tpr, 1)
        out["drift_on_steady"] = share(disc.fpr or 0.0, 1)
    st = silent_stats(ctx, "drift")
    if st.episodes:  # only a real alarm in steady traffic is a false alarm worth asking about
        out["drift_false_per_1000"] = f"{st.per_1000:.1f}"
        read = _steady_alarm(ctx)
        if read is not None:
            out["drift_false_view"] = monitoring_view(read, "drift")
    calls = [f for r in ctx.transcript.runs for f in r.feedback]
    if calls:
        out["feedback_accepted"] = f"{sum(1 for f in calls if f.status_code in (200, 202)):,} of {len(calls):,}"
    return out


def _what_moved(ctx: CheckContext, signal: Signal, scenario: str, phase: str, prefix: str) -> dict[str, str]:
    """drift: {prefix_fields: the fields that moved}; quality: {prefix_event: what happened to the data}."""
    ph = _phase(ctx, scenario, phase)
    if signal == "drift":
        return {f"{prefix}_fields": ", ".join(ph.drift_fields)} if ph.drift_fields else {}
    fields = ", ".join(ph.quality_fields) or "some fields"
    kind = next((k for k in ph.shifts if k in SHIFT_WORDS), None)
    return {f"{prefix}_event": SHIFT_WORDS[kind].format(f=fields) if kind else f"the quality of {fields} changed"}


def _steady_alarm(ctx: CheckContext) -> MonitorRead | None:
    """The first drift alarm in steady traffic after a window's grace (a chance-shifted draw excused)."""
    for name in ctx.traffic:
        window = ctx.scenario_params(name)[0]
        reads = reads_of(ctx, name)
        for ph in ctx.phases(name):
            if ctx.scored.drift.get((name, ph.name)) != "silent":
                continue
            for r in reads:
                if (ph.start + window < r.records_seen <= ph.end and state(r, "drift") is True
                        and not drawn_moved(ph, r, "drift")):
                    return r
    return None


def _slices(ctx: CheckContext) -> dict[str, str]:
    detect = sorted(k for k, e in ctx.scored.slices.items() if e == "detect" and k[0] in ctx.traffic)
    if not detect:
        return {}
    scenario, phase, field, value = detect[0]
    ph = _phase(ctx, scenario, phase)
    window, delay, batch = ctx.scenario_params(scenario)
    read = _near([r for r in reads_of(ctx, scenario) if r.records_seen > ph.start], ph.start + delay * batch + window)
    return {"slice_group": f"{field} = {value}", "slice_view": slices_view(read)}


def _degradation(ctx: CheckContext, rows: list[Outcome], by_id: dict[str, CheckResult],
                 clean: Clean) -> dict[str, str]:
    out: dict[str, str] = {}
    target = target_for(ctx.exercise)
    unf = list(iter_kind(rows, "unfamiliar"))
    if unf:
        def fell_back(o: Outcome) -> bool:
            return o.result is not None and o.result.status == "fallback"
        out["unfamiliar_count"] = count(len(unf))
        out["unfamiliar_fallback_share"] = share(sum(map(fell_back, unf)), len(unf))
        out.update(example((o for o in unf if not fell_back(o)), "unfamiliar_missed", clean))
        out.update(example((o for o in unf if fell_back(o)), "unfamiliar_caught", clean))
    _, fallback, answered = normal_coverage(rows)
    if answered and fallback:
        out["fallback_share"] = share(fallback, answered)
        out["fallback_count"] = count(fallback)
    elif answered:  # a fact of its own, so a question about never saying "unsure" can ask for it
        out["fallback_none_of"] = count(answered)
    sel = by_id.get("selective_fallback")
    risk, risk_all = (sel.metrics.get("risk_fallback"), sel.metrics.get("risk_all")) if sel else (None, None)
    if fallback and risk is not None and risk_all is not None:
        out["fallback_error"], out["fallback_error_all"] = measure(risk, target.metric), measure(risk_all, target.metric)
    shifted = {(s, p.name) for s in ctx.traffic for p in ctx.phases(s) if p.shifts and p.kind == "traffic"}
    moved = [o for o in rows if (o.truth.scenario, o.truth.phase) in shifted and o.truth.kind != "invalid"
             and o.result is not None]
    if moved:  # what the service did with changed traffic: two services with one model differ here
        out["shift_fallback_share"] = share(sum(o.result.status == "fallback" for o in moved), len(moved))  # type: ignore[union-attr]
    for check, name in (("in_distribution_accuracy", "metric_in_distribution"), ("shift_accuracy", "metric_under_shift")):
        r = by_id.get(check)
        value = target.report_value(r.metrics.get(target.metric)) if r is not None else None
        if value is not None:
            out[name] = measure(value, target.metric)
    return out


def _operations(ctx: CheckContext) -> dict[str, str]:
    t, out = ctx.transcript, {}
    load = t.load
    if load is not None and (load.latencies_ms or load.errors):
        p95 = load.p95_ms()
        if math.isfinite(p95):
            out["p95_ms"] = f"{p95:.0f}"
        out.update(load_concurrency=str(load.concurrency), load_batch=str(load.batch_size),
                   load_requests=count(len(load.latencies_ms) + load.errors), load_errors=count(load.errors))
    if t.startup_s is not None:
        out["startup_s"] = f"{t.startup_s:.1f}"
    if t.peak_memory_mb is not None:
        out["peak_memory_mb"] = f"{t.peak_memory_mb:.0f}"
    if t.restart.attempted:
        if t.restart.ready_s is not None:
            out["restart_ready_s"] = f"{t.restart.ready_s:.1f}"
        out["restart_served"] = "yes" if t.restart.served_after else "no"
    return out
