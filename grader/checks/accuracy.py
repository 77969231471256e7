"""Accuracy on in-distribution held-back traffic: a small weight, by design.

Anchor: 0 at the best constant answer on the same records (at least the majority class),
1 at min(0.85, the plain model's accuracy on the same records). Capping the anchor at the plain model keeps
the check fair when label noise makes 0.85 unreachable; a candidate is not asked to beat
a plain model to earn full marks here — accuracy is not what this product grades.
"""
from __future__ import annotations

import logging

from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.degradation import anchored, baseline_accuracy, null_anchor
from grader.checks.records import outcomes, probe_outcomes

log = logging.getLogger(__name__)

TARGET = 0.85


def stable_phases(ctx: CheckContext) -> set[tuple[str, str]]:
    """Scored drift-silent phases with no shift; if there are none, any scored drift-silent phase."""
    silent = {k for k, v in ctx.scored.drift.items() if v == "silent" and k[0] in ctx.traffic}
    unshifted = {(s, p) for s, p in silent if not next((ph.shifts for ph in ctx.phases(s) if ph.name == p), [])}
    return unshifted or silent


@register
class InDistributionAccuracy(Check):
    id = "in_distribution_accuracy"
    dimension = "accuracy"
    title = "Accuracy on in-distribution traffic"
    needs = frozenset({'labels'})
    pass_mark = 0.6

    def run(self, ctx: CheckContext) -> CheckResult:
        phases = stable_phases(ctx)
        # Prefer the clean-only probe: accuracy is then measured apart from validation, so a
        # service that breaks on messy batches loses validation points, not its model's.
        rows = probe_outcomes(ctx)
        source = "the accuracy probe (clean-only batches)"
        if not rows:
            rows = [o for o in outcomes(ctx) if (o.truth.scenario, o.truth.phase) in phases
                    and o.truth.kind == "clean" and o.truth.label is not None]
            source = f"{len(phases)} stable phase(s)"
        if not rows:
            return self.not_measured("no clean labelled records in scored stable phases")
        if not any(o.result is not None for o in rows):
            return self.not_measured("no record of the stable phases got an answer", metrics={"accuracy": None})
        correct = sum(1 for o in rows if o.correct())
        acc = correct / len(rows)
        maj, nulls = null_anchor(ctx, rows, "in_distribution")
        plain = baseline_accuracy(ctx, "plain_model", rows, "in_distribution")
        if maj is None:
            return self.not_measured(f"majority baseline unavailable (raw accuracy {acc:.3f})", metrics={"accuracy": acc})
        high = min(TARGET, plain) if plain is not None else TARGET
        score = anchored(acc, maj, max(high, maj))
        unserved = sum(1 for o in rows if not o.served)
        evidence = (f"{len(rows)} clean records from {source}. Accuracy {acc:.3f} ({correct} "
                    f"correct; {unserved} not served count as wrong). Best constant answer (or majority class) {maj:.3f}"
                    + (f", {ctx.baseline_name} {plain:.3f}" if plain is not None else "")
                    + f". Score 0 at the best constant, 1 at {max(high, maj):.3f} "
                    f"(= min({TARGET}, plain model)).")
        debrief = []
        if score < self.pass_mark:
            debrief.append(f"On ordinary traffic the service was right {acc:.0%} of the time ("
                           f"best constant {maj:.0%}). Ask how they evaluated the model before shipping it.")
        wrong = [o for o in rows if not o.correct()]
        return self.result(score, evidence, failures=[o.describe() + f", truth label {o.truth.label}" for o in wrong[:5]],
                           debrief=debrief, metrics={"accuracy": acc, **nulls, "null": maj, "plain_model": plain})
