"""Join what replay recorded to ground truth, one row per held-back record.

Every record-level check (validation, degradation, accuracy) starts here, so they agree
on the hard cases: a record in a batch that failed, or never sent because replay
stopped, is *not served* — silence never earns credit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from grader.contract import Result
from grader.target import Classification, Target, target_for
from grader.transcript import Exchange
from grader.truth import RecordTruth

from grader.checks.base import CheckContext

log = logging.getLogger(__name__)

BROKEN_ERRORS = frozenset({"timeout", "connection", "server_error", "not_json", "contract", "too_large"})


@dataclass(eq=False)  # identity: rows are compared with `in` over thousands of records
class Outcome:
    truth: RecordTruth
    record: dict | None  # the wire record as sent (None when the traffic has no payload for it)
    exchange: Exchange | None  # None: never sent
    result: Result | None  # None: no usable answer for this record
    # what a usable prediction is and when it is right (the exercise's target kind)
    target: Target = field(default_factory=Classification)

    @property
    def sent(self) -> bool:
        return self.exchange is not None

    @property
    def status(self) -> str:
        """What came back for this record, as a short word for evidence."""
        if self.exchange is None:
            return "not sent"
        if self.result is not None:
            return self.result.status
        ex = self.exchange
        if ex.status_code is not None and ex.status_code >= 400:
            return f"HTTP {ex.status_code}"
        return ex.error or "no result"

    @property
    def served(self) -> bool:
        """Answered with a usable prediction: not invalid, a prediction the target can score (a number, for
        regression)."""
        return (self.result is not None and self.result.status != "invalid"
                and self.target.usable(self.result.prediction))

    @property
    def declined(self) -> bool:
        """The service answered this record and chose not to score it (no broken batch)."""
        return self.result is not None and not self.served

    @property
    def flagged(self) -> bool:
        return self.result is not None and (self.result.status == "coerced" or bool(self.result.issues))

    def correct(self) -> bool:
        if not self.served or self.truth.label is None:
            return False
        return self.target.error(self.result.prediction, self.truth.label) == 0  # type: ignore[union-attr]

    def describe(self) -> str:
        """One line for the failures list: id, truth kind and injections, what came back."""
        t = self.truth
        inj = ", ".join(f"{i.field}:{i.code}" for i in t.injections) or "none"
        line = f"{t.id} [{t.scenario}/{t.phase}] truth={t.kind} (injections: {inj}) -> {self.status}"
        if self.result is not None:
            if self.result.prediction is not None:
                line += f", prediction={self.result.prediction!r}"
                if self.result.status != "invalid" and not self.served:  # answered, but nothing the target scores
                    line += f" (not served: {self.target.unusable(self.result.prediction)})"
            if self.result.issues:
                line += ", issues=" + ", ".join(f"{i.field}:{i.code}" for i in self.result.issues[:4])
        if self.record is not None:
            shown = {i.field: self.record.get(i.field, "<absent>") for i in t.injections[:3]}
            if shown:
                line += f"; sent {_short(shown)}"
        if self.exchange is not None and self.result is None and self.exchange.detail:
            line += f"; answer: {_short(self.exchange.detail)}"
        return line


def _short(value: object, n: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= n else text[: n - 3] + "..."


def batch_failed(ex: Exchange) -> bool:
    """A 5xx or a transport/contract failure: the service broke, not the input."""
    return (ex.status_code is not None and ex.status_code >= 500) or (ex.error in BROKEN_ERRORS)


def outcomes(ctx: CheckContext, scenarios: Iterable[str] | None = None) -> list[Outcome]:
    """Every held-back record with what happened to it, in scenario then index order."""
    names = tuple(scenarios if scenarios is not None else ctx.traffic)
    key = ("outcomes", id(ctx.transcript), len(ctx.transcript.runs), names)
    if key not in ctx.cache:
        ctx.cache[key] = _join(ctx, names)
    return list(ctx.cache[key])


def _join(ctx: CheckContext, names: tuple[str, ...]) -> list[Outcome]:
    runs = {r.scenario: r for r in ctx.transcript.runs}
    target = target_for(ctx.exercise)
    out: list[Outcome] = []
    for name in names:
        traffic = ctx.traffic[name]
        sent: dict[str, tuple[Exchange, Result | None]] = {}
        run = runs.get(name)
        for ex in run.exchanges if run else []:
            by_id = {}
            if ex.results is not None and not batch_failed(ex) and (ex.status_code or 200) < 300:
                by_id = {r.id: r for r in ex.results}
            for rid in ex.ids:
                sent[rid] = (ex, by_id.get(rid))
        for phase in traffic.phases:
            if phase.truth.kind != "traffic":  # load/restart pools are scored by operations checks
                continue
            payload = {str(r.get("id")): r for r in phase.records if isinstance(r, dict)}
            for t in phase.truths:
                ex, res = sent.get(t.id, (None, None))
                out.append(Outcome(truth=t, record=payload.get(t.id), exchange=ex, result=res, target=target))
    return out


def served_calls(ctx: CheckContext) -> tuple[int, int]:
    """(answered, due): /predict calls of replay and of the load run answered with a usable 200.

    Calls replay never made (it stopped early) are due but not answered: a service that
    hangs or dies keeps no credit for what it never served.
    """
    answered = due = 0
    runs = {r.scenario: r for r in ctx.transcript.runs}
    for name, traffic in ctx.traffic.items():
        run = runs.get(name)
        batch = run.batch_size if run else ctx.scenario_params(name)[2]
        exchanges = run.exchanges if run else []
        owed = sum(-(-len(p.records) // batch) for p in traffic.phases if p.truth.kind == "traffic")
        due += max(owed, len(exchanges))
        answered += sum(1 for ex in exchanges if not batch_failed(ex) and ex.status_code == 200
                        and ex.results is not None)
    load = ctx.transcript.load
    if load is not None:
        answered += len(load.latencies_ms)
        due += len(load.latencies_ms) + load.errors
    return answered, due


def probe_outcomes(ctx: CheckContext) -> list[Outcome]:
    """The accuracy probe's records (clean, in distribution, in clean-only batches) with their answers."""
    probe = ctx.transcript.accuracy_probe
    if not probe:
        return []
    truths: dict[str, tuple[RecordTruth, dict]] = {}
    for traffic in ctx.traffic.values():
        for phase in traffic.phases:
            for rec, t in zip(phase.records, phase.truths):
                truths[t.id] = (t, rec)
    target = target_for(ctx.exercise)
    out: list[Outcome] = []
    for ex in probe:
        by_id = {}
        if ex.results is not None and not batch_failed(ex) and (ex.status_code or 200) < 300:
            by_id = {r.id: r for r in ex.results}
        for rid in ex.ids:
            if rid in truths:
                t, rec = truths[rid]
                out.append(Outcome(truth=t, record=rec, exchange=ex, result=by_id.get(rid), target=target))
    return out


def iter_kind(rows: list[Outcome], *kinds: str) -> Iterator[Outcome]:
    return (o for o in rows if o.truth.kind in kinds)


def pct(num: float, den: float) -> str:
    return f"{num}/{den} ({100.0 * num / den:.1f}%)" if den else f"{num}/0"


def ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def clip01(x: float) -> float:
    return max(0.0, min(1.0, x))
