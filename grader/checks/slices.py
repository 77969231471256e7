"""Slice monitoring: a performance alarm for the right group when only that group's outcomes move.

Overall accuracy can stay flat while one group's drops (the others' rises). The service
reports per-group performance in `/monitoring` → `performance.slices` (contract v1,
optional): `{"field", "value", "metric", "metric_value", "degraded"}`. Calibration decides,
per phase and group of the exercise's slice fields, whether the reference finds that
group's drop ("detect") or never does ("silent"); only those are scored.

Score = mean delay credit over scored group onsets (the label delay allowed, as for the
overall performance alarm) x J, where J = P(the degraded group flagged, and no silent group
| a group must be detected) - P(any group flagged | every group must stay silent). A service
that watches overall accuracy only reports no slice and scores 0; flagging every group all
the time has J = 0.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from grader.checks.alarms import delay_credit, reads_of
from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.transcript import MonitorRead

log = logging.getLogger(__name__)

Group = tuple[str, str]  # (field, value), normalised
_SEPARATORS = re.compile(r"[\s_\-]+")


def _norm(v: object) -> str:
    """A group as a service may spell it: case, and spaces, underscores and dashes between words, do not
    matter ("Very Good", "very_good" and "very-good" are one group: a service that canonicalises a
    category's spelling names the same group)."""
    return _SEPARATORS.sub(" ", str(v).strip().lower())


def flagged(read: MonitorRead) -> set[Group] | None:
    """Groups the service calls degraded in this read; None when the read failed."""
    if read.view is None:
        return None
    slices = read.view.performance.slices or []
    return {(_norm(s.field), _norm(s.value)) for s in slices if s.degraded}


@dataclass
class GroupOnset:
    scenario: str
    phase: str
    group: Group
    credit: float
    note: str


@register
class SliceAlarm(Check):
    id = "slice_alarm"
    dimension = "degradation"
    title = "Per-group performance alarm (slice monitoring)"
    needs = frozenset({'slice_onset', 'labels'})

    def run(self, ctx: CheckContext) -> CheckResult:
        exp = {(s, p, _norm(f), _norm(v)): e for (s, p, f, v), e in ctx.scored.slices.items()}
        detect = {(s, p): set() for (s, p, f, v), e in exp.items() if e == "detect"}
        for (s, p, f, v), e in exp.items():
            if e == "detect":
                detect[(s, p)].add((f, v))
        if not detect:
            return self.not_measured("no group's performance drop passed calibration as 'must detect'")
        silent_groups = {(s, p): {(f, v) for (s2, p2, f, v), e in exp.items() if (s2, p2) == (s, p) and e == "silent"}
                         for (s, p, _, _) in exp}
        onsets: list[GroupOnset] = []
        on_det = n_det = on_sil = n_sil = 0
        for name in ctx.traffic:
            window, label_delay, batch = ctx.scenario_params(name)
            allowance = label_delay * batch
            reads = reads_of(ctx, name)
            phases = [p for p in ctx.phases(name) if p.kind == "traffic"]
            last = max((p.end for p in phases), default=0)
            for ph in phases:
                key = (name, ph.name)
                lo, hi = ph.start + allowance + window, min(ph.end + allowance, last)
                if key in detect:
                    groups, wrong = detect[key], silent_groups.get(key, set())
                    for g in sorted(groups):
                        onsets.append(self._onset(name, ph.name, g, ph.start, reads, window, allowance, wrong))
                    if lo < hi:
                        mine = [r for r in reads if lo < r.records_seen <= hi]
                        n_det += max(len(mine), math.ceil((hi - lo) / batch))
                        on_det += sum(1 for r in mine if (f := flagged(r)) is not None and groups <= f
                                      and not (f & wrong))
                elif key in silent_groups and not any(exp.get((name, ph.name, f, v)) == "detect"
                                                      for f, v in silent_groups[key]):
                    # a stable phase for every group: the grace of one window plus the label delay
                    lo = ph.start + window + allowance
                    if lo >= ph.end:
                        continue
                    mine = [r for r in reads if lo < r.records_seen <= ph.end]
                    n = max(len(mine), math.ceil((ph.end - lo) / batch))
                    n_sil += n
                    # a failed or missing read in a stable phase counts as an alarm (no credit for silence)
                    on_sil += (n - len(mine)) + sum(1 for r in mine if (f := flagged(r)) is None or f)
        tpr = on_det / n_det if n_det else None
        fpr = on_sil / n_sil if n_sil else 0.0
        j = max(0.0, (tpr or 0.0) - fpr)
        credit = sum(o.credit for o in onsets) / len(onsets)
        score = credit * j
        lines = [f"{o.scenario}/{o.phase} {o.group[0]}={o.group[1]}: {o.note}, credit {o.credit:.2f}" for o in onsets]
        evidence = (f"{len(onsets)} group performance drop(s) the calibrated reference finds. Expected "
                    f"performance.slices to mark that group degraded (and no group that stayed well) within one "
                    f"window after the labels of the first drifted batch arrive, fading to none at three. "
                    + "; ".join(lines)
                    + f". Counterweight: the right group flagged in {_pct(tpr)} of {n_det} reads after the onsets, "
                    f"some group flagged in {_pct(fpr)} of {n_sil} reads of stable traffic (J = {j:.2f}). "
                    f"Score = {credit:.2f} x {j:.2f} = {score:.2f}.")
        debrief = []
        if score < self.pass_mark:
            o = min(onsets, key=lambda x: x.credit)
            debrief.append(f"In {o.scenario}, outcomes changed for {o.group[0]} = {o.group[1]} only (overall accuracy "
                           f"can hide it) and the per-group alarm {o.note}. Ask how they would learn that one group "
                           "is treated worse than before, and how they chose the groups and the test.")
        if fpr > 0.1:
            debrief.append(f"A group was flagged in {fpr:.0%} of stable reads. Ask how they avoid false alarms when "
                           "testing many groups at once.")
        return self.result(score, evidence, failures=[ln for ln, o in zip(lines, onsets) if o.credit < 1][:4],
                           debrief=debrief, metrics={"delay_credit": credit, "on_degraded": tpr, "on_stable": fpr,
                                                     "j": j, "onsets": len(onsets)})

    @staticmethod
    def _onset(scenario: str, phase: str, group: Group, start: int, reads: list[MonitorRead], window: int,
               allowance: int, wrong: set[Group]) -> GroupOnset:
        before = [r for r in reads if r.records_seen <= start]
        was_on = bool(before) and group in (flagged(before[-1]) or set())
        last = was_on  # an alarm already on must be raised afresh (an off -> on edge)
        hi = start + allowance + 3 * window
        for r in (r for r in reads if start < r.records_seen <= hi):
            f = flagged(r) or set()
            on = group in f and not (f & wrong)
            if on and not last:
                delay = r.records_seen - start
                return GroupOnset(scenario, phase, group, delay_credit(max(0, delay - allowance), window),
                                  f"was flagged {delay} records after the onset (the label delay allows {allowance})")
            last = on
        return GroupOnset(scenario, phase, group, 0.0,
                          "was already flagged before the onset and never raised afresh" if was_on else
                          "was never flagged")


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"
