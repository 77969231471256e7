"""Selective prediction: a `fallback` on a familiar record says "my model is unsure here".

The contract and every brief invite it ("usable but unfamiliar, or your model is unsure"),
so it is scored as a habit and never counted against the service as a false flag. What
earns is *informative* uncertainty: the familiar clean records a service sends to fallback
must be harder than its average record. "Harder" is read off the grader's plain baseline
model (its error on each record: wrong / right, or the absolute error for a numeric target),
which sees the same records and needs no access to the candidate's model, so a service
cannot make its fallbacks look hard by answering them badly.

- lift = the baseline's mean error on the fallback records (shrunk toward the average by
  pseudo-records numbering 1 % of the records judged, at least 20, then read at its lower
  bound, two standard errors down) / its mean error on
  every familiar clean record answered. Falling back at random gives lift ≈ 1,
  falling back on everything exactly 1; both earn nothing. Full credit at lift ≥ 1.5: a real
  confidence signal reads 1.75–1.94 there over seeds, so a higher bar would grade the seed.
- coverage is the counterweight: the share of familiar clean records served normally, 1 at
  ≥ 90 %, fading to 0 at 50 % — deferring half the traffic is rejecting it with extra steps.

`informativeness` (lift only) also decides how much of a service's familiar fallbacks
`unfamiliar_fallback` may count as false alarms: informative ones count not at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import Outcome, clip01, iter_kind, outcomes, pct
from grader.target import target_for

LIFT_FULL = 1.5  # fallback records half again as hard as the average record: full credit
Z = 2.0  # the lift is read at its lower bound: a handful of lucky fallbacks proves nothing
# ... after shrinking toward the average by pseudo-records: 1 % of the records judged, so a
# fallback on a given share of traffic weighs the same on a short public self-check as on the
# held-back set (where 1 % is about 100), and at least PRIOR_MIN
PRIOR_SHARE, PRIOR_MIN = 0.01, 20
COVERAGE_LOW, COVERAGE_HIGH = 0.5, 0.9


def coverage_factor(coverage: float) -> float:
    """1 when at least 90 % of familiar clean records are served normally, 0 at 50 % or less."""
    return clip01((coverage - COVERAGE_LOW) / (COVERAGE_HIGH - COVERAGE_LOW))


def normal_coverage(rows: list[Outcome]) -> tuple[float, int, int]:
    """(share, fallback, answered): familiar clean records answered, and how many went to fallback."""
    clean = [o for o in iter_kind(rows, "clean") if o.result is not None]
    fb = sum(1 for o in clean if o.result.status == "fallback")  # type: ignore[union-attr]
    return (1.0 - fb / len(clean) if clean else 0.0), fb, len(clean)


@dataclass
class Selectivity:
    """How informative a service's fallbacks on familiar clean records are."""

    answered: int  # familiar clean records answered (any status)
    fallback: int  # of them, answered `fallback`
    judged: int  # of the fallbacks, with a baseline error to judge them by
    risk_fallback: float | None  # the plain baseline's mean error on the fallback records
    risk_all: float | None  # ... on every familiar clean record answered
    lift: float  # lower-bound lift (0 when there is nothing to judge)
    coverage: float

    @property
    def informativeness(self) -> float:
        return clip01((self.lift - 1.0) / (LIFT_FULL - 1.0))

    @property
    def score(self) -> float:
        return self.informativeness * coverage_factor(self.coverage)

    def describe(self, metric: str) -> str:
        if not self.fallback:
            return f"no familiar clean record of {self.answered} went to fallback"
        if self.risk_fallback is None or self.risk_all is None:
            return (f"{pct(self.fallback, self.answered)} familiar clean records went to fallback; the plain "
                    "baseline has no answer for them, so their informativeness is unknown (0)")
        return (f"{pct(self.fallback, self.answered)} familiar clean records went to fallback; the plain baseline's "
                f"{metric} there is {self.risk_fallback:.3g} against {self.risk_all:.3g} on all of them: lift "
                f"(lower bound) {self.lift:.2f}, informativeness {self.informativeness:.2f} (0 at 1, 1 at "
                f"{LIFT_FULL:g}); coverage {self.coverage:.1%} (factor {coverage_factor(self.coverage):.2f})")


def selectivity(ctx: CheckContext, rows: list[Outcome] | None = None) -> Selectivity:
    rows = outcomes(ctx) if rows is None else rows
    target = target_for(ctx.exercise)
    plain = ctx.baseline_predictions.get("plain_model", {})
    coverage, fb_n, answered = normal_coverage(rows)
    errors: list[float] = []
    fb_errors: list[float] = []
    for o in iter_kind(rows, "clean"):
        if o.result is None or o.truth.label is None or o.truth.id not in plain:
            continue
        pred = plain[o.truth.id]
        if not target.usable(pred):
            continue
        e = float(target.error(pred, o.truth.label))
        errors.append(e)
        if o.result.status == "fallback":
            fb_errors.append(e)
    if not fb_errors or not errors:
        return Selectivity(answered, fb_n, len(fb_errors), None, None, 0.0, coverage)
    mean_all = sum(errors) / len(errors)
    mean_fb = sum(fb_errors) / len(fb_errors)
    if mean_all <= 0:
        return Selectivity(answered, fb_n, len(fb_errors), mean_fb, mean_all, 0.0, coverage)
    # Shrunk toward the average as if `prior` average records had gone to fallback too, then read
    # at its lower bound with the spread of all errors (a few fallbacks that all happen to be
    # wrong have no spread of their own): a token fallback on 0.1 % of traffic changes nothing
    # for the caller and earns next to nothing, whatever its luck.
    prior = max(PRIOR_MIN, PRIOR_SHARE * len(errors))
    n = len(fb_errors) + prior
    shrunk = (sum(fb_errors) + prior * mean_all) / n
    sd = math.sqrt(sum((e - mean_all) ** 2 for e in errors) / len(errors))
    lower = shrunk - Z * sd / math.sqrt(n)
    return Selectivity(answered, fb_n, len(fb_errors), mean_fb, mean_all, max(0.0, lower / mean_all), coverage)


@register
class SelectiveFallback(Check):
    id = "selective_fallback"
    dimension = "degradation"
    title = "Fallback where the model is unsure (selective prediction)"
    needs = frozenset({"usable", "labels"})
    pass_mark = 0.5

    def run(self, ctx: CheckContext) -> CheckResult:
        if "plain_model" not in ctx.baseline_predictions:
            return self.not_measured("the plain baseline's predictions are missing")
        target = target_for(ctx.exercise)
        s = selectivity(ctx)
        if not s.answered:
            return self.not_measured("no familiar clean record was answered")
        metric = "error rate" if target.metric == "accuracy" else f"absolute error ({target.metric_name})"
        evidence = ("A 'fallback' on a familiar record says the model is unsure. Expected: the records a service "
                    "sends to fallback are harder than its average record, measured by the grader's plain baseline "
                    f"model on the same records. {s.describe(metric)}. Score = informativeness "
                    f"{s.informativeness:.2f} x coverage factor {coverage_factor(s.coverage):.2f} = {s.score:.2f} "
                    "(falling back on nothing, on everything, or at random scores 0).")
        debrief = []
        if not s.fallback:
            debrief.append("The service never told its caller it was unsure of a familiar record. Ask how a "
                           "downstream team would know which answers to double-check, and what that costs.")
        elif s.score < self.pass_mark:
            debrief.append(f"{s.fallback} familiar records went to fallback but were no harder than the rest "
                           f"(lift {s.lift:.2f}). Ask what signal decides a fallback and how they checked it "
                           "against outcomes.")
        return self.result(s.score, evidence, debrief=debrief,
                           metrics={"lift": s.lift, "informativeness": s.informativeness, "coverage": s.coverage,
                                    "fallback": s.fallback, "risk_fallback": s.risk_fallback,
                                    "risk_all": s.risk_all})
