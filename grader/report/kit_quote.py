"""How the interview kit quotes a run: the placeholders it offers, and the few ways a record, an
answer or a /monitoring read is put into words.

Quotes are short and stable (the same run gives the same bytes): JSON as it went over the
wire, record counts with thousands separators, shares as whole percentages.
"""
from __future__ import annotations

import itertools
import json
import math
from typing import Any, Callable, Iterable

from grader.checks.alarms import Signal
from grader.checks.records import Outcome
from grader.transcript import MonitorRead

Clean = Callable[[str], bool]

# name -> what it holds (docs/interview.md lists them too; a unit test keeps the two in step)
PLACEHOLDERS: dict[str, str] = {
    "status": "how the grading ended: graded, build_failed, start_failed, crashed, timed_out",
    "status_reason": "the first reason line when the grading did not end as graded",
    "broken_batches": "/predict batches that broke (5xx, timeout, off-contract, never sent), as 'N of M'",
    "broken_sent": "a record in a batch that broke: its messy fields as the service received them",
    "broken_answer": "what that batch got back (e.g. HTTP 500 and the start of the body)",
    "malformed_rejected": "malformed bodies answered 4xx, as 'N of M'",
    "malformed_sent": "a malformed body that did not get a 4xx",
    "malformed_answer": "what came back for it",
    "invalid_count": "records sent that cannot be scored",
    "invalid_flagged_share": "share of them answered 'invalid' without a prediction",
    "invalid_missed_sent": "an unscorable record the service did not answer 'invalid': its bad fields as received",
    "invalid_missed_answer": "what the service answered for it",
    "invalid_caught_sent": "an unscorable record the service answered 'invalid': its bad fields as received",
    "invalid_caught_answer": "what the service answered for it",
    "usable_declined_share": "share of usable records answered without a prediction",
    "recoverable_count": "records sent that can be repaired",
    "recoverable_flagged_share": "share of them served and flagged as repaired",
    "recoverable_missed_sent": "a repairable record not served and flagged: its messy fields as received",
    "recoverable_missed_answer": "what the service answered for it",
    "recoverable_caught_sent": "a repairable record served and flagged: its messy fields as received",
    "recoverable_caught_answer": "what the service answered for it",
    "unfamiliar_count": "usable records with values never seen in training",
    "unfamiliar_fallback_share": "share of them answered 'fallback'",
    "unfamiliar_missed_sent": "an unfamiliar record not answered 'fallback': its unfamiliar fields as received",
    "unfamiliar_missed_answer": "what the service answered for it",
    "unfamiliar_caught_sent": "an unfamiliar record answered 'fallback': its unfamiliar fields as received",
    "unfamiliar_caught_answer": "what the service answered for it",
    "fallback_share": "share of familiar clean records the service answered 'fallback' (when it did)",
    "fallback_count": "how many familiar clean records it answered 'fallback'",
    "fallback_none_of": "familiar clean records answered, when the service answered none of them 'fallback'",
    "fallback_error": "the plain baseline's error on those fallback records",
    "fallback_error_all": "the plain baseline's error on every familiar clean record answered",
    "shift_fallback_share": "share of usable records in changed traffic the service answered 'fallback'",
    "drift_fields": "fields whose distribution moved at the first change the drift alarm caught",
    "drift_delay": "records from that change to the drift alarm",
    "drift_view": "the service's /monitoring drift answer when the alarm came on",
    "drift_missed_fields": "fields that moved at the first change the drift alarm missed or caught late",
    "drift_missed_outcome": "what the drift alarm did then ('never came on ...' / 'came on only N records after ...')",
    "drift_missed_view": "the service's /monitoring drift answer about one window into that change",
    "drift_on_changed": "share of /monitoring reads with the drift alarm on in changed traffic",
    "drift_on_steady": "share of /monitoring reads with the drift alarm on (or unreadable) in steady traffic",
    "drift_false_per_1000": "drift alarm episodes per 1,000 records of steady traffic (when there was one)",
    "drift_false_view": "a /monitoring drift answer with the alarm on in steady traffic",
    "quality_event": "what happened to the data at the first data-quality change the service caught",
    "quality_delay": "records from that change to the data-quality alarm",
    "quality_view": "the service's /monitoring data_quality answer when that alarm came on",
    "quality_missed_event": "what happened to the data at the first data-quality change missed or caught late",
    "quality_missed_outcome": "what the data-quality alarm did then",
    "quality_missed_view": "the service's /monitoring data_quality answer about one window into that change",
    "perf_delay": "records from the first change in what the labels mean to the performance alarm",
    "perf_view": "the service's /monitoring performance answer when that alarm came on",
    "perf_missed_outcome": "what the performance alarm did at the first such change it missed or caught late",
    "perf_missed_view": "the service's /monitoring performance answer a window after those labels arrived",
    "label_delay_records": "how many records later the labels of a batch reached /feedback",
    "feedback_accepted": "/feedback calls accepted, as 'N of M'",
    "slice_group": "the group whose outcomes changed while the others' did not (field = value)",
    "slice_view": "the service's /monitoring performance.slices a window after those labels arrived",
    "metric_in_distribution": "the model's metric on familiar traffic (accuracy %, or an error such as MAE)",
    "metric_under_shift": "the model's metric once the traffic changed",
    "p95_ms": "p95 latency (ms) under concurrent calls, failed requests counted as infinitely slow",
    "load_concurrency": "concurrent callers in the latency run",
    "load_requests": "requests in the latency run",
    "load_batch": "records per request in the latency run",
    "load_errors": "failed requests in the latency run",
    "startup_s": "seconds from start to a 200 from /health",
    "restart_ready_s": "seconds to ready again after a restart",
    "restart_served": "whether it served again after the restart (yes / no)",
    "peak_memory_mb": "peak resident memory in MB",
    # the exercise's settings: quoted for context, never a question's only evidence
    "p95_budget_ms": "the exercise's p95 latency budget (ms)",
    "p95_budget_half_ms": "half of that budget (ms)",
    "startup_budget_s": "the exercise's start-up budget (s)",
    "memory_limit_mb": "the container's memory limit (MB)",
    "metric_name": "the exercise's metric: accuracy, or MAE",
    "label_field": "the field the service predicts",
}
CONSTANTS = frozenset({"p95_budget_ms", "p95_budget_half_ms", "startup_budget_s", "memory_limit_mb",
                       "metric_name", "label_field"})
EXAMPLE_TRIES = 200  # records looked at for one clean example: a few suffice, a bound keeps it fast


def cut(text: str, limit: int = 80) -> str:
    """One line of at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count(n: int) -> str:
    return f"{n:,}"


def share(num: float, den: float) -> str:
    """A percentage for a person: whole numbers, one decimal below 1 %."""
    x = 100.0 * num / den if den else 0.0
    return f"{x:.1f} %" if 0 < x < 1 else f"{x:.0f} %"


def measure(value: float, metric: str) -> str:
    """An accuracy or error rate as a percentage; an error such as MAE in the exercise's units."""
    if metric == "accuracy":
        return share(value, 1)
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}"


def wire(value: Any) -> str:
    """A value as JSON, as it went over the wire (floats rounded so a quote stays short)."""
    if isinstance(value, float):
        value = round(value, 4) if math.isfinite(value) else str(value)
    return cut(json.dumps(value, ensure_ascii=False, default=str), 60)


def record_sent(o: Outcome) -> str | None:
    """The record's messy fields as the service received them (None: nothing messy to show)."""
    if o.record is None or not o.truth.injections:
        return None
    fields = list(dict.fromkeys(i.field for i in o.truth.injections))[:3]
    return ", ".join(f"{f} = {wire(o.record[f]) if f in o.record else '(absent)'}" for f in fields)


def answer_of(o: Outcome) -> str:
    """What the service answered for one record (or what became of its batch)."""
    ex = o.exchange
    if ex is None:
        return "nothing: it was never sent, as the service had stopped answering"
    if o.result is None:
        return f"HTTP {ex.status_code} for the whole batch" if ex.status_code else f"a failed call ({ex.error})"
    r = o.result
    parts = [f'status "{r.status}"']
    if r.prediction is not None:
        parts.append(f"prediction {wire(r.prediction)}")
    if r.confidence is not None:
        parts.append(f"confidence {r.confidence:.2f}")
    if r.issues:
        parts.append("issues " + ", ".join(f"{i.field}:{i.code}" for i in r.issues[:3]))
    return ", ".join(parts)


def first_clean(rows: Iterable[Outcome], clean: Clean) -> tuple[Outcome, str, str] | None:
    """Of the first EXAMPLE_TRIES records with a messy field, the one with the fewest (the plainest
    example to talk about; the earliest on a tie) whose quote and answer are clean."""
    pool = sorted(itertools.islice((o for o in rows if record_sent(o) is not None), EXAMPLE_TRIES),
                  key=lambda o: len({i.field for i in o.truth.injections}))
    for o in pool:
        sent = record_sent(o)
        if sent is not None and clean(sent) and clean(answer := answer_of(o)):
            return o, sent, answer
    return None


def example(rows: Iterable[Outcome], prefix: str, clean: Clean) -> dict[str, str]:
    """{prefix_sent, prefix_answer} for the first clean example ({} when there is none)."""
    hit = first_clean(rows, clean)
    return {f"{prefix}_sent": hit[1], f"{prefix}_answer": hit[2]} if hit else {}


def monitoring_view(read: MonitorRead | None, signal: Signal) -> str:
    """The service's own /monitoring answer for one signal, its contract fields only (extras can be long)."""
    if read is None:
        return "no /monitoring read at that point"
    v = read.view
    if v is None:
        return f"no usable answer ({'HTTP ' + str(read.status_code) if read.status_code else read.error})"
    if signal == "performance":
        p = v.performance
        value = round(p.value, 4) if p.value is not None and math.isfinite(p.value) else None
        body: dict[str, Any] = {"degraded": p.degraded, "metric": p.metric, "value": value}
    else:
        d = v.drift if signal == "drift" else v.data_quality
        feats = [str(f) for f in d.features]
        body = {"detected": d.detected, "features": feats[:8] + (["…"] if len(feats) > 8 else [])}
    return json.dumps(body, ensure_ascii=False)


def slices_view(read: MonitorRead | None) -> str:
    """The service's per-group performance (performance.slices), at most four groups."""
    if read is None or read.view is None:
        return monitoring_view(read, "performance")
    slices = read.view.performance.slices
    if not slices:
        return "no per-group figures (performance.slices empty)"
    return json.dumps([{"field": s.field, "value": s.value, "degraded": s.degraded,
                        "metric_value": None if s.metric_value is None else round(s.metric_value, 4)}
                       for s in slices[:4]], ensure_ascii=False)
