"""Classification: a row is right or wrong, the metric is accuracy.

Anchor: 0 at the best constant answer on the same records (at least the majority class),
1 at the plain model's accuracy on the same records (capped at 0.85 in distribution, so
label noise that makes 0.85 unreachable keeps the check fair). Unserved rows count as wrong.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from grader.target.base import Target, Verdict, anchored

if TYPE_CHECKING:
    from grader.checks.base import CheckContext
    from grader.checks.records import Outcome

log = logging.getLogger(__name__)

MAX_FAILURES = 5


class Classification(Target):
    kind = "classification"
    metric = "accuracy"
    metric_name = "accuracy"
    worse = "accuracy had dropped"
    CAP = 0.85

    def error(self, prediction: Any, label: str | float) -> float:
        return 0.0 if str(prediction).strip().lower() == str(label).strip().lower() else 1.0

    def report_value(self, value: float | None) -> float | None:
        return None if value is None else max(0.0, min(1.0, float(value)))

    def in_distribution(self, ctx: CheckContext, rows: list[Outcome], source: str) -> Verdict:
        correct = sum(1 for o in rows if o.correct())
        acc = correct / len(rows)
        maj, nulls = null_anchor(ctx, rows, "in_distribution")
        plain = baseline_accuracy(ctx, "plain_model", rows, "in_distribution")
        if maj is None:
            return Verdict(not_measured=f"majority baseline unavailable (raw accuracy {acc:.3f})",
                           metrics={"accuracy": acc})
        high = min(self.CAP, plain) if plain is not None else self.CAP
        unserved = sum(1 for o in rows if not o.served)
        evidence = (f"{len(rows)} clean records from {source}. Accuracy {acc:.3f} ({correct} "
                    f"correct; {unserved} not served count as wrong). Best constant answer (or majority class) {maj:.3f}"
                    + (f", {ctx.baseline_name} {plain:.3f}" if plain is not None else "")
                    + f". Score 0 at the best constant, 1 at {max(high, maj):.3f} "
                    f"(= min({self.CAP}, plain model)).")
        wrong = [o for o in rows if not o.correct()]
        return Verdict(score=anchored(acc, maj, max(high, maj)), evidence=evidence,
                       metrics={"accuracy": acc, **nulls, "null": maj, "plain_model": plain},
                       failures=[o.describe() + f", truth label {o.truth.label}" for o in wrong[:MAX_FAILURES]],
                       debrief=(f"On ordinary traffic the service was right {acc:.0%} of the time (best constant "
                                f"{maj:.0%}). Ask how they evaluated the model before shipping it."))

    def under_shift(self, ctx: CheckContext, rows: list[Outcome], phases: int) -> Verdict:
        correct = sum(1 for o in rows if o.correct())
        acc = correct / len(rows)
        maj, nulls = null_anchor(ctx, rows, "under_shift")
        plain = baseline_accuracy(ctx, "plain_model", rows, "under_shift")
        if maj is None or plain is None:
            return Verdict(not_measured=f"baselines unavailable (raw accuracy under shift {acc:.3f})",
                           metrics={"accuracy": acc})
        unserved = sum(1 for o in rows if not o.served)
        wrong = [o for o in rows if o.served and not o.correct()]
        evidence = (f"{len(rows)} usable records in {phases} shifted phase(s). Accuracy {acc:.3f} "
                    f"({correct} correct; {unserved} not served count as wrong; fallback answers count by their "
                    f"prediction). On the same records the best constant answer scores {maj:.3f} and "
                    f"{ctx.baseline_name} scores {plain:.3f}. Score 0 at the best constant, 1 at or above the "
                    f"plain model; a constant answer scores 0.")
        return Verdict(score=anchored(acc, maj, max(plain, maj)), evidence=evidence,
                       metrics={"accuracy": acc, **nulls, "null": maj, "plain_model": plain},
                       failures=[o.describe() + f", truth label {o.truth.label}" for o in wrong[:MAX_FAILURES]],
                       debrief=(f"Under shift the service was right {acc:.0%} of the time, against {plain:.0%} for "
                                f"{ctx.baseline_name} trained on the same data. Ask where their model loses accuracy "
                                "when the traffic moves and what they would retrain on."))


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
    counts: dict[str, int] = {}
    for o in rows:
        if o.truth.label is not None:
            key = str(o.truth.label).strip().lower()
            counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values())
    return max(counts.values()) / total if total else None


def null_anchor(ctx: CheckContext, rows: list[Outcome], group: str) -> tuple[float | None, dict[str, float | None]]:
    """0 of an accuracy check — the majority-class model or the best constant, whichever is higher —
    and both figures for the metrics."""
    maj = baseline_accuracy(ctx, "majority", rows, group)
    best = best_constant_accuracy(rows)
    known = [v for v in (maj, best) if v is not None]
    return (max(known) if known else None), {"majority": maj, "best_constant": best}
