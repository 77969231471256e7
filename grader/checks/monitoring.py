"""Monitoring: drift alarms soon after each onset, silence in stable phases, the right fields named.

Only phases that passed calibration are scored (ctx.scored). Every check of a signal is
multiplied by that signal's discrimination J = P(on | shifted) - P(on | stable)
(alarms.discrimination): never-on, always-on and timer alarms have J = 0, so neither
speed nor silence is paid for alone. An always-on alarm also earns no delay credit (it
must be raised afresh); naming every field has attribution informedness 0.
"""
from __future__ import annotations

import logging

from grader.checks.alarms import OnsetScore, discrimination, named, score_onsets, silent_stats, state
from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import clip01
from grader.truth import PhaseTruth

log = logging.getLogger(__name__)

FALSE_ALARM_SHARE_ZERO = 0.10  # share of silent-phase reads alarmed at which drift_false_alarms reaches 0


def _onset_lines(onsets: list[OnsetScore], ctx: CheckContext) -> list[str]:
    lines = []
    for o in onsets:
        window = ctx.scenario_params(o.scenario)[0]
        lines.append(f"{o.scenario}/{o.phase} (onset at record {o.start}, window {window}): alarm {o.note}, "
                     f"credit {o.credit:.2f}")
    return lines


def _drawn_note(n: int) -> str:
    if not n:
        return ""
    return (f"; {n} read(s) not counted: there this seed's stable traffic itself looked shifted to the "
            "grader's calibrated detector (a chance draw a sound monitor alarms on)")


def wire_fields(ctx: CheckContext) -> set[str]:
    """The fields a service can name: the documented input fields (else every field the traffic carried).

    Junk extra fields and renamed ones are not part of it: naming every documented field
    is what an alarm that says nothing does.
    """
    if ctx.fields:
        return {f.strip().lower() for f in ctx.fields}
    key = ("wire_fields",)
    if key not in ctx.cache:
        names: set[str] = set()
        for traffic in ctx.traffic.values():
            for phase in traffic.phases:
                for rec in phase.records:
                    if isinstance(rec, dict):
                        names.update(str(k).strip().lower() for k in rec)
        names.discard("id")
        ctx.cache[key] = names
    return ctx.cache[key]


def field_informedness(named_set: set[str], truth: set[str], universe: set[str]) -> tuple[float, float, float]:
    """(precision, recall, informedness): recall of the true fields minus the share of the others named.

    Naming every field, or none, scores 0; naming exactly the moved fields scores 1.
    """
    if not named_set or not truth:
        return 0.0, 0.0, 0.0
    tp = len(named_set & truth)
    others = (universe | named_set) - truth
    fpr = len(named_set - truth) / len(others) if others else 0.0
    p, r = tp / len(named_set), tp / len(truth)
    return p, r, max(0.0, r - fpr)


def moved_fields(ctx: CheckContext, scenario: str, ph: PhaseTruth) -> tuple[set[str], set[str], str]:
    """(must name, either way, a note on how they were measured) for one drift onset.

    From calibration when the plan has it; else (hand-made contexts, older plans) the
    injected fields. A field the shift was injected into but the reference rarely finds
    is never held against a service that names it.
    """
    injected = {f.lower() for f in ph.drift_fields}
    truth = ctx.scored.attribution.get((scenario, ph.name))
    if truth is None or not (truth.moved or injected):
        return injected, set(), ""
    moved = set(truth.moved) or injected
    unclear = (set(truth.unclear) | injected) - moved
    shown = ", ".join(f"{f} {r:.2f}" for f, r in truth.rates[:6])
    return moved, unclear, f" [reference rates: {shown}]" if shown else ""


@register
class DriftAlarmDelay(Check):
    id = "drift_alarm_delay"
    dimension = "monitoring"
    title = "Drift alarm soon after each onset"
    needs = frozenset({'drift_onset'})

    def run(self, ctx: CheckContext) -> CheckResult:
        onsets = score_onsets(ctx, "drift", full=1.0, zero=3.0)
        if not onsets:
            return self.not_measured("no drift onset passed calibration as 'must detect'")
        credit = sum(o.credit for o in onsets) / len(onsets)
        disc = discrimination(ctx, "drift")
        score = credit * disc.j
        missed = [o for o in onsets if o.credit < 1.0]
        evidence = (f"{len(onsets)} drift onset(s) the calibrated reference detector finds reliably. Expected "
                    f"drift.detected = true in /monitoring within one window of records after each onset "
                    f"(full credit), fading to none at three windows. "
                    + "; ".join(_onset_lines(onsets, ctx))
                    + f". Counterweight: {disc.describe('drift')}. Score = delay credit {credit:.2f} x J {disc.j:.2f}.")
        debrief = []
        if score < self.pass_mark and missed:
            o = missed[0]
            fields = next((p.drift_fields for p in ctx.phases(o.scenario) if p.name == o.phase), [])
            debrief.append(f"In scenario {o.scenario}, {', '.join(fields) or 'the input distribution'} shifted at "
                           f"record {o.start} and the drift alarm {o.note}. Ask what their monitor compares, over "
                           "what window, and how they chose its threshold.")
        if disc.j < self.pass_mark and credit >= self.pass_mark:
            debrief.append(f"The drift alarm came on after the onsets but did not separate shifted from stable "
                           f"traffic ({disc.describe('drift')}). Ask what decides when their alarm is on.")
        return self.result(score, evidence, failures=[f"{o.scenario}/{o.phase}: alarm {o.note}" for o in missed[:5]],
                           debrief=debrief, metrics={"onsets": len(onsets), "delay_credit": credit,
                                                     "detected": sum(1 for o in onsets if o.credit > 0),
                                                     "on_shifted": disc.tpr, "on_stable": disc.fpr, "j": disc.j})


@register
class DriftFalseAlarms(Check):
    id = "drift_false_alarms"
    dimension = "monitoring"
    title = "No drift alarm in stable phases"
    needs = frozenset({'drift_stable'})

    def run(self, ctx: CheckContext) -> CheckResult:
        st = silent_stats(ctx, "drift")
        if not st.phases:
            return self.not_measured("no phase passed calibration as 'must stay silent'")
        if st.reads == 0:
            return self.not_measured("stable phases were too short to read after the grace window")
        share = st.share
        silence = clip01(1.0 - share / FALSE_ALARM_SHARE_ZERO)
        disc = discrimination(ctx, "drift")
        score = silence * disc.j
        evidence = (f"{st.reads} /monitoring reads over {st.records} records of {len(st.phases)} stable phase(s) "
                    f"({', '.join(st.phases)}; the first window after a shift, or after a start without restart, is "
                    f"skipped as monitor lag). Expected drift.detected = "
                    f"false throughout. Alarmed: {st.alarmed}, unreadable or never read: {st.unreadable} "
                    f"(share {share:.1%}){_drawn_note(st.drawn_moved)}; {st.episodes} alarm episode(s) = {st.per_1000:.2f} false alarms per "
                    f"1,000 records. Silence credit 1 - share/{FALSE_ALARM_SHARE_ZERO:.0%} = {silence:.2f}, times the "
                    f"counterweight ({disc.describe('drift')}): {score:.2f}. An alarm that is never on is silent "
                    f"but detects nothing, so it scores 0 here too.")
        debrief = []
        if silence < self.pass_mark:
            if st.alarmed:
                debrief.append(f"The drift alarm fired {st.per_1000:.1f} times per 1,000 records of stable traffic "
                               f"({st.examples[0] if st.examples else ''}). Ask how their test behaves on a small "
                               "window and how many fields they test at once (multiple testing).")
            if st.unreadable:
                debrief.append(f"{st.unreadable} /monitoring reads failed or never happened. Ask how an on-call "
                               "engineer would learn the model's inputs had moved.")
        return self.result(score, evidence, failures=st.examples, debrief=debrief,
                           metrics={"false_alarm_share": share, "false_alarms_per_1000": st.per_1000,
                                    "silence": silence, "j": disc.j})


@register
class DriftAttribution(Check):
    id = "drift_attribution"
    dimension = "monitoring"
    title = "Drifted fields named correctly"
    needs = frozenset({'drift_onset'})

    def run(self, ctx: CheckContext) -> CheckResult:
        onsets = score_onsets(ctx, "drift", full=1.0, zero=3.0)
        universe = wire_fields(ctx)
        lines, scores, failures, precisions = [], [], [], []
        for o in onsets:
            ph = next(p for p in ctx.phases(o.scenario) if p.name == o.phase)
            truth, unclear, measured = moved_fields(ctx, o.scenario, ph)
            if not truth:
                continue
            # quality events belong to quality_alarms; a field the shift moves only sometimes may be named or not
            ignore = {f.lower() for f in ph.quality_fields} | unclear
            alarmed = [r for r in o.reads_after if state(r, "drift") is True]
            per_read = [field_informedness(named(r, "drift") - ignore, truth, universe - ignore) for r in alarmed]
            f1 = sum(x[2] for x in per_read) / len(per_read) if per_read else 0.0
            prec = sum(x[0] for x in per_read) / len(per_read) if per_read else 0.0
            rec = sum(x[1] for x in per_read) / len(per_read) if per_read else 0.0
            scores.append(f1)
            if per_read:
                precisions.append(prec)
            seen = sorted(set().union(*(named(r, "drift") for r in alarmed))) if alarmed else []
            line = (f"{o.scenario}/{o.phase}: moved {sorted(truth)}"
                    + (f" (either way: {sorted(unclear)})" if unclear else "") + measured
                    + f", named while alarmed {seen or 'nothing'} "
                    f"over {len(alarmed)} alarmed read(s): precision {prec:.2f}, recall {rec:.2f}, informedness {f1:.2f}")
            lines.append(line)
            if f1 < 0.8:
                failures.append(line)
        if not scores:
            return self.not_measured("no scored drift onset has known drifted fields")
        named_score = sum(scores) / len(scores)
        disc = discrimination(ctx, "drift")
        score = named_score * disc.j
        evidence = ("Expected drift.features to name the raw fields that moved, while the alarm is on. Moved "
                    "fields are those the grader's calibrated reference detector finds shifted in >= 95 % of "
                    "windows of the phase (a shift moves more than the field it starts in); a field it finds in "
                    "under 5 % counts against, one in between neither "
                    "(per read: share of the moved fields named minus share of the other fields named, averaged "
                    "per onset, then over onsets; quality fields are ignored here; naming every field scores 0). "
                    + "; ".join(lines) + f". Times the alarm's counterweight ({disc.describe('drift')}): "
                    f"{named_score:.2f} x {disc.j:.2f} = {score:.2f}.")
        debrief = []
        if score < self.pass_mark and failures:
            debrief.append(f"When drift was flagged the service named the wrong fields ({failures[0][:220]}). "
                           "Ask how an on-call engineer would use their alarm to find the upstream change.")
        return self.result(score, evidence, failures=failures[:5], debrief=debrief,
                           metrics={"informedness": named_score, "onsets": len(scores), "j": disc.j,
                                    # the worst onset's precision, over onsets with an alarmed read
                                    "min_precision": min(precisions) if precisions else None})


@register
class QualityAlarms(Check):
    id = "quality_alarms"
    dimension = "monitoring"
    title = "Data-quality alarms on outages and schema changes"
    needs = frozenset({'quality_onset'})

    FULL, ZERO = 1.0, 2.5  # windows after onset

    def run(self, ctx: CheckContext) -> CheckResult:
        onsets = score_onsets(ctx, "quality", full=self.FULL, zero=self.ZERO)
        if not onsets:
            return self.not_measured("no data-quality onset passed calibration as 'must detect'")
        parts, lines = [], []
        universe = wire_fields(ctx)
        for o in onsets:
            ph = next(p for p in ctx.phases(o.scenario) if p.name == o.phase)
            truth = {f.lower() for f in ph.quality_fields}
            window = ctx.scenario_params(o.scenario)[0]
            # features: the best alarmed read in range, by informedness (naming everything earns nothing)
            best = 0.0
            for r in o.reads_after:
                if state(r, "quality") is True:
                    best = max(best, field_informedness(named(r, "quality"), truth, universe)[2])
            feat = best if truth else 1.0
            onset_score = o.credit * (0.5 + 0.5 * feat)
            parts.append(onset_score)
            lines.append(f"{o.scenario}/{o.phase} (fields {sorted(truth) or '-'}, window {window}): alarm {o.note}, "
                         f"delay credit {o.credit:.2f}, field credit {feat:.2f}")
        onset_score = sum(parts) / len(parts)
        st = silent_stats(ctx, "quality")
        disc = discrimination(ctx, "quality")
        score = onset_score * disc.j
        evidence = (f"{len(onsets)} data-quality onset(s) (missing-value bursts, renamed fields). Expected "
                    f"data_quality.detected within {self.FULL:g} window (fading to none at {self.ZERO:g}) naming the "
                    f"affected fields (half credit without them). " + "; ".join(lines)
                    + f". Counterweight: {st.reads} reads in quality-stable phases, alarmed or unreadable "
                    f"{st.alarmed + st.unreadable} (share {st.share:.1%}); {disc.describe('data-quality')}. "
                    f"Score = onset {onset_score:.2f} x J {disc.j:.2f} = {score:.2f}.")
        debrief = []
        if onset_score < self.pass_mark:
            o = min(onsets, key=lambda x: x.credit)
            ph = next(p for p in ctx.phases(o.scenario) if p.name == o.phase)
            what = ", ".join(ph.shifts) or "a quality event"
            debrief.append(f"In scenario {o.scenario} ({what} on {', '.join(ph.quality_fields) or 'some fields'}) the "
                           f"data-quality alarm {o.note}. Ask how they would notice an upstream outage or a "
                           "renamed field before the model's answers go bad.")
        if st.reads and st.share > 0.1:
            debrief.append(f"The data-quality alarm was on for {st.share:.0%} of reads in quality-stable traffic. "
                           "Ask what their quality alarm means if it is always on.")
        failures = [ln for ln, p in zip(lines, parts) if p < 0.8][:4] + st.examples[:1]
        return self.result(score, evidence, failures=failures, debrief=debrief,
                           metrics={"onset_score": onset_score, "silent_share": st.share, "j": disc.j})
