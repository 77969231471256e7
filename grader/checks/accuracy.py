"""Accuracy (or forecast error) on in-distribution held-back traffic: a small weight, by design.

The exercise's target judges the rows (grader.target): classification is scored 0 at the
best constant answer on the same records (at least the majority class), 1 at min(0.85, the
plain model's accuracy on the same records) — capping the anchor at the plain model keeps
the check fair when label noise makes 0.85 unreachable; regression is scored on MAE, 0 at
the better of the best constant and seasonal-naive, 1 at the plain model. A candidate is not
asked to beat a plain model to earn full marks here — accuracy is not what this product grades.
"""
from __future__ import annotations

import logging

from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import outcomes, probe_outcomes
from grader.target import target_for

log = logging.getLogger(__name__)


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
        target = target_for(ctx.exercise)
        title = target.title(self.title)
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
            return self.not_measured("no clean labelled records in scored stable phases", title=title)
        if not any(o.result is not None for o in rows):
            return self.not_measured("no record of the stable phases got an answer", metrics={target.metric: None},
                                     title=title)
        v = target.in_distribution(ctx, rows, source)
        if v.not_measured is not None:
            return self.not_measured(v.not_measured, metrics=v.metrics, title=title)
        return self.result(v.score, v.evidence, failures=v.failures, metrics=v.metrics,
                           debrief=[v.debrief] if v.score < self.pass_mark and v.debrief else [],
                           title=title)

