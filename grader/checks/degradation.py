"""Degradation: noticing lost accuracy, serving the unfamiliar safely, holding up under shift.

Counterweights (docs/scoring.md): performance_alarm is multiplied by the alarm's
discrimination J = P(on | degraded) - P(on | stable), so an always-on or never-on alarm
scores 0; unfamiliar_fallback is the informedness of the fallback status (unfamiliar
records sent to fallback minus familiar clean ones, the latter discounted by how informative
they are: grader.checks.selective), so always- and never-fallback score 0; shift_accuracy
asks the exercise's target (grader.target): unserved records earn nothing
and the zero anchor is the best trivial answer on exactly the records the service was scored
on (a constant; for regression also the seasonal-naive forecast), so a trivial answer scores 0.
"""
from __future__ import annotations

import logging

from grader.checks.alarms import discrimination, score_onsets, silent_stats
from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import clip01, iter_kind, outcomes, pct, ratio
from grader.checks.selective import selectivity
from grader.target import target_for

log = logging.getLogger(__name__)

MAX_FAILURES = 5


@register
class PerformanceAlarm(Check):
    id = "performance_alarm"
    dimension = "degradation"
    title = "Performance alarm after concept drift (from feedback)"
    needs = frozenset({'performance_onset', 'labels'})

    def run(self, ctx: CheckContext) -> CheckResult:
        target = target_for(ctx.exercise)
        onsets = score_onsets(ctx, "performance", full=1.0, zero=3.0, label_allowance=True)
        if not onsets:
            return self.not_measured("no performance drop passed calibration as 'must detect'")
        detect = sum(o.credit for o in onsets) / len(onsets)
        st = silent_stats(ctx, "performance", label_grace=True)
        disc = discrimination(ctx, "performance", label_allowance=True)
        score = detect * disc.j
        lines = []
        for o in onsets:
            window, delay, batch = ctx.scenario_params(o.scenario)
            lines.append(f"{o.scenario}/{o.phase} (onset at record {o.start}; labels arrive {delay} batches "
                         f"= {delay * batch} records late; window {window}): alarm {o.note}, credit {o.credit:.2f}")
        fb = sum(len(r.feedback) for r in ctx.transcript.runs)
        fb_ok = sum(1 for r in ctx.transcript.runs for f in r.feedback if f.status_code in (200, 202))
        evidence = (f"True labels were posted to /feedback {fb} times ({fb_ok} accepted). Expected "
                    f"performance.degraded = true within one window after the labels of the first drifted "
                    f"batch arrive, fading to none at three. " + "; ".join(lines)
                    + f". Counterweight: {st.reads} reads in performance-stable phases, degraded or unreadable "
                    f"{st.alarmed + st.unreadable} (share {st.share:.1%}); {disc.describe('performance')}. "
                    f"Score = delay credit {detect:.2f} x J {disc.j:.2f} = {score:.2f}.")
        debrief = []
        if detect < self.pass_mark:
            o = min(onsets, key=lambda x: x.credit)
            debrief.append(f"Labels changed meaning in {o.scenario}/{o.phase} (concept drift, invisible to input "
                           f"monitoring) and the performance alarm {o.note}. Ask how they use delayed labels "
                           f"and how soon they could know {target.worse}.")
        if st.reads and st.share > 0.1:
            debrief.append(f"performance.degraded was on for {st.share:.0%} of stable reads. Ask how they set the "
                           f"baseline their {target.metric_name} is compared against.")
        if fb and fb_ok < fb:
            debrief.append(f"{fb - fb_ok} of {fb} /feedback calls were not accepted. Ask how labels reach their model.")
        return self.result(score, evidence, failures=[ln for ln, o in zip(lines, onsets) if o.credit < 1][:4]
                           + st.examples[:1], debrief=debrief,
                           metrics={"detect": detect, "silent_share": st.share, "on_degraded": disc.tpr, "j": disc.j})


@register
class UnfamiliarFallback(Check):
    id = "unfamiliar_fallback"
    dimension = "degradation"
    title = "Unfamiliar inputs served as fallback"
    needs = frozenset({'unfamiliar'})

    def run(self, ctx: CheckContext) -> CheckResult:
        rows = outcomes(ctx)
        unf = list(iter_kind(rows, "unfamiliar"))
        if not unf:
            return self.not_measured("the held-back traffic has no unfamiliar records")
        hit = [o for o in unf if o.result is not None and o.result.status == "fallback"]
        recall = ratio(len(hit), len(unf))
        clean = [o for o in iter_kind(rows, "clean") if o.result is not None]
        fb_clean = [o for o in clean if o.result.status == "fallback"]  # type: ignore[union-attr]
        rate = ratio(len(fb_clean), len(clean))
        # A familiar fallback is a false alarm of unfamiliarity only as far as it is uninformative:
        # "my model is unsure here" on records that really are hard is what the brief asks for
        # (scored in selective_fallback), and all-fallback still has informativeness 0.
        sel = selectivity(ctx, rows)
        counted = rate * (1.0 - sel.score)
        score = clip01(recall - counted)
        missed = [o for o in unf if o.result is None or o.result.status != "fallback"]
        conf = [o.result.confidence for o in missed if o.result is not None and o.result.confidence is not None]
        mean_conf = sum(conf) / len(conf) if conf else None
        evidence = (f"Sent {len(unf)} usable but unfamiliar records (e.g. a category value never seen in training, or a reading beyond the training range). "
                    f"Expected status 'fallback'. Got it for {pct(len(hit), len(unf))}"
                    + (f"; the others were answered with mean confidence {mean_conf:.2f}" if mean_conf is not None else "")
                    + f". Counterweight: familiar clean records sent to fallback {pct(len(fb_clean), len(clean))}"
                    + (f", counted as false alarms in proportion to how uninformative they are (selective "
                       f"fallback score {sel.score:.2f}): {counted:.3f}" if fb_clean else "")
                    + f". Score = {recall:.2f} - {counted:.2f} = {score:.2f} (falling back on everything, or on "
                    f"nothing, scores 0).")
        debrief = []
        if recall < self.pass_mark and missed:
            o = missed[0]
            val = next((f"{i.field} = {o.record.get(i.field)!r}" for i in o.truth.injections if o.record), "an unseen value")
            debrief.append(f"A record with {val}, never seen in training, came back '{o.status}'"
                           + (f" with confidence {o.result.confidence:.2f}" if o.result and o.result.confidence is not None else "")
                           + ". Ask how their service knows what it does not know.")
        if counted > 0.05:
            debrief.append(f"{rate:.0%} of familiar records were answered as fallback. Ask what a fallback costs "
                           "downstream and how they chose the threshold.")
        return self.result(score, evidence, failures=[o.describe() for o in missed[:MAX_FAILURES]], debrief=debrief,
                           metrics={"recall": recall, "clean_fallback_rate": rate, "counted_false_alarms": counted})


@register
class ShiftAccuracy(Check):
    id = "shift_accuracy"
    dimension = "degradation"
    title = "Accuracy under shift against naive baselines"
    needs = frozenset({'shifted', 'labels'})
    pass_mark = 0.6

    def run(self, ctx: CheckContext) -> CheckResult:
        target = target_for(ctx.exercise)
        title = target.title(self.title)
        rows = outcomes(ctx)
        shifted = {(s, p.name) for s in ctx.traffic for p in ctx.phases(s) if p.shifts and p.kind == "traffic"}
        mine = [o for o in rows if (o.truth.scenario, o.truth.phase) in shifted
                and o.truth.kind != "invalid" and o.truth.label is not None]
        if not mine:
            return self.not_measured("no usable labelled records in shifted phases", title=title)
        if not any(o.result is not None for o in mine):
            return self.not_measured("no record of the shifted phases got an answer", metrics={target.metric: None},
                                     title=title)
        v = target.under_shift(ctx, mine, len(shifted))
        if v.not_measured is not None:
            return self.not_measured(v.not_measured, metrics=v.metrics, title=title)
        return self.result(v.score, v.evidence, failures=v.failures, metrics=v.metrics,
                           debrief=[v.debrief] if v.score < self.pass_mark and v.debrief else [],
                           title=title)
