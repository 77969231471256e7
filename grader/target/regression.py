"""Regression: a row has an absolute error, the metric is MAE (lower is better).

On exactly the rows a candidate is scored on:

- zero anchor: the better (lower MAE) of the best constant in hindsight — the median of the
  true values, which no constant answer can beat — and the seasonal-naive forecast (the value
  one season ago, which the record carries), so neither trivial strategy earns anything;
- one anchor: the plain model's MAE. When it is not at least 1 % better than the zero
  anchor, full marks need a 1 % improvement instead (a near step, as `anchored` does);
- an unserved row (not sent, a failed batch, `invalid`, or a prediction that is not a finite
  JSON number) counts at the error of the worse naive answer on that row, so declining never
  beats answering with either naive forecast.

A naive model's missing prediction for a row is the median (a naive service must answer
something, and the constant is what it would fall back to).
"""
from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from grader.target.base import Target, Verdict, anchored

if TYPE_CHECKING:
    from grader.checks.base import CheckContext
    from grader.checks.records import Outcome

log = logging.getLogger(__name__)

MAX_FAILURES = 5
MIN_GAIN = 0.01  # the least share of the zero anchor's error a forecast must remove for full marks
SEASONAL, PLAIN = "seasonal_naive", "plain_model"
NULL_SERVICE = {
    "degradation": ("0 for never or always falling back, a performance alarm that is never or always on, and a "
                    "constant or seasonal-naive forecast (the error under shift is measured from the better of the "
                    "two)."),
    "accuracy": ("0 for a constant forecast or repeating the value one season ago: the error is measured from the "
                 "better of the two on the same records."),
}


def number(value: Any) -> float | None:
    """A finite JSON number as a float; None for anything else (strings, booleans, NaN, null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def fmt(v: float | None) -> str:
    """A figure in the exercise's own units, short enough for a sentence."""
    if v is None:
        return "n/a"
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.3f}"


@dataclass
class Errors:
    """Per-row absolute errors of the candidate and the naive answers, and the anchors."""

    rows: list[Outcome]
    truth: list[float]
    mine: list[float]
    median: float
    constant: float  # MAE of the median
    seasonal: float | None  # MAE of seasonal-naive (None: no seasonal predictions given)
    plain: float | None  # MAE of the plain model (None: no plain predictions given)
    unserved: int
    not_number: int

    @property
    def mae(self) -> float:
        return sum(self.mine) / len(self.mine)

    @property
    def zero(self) -> float:
        return min(v for v in (self.constant, self.seasonal) if v is not None)

    def score(self) -> float:
        """clip((zero - MAE) / (zero - plain)), via the share of the zero anchor's error removed."""
        assert self.plain is not None and self.zero > 0
        gain = (self.zero - self.mae) / self.zero
        return anchored(gain, 0.0, max((self.zero - self.plain) / self.zero, MIN_GAIN))

    def metrics(self) -> dict[str, float | None]:
        return {"mae": self.mae, "seasonal_naive": self.seasonal, "best_constant": self.constant,
                "null": self.zero, "plain_model": self.plain, "not_number": float(self.not_number)}


class Regression(Target):
    kind = "regression"
    metric = "mae"
    metric_name = "MAE"
    worse = "the forecast error had risen"

    def title(self, title: str) -> str:
        return title.replace("Accuracy", f"Error ({self.metric_name})", 1)

    def null_service(self, dimension: str, text: str) -> str:
        return NULL_SERVICE.get(dimension, text)

    def usable(self, prediction: Any) -> bool:
        return number(prediction) is not None

    def unusable(self, prediction: Any) -> str:
        if prediction is None:
            return "no prediction"
        shown = repr(prediction)
        return f"prediction {shown if len(shown) <= 40 else shown[:37] + '...'} is not a finite JSON number"

    def error(self, prediction: Any, label: str | float) -> float:
        return abs(float(prediction) - float(label))

    def errors(self, ctx: CheckContext, rows: list[Outcome]) -> Errors | None:
        """The errors on the rows with a numeric truth; None when there are none."""
        rows = [o for o in rows if number(o.truth.label) is not None]
        if not rows:
            return None
        y = [float(o.truth.label) for o in rows]  # type: ignore[arg-type]
        med = statistics.median(y)
        seasonal = self._naive(ctx, SEASONAL, rows, med)
        plain = self._naive(ctx, PLAIN, rows, med)
        worst = [max(abs(med - t), abs((seasonal[i] if seasonal else med) - t)) for i, t in enumerate(y)]
        mine = [self.error(o.result.prediction, t) if o.served else worst[i]  # type: ignore[union-attr]
                for i, (o, t) in enumerate(zip(rows, y))]
        unserved = sum(1 for o in rows if not o.served)
        not_number = sum(1 for o in rows if o.declined and o.result is not None and o.result.status != "invalid")

        def mae(pred: list[float] | None) -> float | None:
            return None if pred is None else sum(abs(p - t) for p, t in zip(pred, y)) / len(y)

        return Errors(rows=rows, truth=y, mine=mine, median=med, constant=mae([med] * len(y)) or 0.0,
                      seasonal=mae(seasonal), plain=mae(plain), unserved=unserved, not_number=not_number)

    @staticmethod
    def _naive(ctx: CheckContext, model: str, rows: list[Outcome], fill: float) -> list[float] | None:
        preds = ctx.baseline_predictions.get(model)
        if not preds:
            return None
        out = [number(preds.get(o.truth.id)) for o in rows]
        if all(v is None for v in out):
            log.warning("baseline %s has no numeric prediction for any of %d scored records", model, len(rows))
        return [fill if v is None else v for v in out]

    def _verdict(self, ctx: CheckContext, rows: list[Outcome], where: str, served_note: str,
                 debrief: Callable[[Errors], str]) -> Verdict:
        e = self.errors(ctx, rows)
        if e is None:
            return Verdict(not_measured="no record with a numeric true value", metrics={"mae": None})
        if e.plain is None:
            return Verdict(not_measured=f"plain-model baseline unavailable (raw MAE {fmt(e.mae)})",
                           metrics={"mae": e.mae})
        if e.zero <= 0:
            return Verdict(not_measured="the naive forecasts are exact on these records: nothing to improve on",
                           metrics=e.metrics())
        score = e.score()
        odd = f" ({e.not_number} of them answered with a prediction that is not a number)" if e.not_number else ""
        full = e.zero * (1 - MIN_GAIN)
        one = (f"1 at the plain model's MAE ({fmt(e.plain)})" if e.plain <= full else
               f"1 at MAE {fmt(full)}, 1 % below it (the plain model, {fmt(e.plain)}, does no better)")
        evidence = (f"{where}. MAE {fmt(e.mae)} (seasonal-naive {fmt(e.seasonal)}, best constant {fmt(e.constant)} "
                    f"= always {fmt(e.median)}, {ctx.baseline_name} {fmt(e.plain)}). {e.unserved} record(s) not "
                    f"served{odd} count at the error of the worse naive forecast on that record{served_note}. Score 0 "
                    f"at the better naive forecast (MAE {fmt(e.zero)}), {one}; a constant answer or repeating the "
                    f"value one season ago scores 0.")
        return Verdict(score=score, evidence=evidence, metrics=e.metrics(), failures=self._worst(e),
                       debrief=debrief(e))

    def _worst(self, e: Errors) -> list[str]:
        """Unserved rows first, then the largest errors."""
        order = sorted(range(len(e.rows)), key=lambda i: (e.rows[i].served, -e.mine[i]))
        return [e.rows[i].describe() + f", true value {fmt(e.truth[i])}, error {fmt(e.mine[i])}"
                for i in order[:MAX_FAILURES]]

    def in_distribution(self, ctx: CheckContext, rows: list[Outcome], source: str) -> Verdict:
        return self._verdict(ctx, rows, f"{len(rows)} clean records from {source}", "", lambda e: (
            f"On ordinary traffic the service's forecasts were off by {fmt(e.mae)} on average (MAE), against "
            f"{fmt(e.zero)} for the better naive forecast (a constant, or the value one season ago). Ask how they "
            "evaluated the model before shipping it."))

    def under_shift(self, ctx: CheckContext, rows: list[Outcome], phases: int) -> Verdict:
        return self._verdict(ctx, rows, f"{len(rows)} usable records in {phases} shifted phase(s)",
                             "; fallback answers count by their prediction", lambda e: (
            f"Under shift the service's MAE was {fmt(e.mae)}, against {fmt(e.plain)} for {ctx.baseline_name} "
            "trained on the same data. Ask where their forecasts go wrong when the traffic moves and what they "
            "would retrain on."))
