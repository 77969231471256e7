"""Alarm tracks from /monitoring reads: onset delays (NAB-like) and silent-phase false alarms.

Shared by drift, data-quality and performance checks so all three treat the hard cases
the same way (research/drift.md §5, "Scoring the candidate's alarms"):

* A read that failed (no view) is *not alarmed* after an onset and *alarmed* in a silent
  phase: a service without /monitoring can neither detect nor earn credit for silence.
* An alarm that was already on when an onset came earns credit only if it was justified
  (the preceding phase was itself a scored onset for the same signal); otherwise the
  service must raise it afresh (an off -> on edge). An always-on alarm never earns delay.
* Silent phases get a grace of one window (plus the label delay for performance) after a
  phase that was not itself silent, or at a scenario's start when the service was not
  restarted before it: a recent-window monitor legitimately lags. A freshly (re)started
  service gets no grace: alarms on its first small windows are false alarms.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal

from grader.transcript import MonitorRead
from grader.truth import PhaseTruth

from grader.checks.base import CheckContext

log = logging.getLogger(__name__)

Signal = Literal["drift", "quality", "performance"]


def state(read: MonitorRead, signal: Signal) -> bool | None:
    """True/False from the service's view; None when the read failed."""
    v = read.view
    if v is None:
        return None
    if signal == "drift":
        return v.drift.detected
    if signal == "quality":
        return v.data_quality.detected
    return v.performance.degraded


def named(read: MonitorRead, signal: Signal) -> set[str]:
    v = read.view
    if v is None:
        return set()
    feats = v.drift.features if signal == "drift" else v.data_quality.features if signal == "quality" else []
    return {str(f).strip().lower() for f in feats}


def delay_credit(delay: float, window: float, full: float = 1.0, zero: float = 3.0) -> float:
    """1 up to `full` windows after onset, a sigmoid fading to exactly 0 at `zero` windows."""
    x = delay / window
    if x <= full:
        return 1.0
    if x >= zero:
        return 0.0
    mid, k = (full + zero) / 2, 8.0 / (zero - full)

    def s(v: float) -> float:
        return 1.0 / (1.0 + math.exp(k * (v - mid)))

    return (s(x) - s(zero)) / (s(full) - s(zero))


def expectations(ctx: CheckContext, signal: Signal) -> dict[tuple[str, str], str]:
    return getattr(ctx.scored, signal)


def reads_of(ctx: CheckContext, scenario: str) -> list[MonitorRead]:
    """A scenario's /monitoring reads in record order (none when it was never replayed)."""
    run = next((r for r in ctx.transcript.runs if r.scenario == scenario), None)
    return sorted(run.monitor, key=lambda m: m.records_seen) if run else []


def _carried_over(ctx: CheckContext, scenario: str) -> bool:
    """True when the service may still hold the previous scenario's window (it was not restarted).

    A fresh service (the first scenario, or one restarted before this scenario) gets no
    grace at the start: small-window false alarms right after start-up are real false alarms.
    """
    runs = ctx.transcript.runs
    run = next((r for r in runs if r.scenario == scenario), None)
    return run is not None and run is not runs[0] and run.restart_ready_s is None


def _previous(phases: list[PhaseTruth], phase: PhaseTruth) -> PhaseTruth | None:
    before = [p for p in phases if p.end <= phase.start and p.kind == "traffic"]
    return max(before, key=lambda p: p.end) if before else None


def drawn_moved(phase: PhaseTruth | None, read: MonitorRead, signal: Signal) -> bool:
    """True when this seed's own draw of a stable phase looked shifted in the window this read covers.

    The planner asks the calibrated reference detector (harness.draw); only drift has it.
    """
    return (signal == "drift" and phase is not None
            and any(lo <= read.records_seen <= hi for lo, hi in phase.drawn_moved))


def _moved_positions(phase: PhaseTruth, lo: int, batch: int) -> int:
    """How many read positions (multiples of the batch after `lo`) fall in the phase's drawn-moved spans."""
    n = 0
    for a, b in phase.drawn_moved:
        first = max(a, lo + 1)
        n += max(0, b // batch - (first - 1) // batch)
    return n


def _phase_of(phases: list[PhaseTruth], records_seen: int) -> PhaseTruth | None:
    return next((p for p in phases if p.kind == "traffic" and p.start < records_seen <= p.end), None)


@dataclass
class OnsetScore:
    scenario: str
    phase: str
    start: int
    credit: float
    delay: int | None  # records from onset to the counted alarm
    note: str
    alarm_read: MonitorRead | None = None
    reads_after: list[MonitorRead] = field(default_factory=list)  # reads in the search range


def score_onsets(ctx: CheckContext, signal: Signal, full: float = 1.0, zero: float = 3.0,
                 label_allowance: bool = False) -> list[OnsetScore]:
    """One OnsetScore per scored 'detect' phase of `signal`, in scenario order."""
    exp = expectations(ctx, signal)
    out: list[OnsetScore] = []
    for name in ctx.traffic:
        phases = ctx.phases(name)
        window, label_delay, batch = ctx.scenario_params(name)
        allowance = label_delay * batch if label_allowance else 0
        reads = reads_of(ctx, name)
        for ph in phases:
            if exp.get((name, ph.name)) != "detect":
                continue
            prev = _previous(phases, ph)
            before = [r for r in reads if r.records_seen <= ph.start]
            on_at_onset = bool(before) and state(before[-1], signal) is True
            justified = prev is not None and exp.get((name, prev.name)) == "detect"
            if on_at_onset and not justified and drawn_moved(_phase_of(phases, before[-1].records_seen),
                                                            before[-1], signal):
                justified = True  # the stable draw just before looked shifted: staying on is sound
            need_edge = on_at_onset and not justified
            hi = min(ph.start + allowance + zero * window, ph.end + allowance + window)
            after = [r for r in reads if ph.start < r.records_seen <= hi]
            hit, last = None, (on_at_onset if need_edge else False)
            for r in after:
                st = state(r, signal) is True
                if st and (not need_edge or not last):
                    hit = r
                    break
                last = st
            if hit is None:
                note = "was already on before the onset and never raised afresh" if need_edge else "was never raised"
                if not after:
                    note = "could not be read after the onset (no /monitoring reads)"
                out.append(OnsetScore(name, ph.name, ph.start, 0.0, None, note, None, after))
                continue
            delay = hit.records_seen - ph.start
            credit = delay_credit(max(0, delay - allowance), window, full, zero)
            note = f"was raised {delay} records after the onset" + (
                f" (the label delay allows {allowance})" if allowance else "")
            out.append(OnsetScore(name, ph.name, ph.start, credit, delay, note, hit, after))
    return out


@dataclass
class SilentStats:
    reads: int = 0
    alarmed: int = 0
    drawn_moved: int = 0  # reads not counted: this seed's stable draw itself looked shifted there
    unreadable: int = 0  # failed reads plus reads replay never got to
    records: int = 0
    episodes: int = 0  # off -> on edges (each alarm episode counted once)
    phases: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return (self.alarmed + self.unreadable) / self.reads if self.reads else 0.0

    @property
    def per_1000(self) -> float:
        return 1000.0 * self.episodes / self.records if self.records else 0.0


def silent_stats(ctx: CheckContext, signal: Signal, label_grace: bool = False) -> SilentStats:
    """Pool the reads of every scored 'silent' phase of `signal`."""
    exp = expectations(ctx, signal)
    st = SilentStats()
    for name in ctx.traffic:
        phases = ctx.phases(name)
        window, label_delay, batch = ctx.scenario_params(name)
        reads = reads_of(ctx, name)
        for ph in phases:
            if exp.get((name, ph.name)) != "silent":
                continue
            prev = _previous(phases, ph)
            if prev is None:
                grace = window if _carried_over(ctx, name) else 0
            else:
                grace = 0 if exp.get((name, prev.name)) == "silent" else window
            if label_grace and grace:
                grace += label_delay * batch
            lo = ph.start + grace
            if lo >= ph.end:
                continue
            mine = [r for r in reads if lo < r.records_seen <= ph.end]
            excused = _moved_positions(ph, lo, batch) if signal == "drift" else 0
            if excused:
                st.drawn_moved += excused
                mine = [r for r in mine if not drawn_moved(ph, r, signal)]
            expected = math.ceil((ph.end - lo) / batch) - excused
            missing = max(0, expected - len(mine))
            st.phases.append(f"{name}/{ph.name}")
            st.records += ph.end - lo
            st.reads += len(mine) + missing
            st.unreadable += missing
            last = False
            for r in mine:
                s = state(r, signal)
                if s is None:
                    st.unreadable += 1
                elif s:
                    st.alarmed += 1
                    if not last:
                        st.episodes += 1
                        if len(st.examples) < 5:
                            feats = ", ".join(sorted(named(r, signal))) or "none named"
                            st.examples.append(f"{name}/{ph.name}: alarm at record {r.records_seen} "
                                               f"(features: {feats})")
                last = s is True
    return st


@dataclass
class Discrimination:
    """How well one alarm signal separates 'must detect' phases from 'must stay silent' ones.

    `tpr`: share of reads alarmed in scored detect phases, from one window (plus the label
    delay for performance) after each onset to the phase end; `fpr`: the silent share of
    `silent_stats`. J = tpr - fpr (Youden's informedness) is 0 for every alarm that does not
    look at the traffic — never on, always on, on a timer, at random — whatever its duty
    cycle, and 1 for an alarm that is on exactly when it should be. Every alarm check is
    multiplied by max(0, J), so no single side of an alarm (silence, or speed) is paid alone.
    """

    tpr: float | None
    fpr: float | None
    detect_reads: int
    silent_reads: int

    @property
    def j(self) -> float:
        if self.tpr is None:
            return 0.0
        return max(0.0, self.tpr - (self.fpr or 0.0))

    def describe(self, signal: str) -> str:
        if self.tpr is None:
            return f"{signal} alarm discrimination: no read after an onset's first window, J = 0"
        fpr = f"{self.fpr:.0%} of {self.silent_reads}" if self.fpr is not None else "no stable reads"
        return (f"{signal} alarm on in {self.tpr:.0%} of {self.detect_reads} reads of shifted traffic and in "
                f"{fpr} reads of stable traffic: J = {self.j:.2f}")


def discrimination(ctx: CheckContext, signal: Signal, label_allowance: bool = False) -> Discrimination:
    key = ("discrimination", signal, label_allowance, id(ctx.transcript), len(ctx.transcript.runs))
    if key not in ctx.cache:
        ctx.cache[key] = _discrimination(ctx, signal, label_allowance)
    return ctx.cache[key]


def _discrimination(ctx: CheckContext, signal: Signal, label_allowance: bool) -> Discrimination:
    exp = expectations(ctx, signal)
    reads_n = alarmed = 0
    for name in ctx.traffic:
        window, label_delay, batch = ctx.scenario_params(name)
        allowance = label_delay * batch if label_allowance else 0
        reads = reads_of(ctx, name)
        phases = ctx.phases(name)
        last = max((p.end for p in phases if p.kind == "traffic"), default=0)
        for ph in phases:
            if exp.get((name, ph.name)) != "detect":
                continue
            # the label delay shifts a performance alarm's span past the phase end, never past the scenario
            lo, hi = ph.start + allowance + window, min(ph.end + allowance, last)
            if lo >= hi:
                continue
            mine = [r for r in reads if lo < r.records_seen <= hi]
            # a read replay never made, or one that failed, is an alarm that was not on
            reads_n += max(len(mine), math.ceil((hi - lo) / batch))
            alarmed += sum(1 for r in mine if state(r, signal) is True)
    st = silent_stats(ctx, signal, label_grace=label_allowance)
    tpr = alarmed / reads_n if reads_n else None
    fpr = st.share if st.reads else None
    return Discrimination(tpr=tpr, fpr=fpr, detect_reads=reads_n, silent_reads=st.reads)
