"""Operations: start-up time, latency under load, memory, recovery after a restart.

Counterweights: errors in the load run count as infinitely slow requests (a fast 4xx is
not a fast answer); an OOM kill scores 0 whatever the measured peak; memory and restart
credit are multiplied by the share of /predict calls the service actually answered, so a
service that hangs or fails every call keeps no operations credit beyond start-up.
"""
from __future__ import annotations

import logging
import math

from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import clip01, ratio, served_calls
from grader.transcript import RestartRun, percentile

log = logging.getLogger(__name__)


@register
class StartupTime(Check):
    id = "startup_time"
    dimension = "operations"
    title = "Ready within the start-up budget"

    def run(self, ctx: CheckContext) -> CheckResult:
        budget = ctx.exercise.budgets.startup_s
        s = ctx.transcript.startup_s
        if s is None:
            if ctx.transcript.status in ("build_failed", "start_failed"):
                return self.not_measured(f"the service never became ready ({ctx.transcript.status})")
            return self.not_measured("start-up time was not recorded")
        score = 1.0 if s <= budget / 2 else clip01((budget - s) / (budget / 2))
        evidence = (f"GET /health answered 200 after {s:.1f} s. Budget {budget:g} s: full credit within "
                    f"{budget / 2:g} s, falling linearly to none at {budget:g} s.")
        debrief = [f"The service took {s:.0f} s to become ready (budget {budget:g} s). Ask what it does at start-up "
                   "and what that means for autoscaling and restarts."] if score < self.pass_mark else []
        return self.result(score, evidence, debrief=debrief, metrics={"startup_s": s, "budget_s": budget})


@register
class LatencyP95(Check):
    id = "latency_p95"
    dimension = "operations"
    title = "p95 latency under concurrent load"
    needs = frozenset({'load'})

    def run(self, ctx: CheckContext) -> CheckResult:
        load = ctx.transcript.load
        budget = ctx.exercise.budgets.p95_ms
        if load is None or (not load.latencies_ms and not load.errors):
            return self.not_measured("no load run was recorded")
        total = len(load.latencies_ms) + load.errors
        p95 = load.p95_ms()
        ok_p95 = percentile(load.latencies_ms, 95) if load.latencies_ms else math.inf
        score = 1.0 if p95 <= budget else (0.0 if math.isinf(p95) else clip01(1.0 - (p95 - budget) / (3 * budget)))
        evidence = (f"{total} /predict requests of {load.batch_size} records at concurrency {load.concurrency}; "
                    f"{load.errors} failed (counted as infinitely slow). p95 {_ms(p95)} including errors "
                    f"(successful requests only: {_ms(ok_p95)}). Budget {budget:g} ms: full credit at or below, none "
                    f"at {4 * budget:g} ms." + _attempts(load.attempts_p95_ms))
        failures = [f"load error: {e}" for e in load.error_examples[:5]]
        debrief = []
        if score < self.pass_mark:
            debrief.append(f"Under {load.concurrency} concurrent callers p95 was {_ms(p95)} (budget {budget:g} ms"
                           + (f", {load.errors} errors" if load.errors else "") + "). Ask where the time goes "
                           "per batch and how the service would scale.")
        return self.result(score, evidence, failures=failures, debrief=debrief,
                           metrics={"p95_ms": None if math.isinf(p95) else p95, "budget_ms": budget,
                                    "errors": float(load.errors), "requests": float(total)})


def _attempts(p95s: list[float]) -> str:
    if len(p95s) < 2:
        return ""
    return (f" The first run missed the budget, so the load was measured {len(p95s)} times (p95 "
            + ", ".join(_ms(v) for v in p95s) + "); the fastest run counts: noise on the grading machine "
            "only ever adds latency.")


def _ms(v: float) -> str:
    return "n/a (errors)" if math.isinf(v) or math.isnan(v) else f"{v:.0f} ms"


@register
class MemoryLimit(Check):
    id = "memory_limit"
    dimension = "operations"
    title = "Stays inside its memory limit"

    COMFORT = 0.75  # share of the limit below which there is no deduction

    def run(self, ctx: CheckContext) -> CheckResult:
        limit = ctx.exercise.limits.memory_mb
        t = ctx.transcript
        if t.oom_killed:
            return self.result(0.0, f"The container was killed for exceeding its {limit} MB memory limit (OOM).",
                               debrief=[f"The service was OOM-killed at {limit} MB. Ask what it holds in memory "
                                        "and how that grows with traffic."], metrics={"limit_mb": limit})
        peak = t.peak_memory_mb
        if peak is None:
            return self.not_measured("peak memory was not measured")
        share = peak / limit
        if share <= self.COMFORT:
            within = 1.0
        elif share <= 1.0:
            within = 1.0 - 0.5 * (share - self.COMFORT) / (1.0 - self.COMFORT)
        else:
            within = 0.0
        answered, due = served_calls(ctx)
        served = ratio(answered, due)
        score = within * served
        evidence = (f"Peak resident memory {peak:.0f} MB of a {limit} MB limit ({share:.0%}). Full credit up to "
                    f"{self.COMFORT:.0%} of the limit, half at the limit, none above it or on an OOM kill; "
                    f"times the share of /predict calls answered ({answered}/{due}): staying small while "
                    f"serving nothing is not a habit. Score {within:.2f} x {served:.2f} = {score:.2f}.")
        debrief = [f"Peak memory reached {share:.0%} of the limit. Ask what dominates memory and how it grows "
                   "with the monitoring window."] if within < self.pass_mark else []
        return self.result(score, evidence, debrief=debrief, metrics={"peak_mb": peak, "limit_mb": limit,
                                                                     "served_share": served})


@register
class RestartRecovery(Check):
    id = "restart_recovery"
    dimension = "operations"
    title = "Recovers after a restart"
    needs = frozenset({"restart"})

    def run(self, ctx: CheckContext) -> CheckResult:
        r = ctx.transcript.restart
        budget = ctx.exercise.budgets.startup_s
        if not r.attempted:
            r = _from_scenario_restarts(ctx) or r
        if not r.attempted:
            return self.not_measured("no restart was attempted" + (f" ({r.error})" if r.error else ""))
        ready = r.ready_s is not None and r.ready_s <= budget
        if ready and r.served_after:
            back = 1.0
        elif r.served_after:
            back = 0.5  # came back, but slower than the start-up budget
        else:
            back = 0.0
        answered, due = served_calls(ctx)
        served = ratio(answered, due)
        score = back * served
        evidence = (f"The service was restarted. Ready again after "
                    f"{'%.1f s' % r.ready_s if r.ready_s is not None else 'never'} (budget {budget:g} s); "
                    f"served a batch afterwards: {'yes' if r.served_after else 'no'}"
                    + (f"; error: {r.error}" if r.error else "") + ". Expected: ready within budget and serving; "
                    f"times the share of /predict calls answered over the grading ({answered}/{due}). "
                    f"Score {back:.2f} x {served:.2f} = {score:.2f}.")
        debrief = [f"After a restart the service {'was slow to return' if r.served_after else 'did not serve again'}"
                   + (f" ({r.error})" if r.error else "") + ". Ask what state it keeps and where."] \
            if back < self.pass_mark else []
        return self.result(score, evidence, debrief=debrief,
                           metrics={"ready_s": r.ready_s, "served_after": float(r.served_after),
                                    "served_share": served})


def _from_scenario_restarts(ctx: CheckContext) -> RestartRun | None:
    """Replay restarts the service before each scenario; use those when there was no restart phase."""
    restarted = [run for run in ctx.transcript.runs if run.restart_ready_s is not None]
    if not restarted:
        return None
    served = all(any(ex.status_code == 200 and ex.results is not None for ex in run.exchanges) for run in restarted)
    return RestartRun(attempted=True, ready_s=max(run.restart_ready_s or 0.0 for run in restarted),
                      served_after=served)
