"""Degradation: noticing lost accuracy, serving the unfamiliar safely, holding up under shift.

Counterweights (docs/scoring.md): performance_alarm is multiplied by the alarm's
discrimination J = P(on | degraded) - P(on | stable), so an always-on or never-on alarm
scores 0; unfamiliar_fallback is the informedness of the fallback status (unfamiliar
records sent to fallback minus familiar clean ones), so always- and never-fallback score
0; shift_accuracy counts unserved records as wrong and is anchored at the best constant
answer on exactly the records the service was scored on, so a constant scores 0.
"""
from __future__ import annotations

import logging
from collections import Counter

from grader.checks.alarms import discrimination, score_onsets, silent_stats
from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import Outcome, clip01, iter_kind, outcomes, pct, ratio

log = logging.getLogger(__name__)

MAX_FAILURES = 5


def baseline_accuracy(ctx: CheckContext, model: str, rows: list[Outcome], group: str) -> float | None:
    """A naive model's accuracy on `rows`: per-record predictions when given, else the context's figure."""
    preds = ctx.baseline_predictions.get(model)
    if preds:
        known = [o for o in rows if o.truth.id in preds and o.truth.label is not None]
        if known:
            return sum(1 for o in known if preds[o.truth.id] == o.truth.label) / len(known)
    for key in (f"{model}:{group}", model):
        if key in ctx.baseline_accuracy:
            return ctx.baseline_accuracy[key]
    return None


def best_constant_accuracy(rows: list[Outcome]) -> float | None:
    """The accuracy of the best single answer in hindsight on `rows`: what a constant service can reach."""
    labels = Counter(str(o.truth.label).strip().lower() for o in rows if o.truth.label is not None)
    total = sum(labels.values())
    return max(labels.values()) / total if total else None


def null_anchor(ctx: CheckContext, rows: list[Outcome], group: str) -> tuple[float | None, dict[str, float | None]]:
    """0 of an accuracy check — the majority-class model or the best constant, whichever is higher —
    and both figures for the metrics."""
    maj = baseline_accuracy(ctx, "majority", rows, group)
    best = best_constant_accuracy(rows)
    known = [v for v in (maj, best) if v is not None]
    return (max(known) if known else None), {"majority": maj, "best_constant": best}


def anchored(acc: float, low: float, high: float) -> float:
    """0 at `low` (majority baseline), 1 at `high`; a degenerate span is a step at `high`."""
    if high - low < 0.01:
        return 1.0 if acc >= high else 0.0
    return clip01((acc - low) / (high - low))


@register
class PerformanceAlarm(Check):
    id = "performance_alarm"
    dimension = "degradation"
    title = "Performance alarm after concept drift (from feedback)"
    needs = frozenset({'performance_onset', 'labels'})

    def run(self, ctx: CheckContext) -> CheckResult:
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
                           "and how soon they could know accuracy had dropped.")
        if st.reads and st.share > 0.1:
            debrief.append(f"performance.degraded was on for {st.share:.0%} of stable reads. Ask how they set the "
                           "baseline their accuracy is compared against.")
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
        score = clip01(recall - rate)
        missed = [o for o in unf if o.result is None or o.result.status != "fallback"]
        conf = [o.result.confidence for o in missed if o.result is not None and o.result.confidence is not None]
        mean_conf = sum(conf) / len(conf) if conf else None
        evidence = (f"Sent {len(unf)} usable but unfamiliar records (e.g. a category value never seen in training). "
                    f"Expected status 'fallback'. Got it for {pct(len(hit), len(unf))}"
                    + (f"; the others were answered with mean confidence {mean_conf:.2f}" if mean_conf is not None else "")
                    + f". Counterweight: familiar clean records sent to fallback {pct(len(fb_clean), len(clean))}. "
                    f"Score = {recall:.2f} - {rate:.2f} = {score:.2f} (falling back on everything, or on "
                    f"nothing, scores 0).")
        debrief = []
        if recall < self.pass_mark and missed:
            o = missed[0]
            val = next((f"{i.field} = {o.record.get(i.field)!r}" for i in o.truth.injections if o.record), "an unseen value")
            debrief.append(f"A record with {val}, never seen in training, came back '{o.status}'"
                           + (f" with confidence {o.result.confidence:.2f}" if o.result and o.result.confidence is not None else "")
                           + ". Ask how their service knows what it does not know.")
        if rate > 0.05:
            debrief.append(f"{rate:.0%} of familiar records were answered as fallback. Ask what a fallback costs "
                           "downstream and how they chose the threshold.")
        return self.result(score, evidence, failures=[o.describe() for o in missed[:MAX_FAILURES]], debrief=debrief,
                           metrics={"recall": recall, "clean_fallback_rate": rate})


@register
class ShiftAccuracy(Check):
    id = "shift_accuracy"
    dimension = "degradation"
    title = "Accuracy under shift against naive baselines"
    needs = frozenset({'shifted', 'labels'})
    pass_mark = 0.6

    def run(self, ctx: CheckContext) -> CheckResult:
        rows = outcomes(ctx)
        shifted = {(s, p.name) for s in ctx.traffic for p in ctx.phases(s) if p.shifts and p.kind == "traffic"}
        mine = [o for o in rows if (o.truth.scenario, o.truth.phase) in shifted
                and o.truth.kind != "invalid" and o.truth.label is not None]
        if not mine:
            return self.not_measured("no usable labelled records in shifted phases")
        if not any(o.result is not None for o in mine):
            return self.not_measured("no record of the shifted phases got an answer", metrics={"accuracy": None})
        correct = sum(1 for o in mine if o.correct())
        acc = correct / len(mine)
        maj, nulls = null_anchor(ctx, mine, "under_shift")
        plain = baseline_accuracy(ctx, "plain_model", mine, "under_shift")
        if maj is None or plain is None:
            return self.not_measured(f"baselines unavailable (raw accuracy under shift {acc:.3f})",
                                     metrics={"accuracy": acc})
        score = anchored(acc, maj, max(plain, maj))
        unserved = sum(1 for o in mine if not o.served)
        wrong = [o for o in mine if o.served and not o.correct()]
        evidence = (f"{len(mine)} usable records in {len(shifted)} shifted phase(s). Accuracy {acc:.3f} "
                    f"({correct} correct; {unserved} not served count as wrong; fallback answers count by their "
                    f"prediction). On the same records the best constant answer scores {maj:.3f} and "
                    f"{ctx.baseline_name} scores {plain:.3f}. Score 0 at the best constant, 1 at or above the "
                    f"plain model; a constant answer scores 0.")
        debrief = []
        if score < self.pass_mark:
            debrief.append(f"Under shift the service was right {acc:.0%} of the time, against {plain:.0%} for "
                           f"{ctx.baseline_name} trained on the same data. Ask where their model loses accuracy when "
                           "the traffic moves and what they would retrain on.")
        return self.result(score, evidence, failures=[o.describe() + f", truth label {o.truth.label}"
                                                      for o in wrong[:MAX_FAILURES]],
                           debrief=debrief, metrics={"accuracy": acc, **nulls, "null": maj, "plain_model": plain})
