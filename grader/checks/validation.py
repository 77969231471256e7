"""Validation: messy input never crashes the service, bad records are flagged, good ones served.

Each measure is a decision scored against its counterweight so that no blanket answer
earns anything (docs/scoring.md): invalid_flagged is the informedness of the 'invalid'
flag (invalid records flagged minus usable records rejected), valid_served is the served
share times the share of invalid records declined, recoverable_coerced is the
informedness of the repair flag (recoverable records flagged minus clean ones flagged).
Accept-all, reject-all, all-fallback and all-coerced score 0 on every one of them.
no_server_errors and malformed_rejected are gates: contract duties that multiply the
dimension and earn nothing by themselves.
"""
from __future__ import annotations

import logging
import math
from collections import Counter

from grader.checks.base import Check, CheckContext, CheckResult, register
from grader.checks.records import Outcome, batch_failed, clip01, iter_kind, outcomes, pct, ratio
from grader.checks.selective import coverage_factor, normal_coverage

log = logging.getLogger(__name__)

MAX_FAILURES = 5


def _status_mix(rows: list[Outcome]) -> str:
    c = Counter(o.status for o in rows)
    return ", ".join(f"{k} {v}" for k, v in c.most_common(6)) or "none"


@register
class NoServerErrors(Check):
    id = "no_server_errors"
    dimension = "validation"
    title = "No 5xx or broken answers on messy input"
    needs = frozenset({'traffic'})
    pass_mark = 1.0  # one 5xx is a failure: the contract says so
    gate_floor = 0.0  # the share of batches answered multiplies validation: never crashing is owed, not earned

    def run(self, ctx: CheckContext) -> CheckResult:
        if not ctx.traffic:
            return self.not_measured("no held-back traffic was generated")
        expected = sent = broken = client = 0
        failures: list[str] = []
        kinds: Counter[str] = Counter()
        runs = {r.scenario: r for r in ctx.transcript.runs}
        for name, traffic in ctx.traffic.items():
            _, _, batch = ctx.scenario_params(name)
            run = runs.get(name)
            batch = run.batch_size if run else batch
            exchanges = run.exchanges if run else []
            # replay batches within a phase, never across phases
            due = sum(math.ceil(len(p.records) / batch) for p in traffic.phases if p.truth.kind == "traffic")
            unsent = max(0, due - len(exchanges))
            expected += len(exchanges) + unsent
            sent += len(exchanges)
            broken += unsent
            if unsent:
                why = run.aborted if run and run.aborted else "replay never reached them"
                kinds["never sent"] += unsent
                failures.append(f"{name}: {unsent} batch(es) never sent ({why})")
            for ex in exchanges:
                if batch_failed(ex):
                    broken += 1
                    label = f"HTTP {ex.status_code}" if ex.status_code and ex.status_code >= 500 else ex.error
                    kinds[str(label)] += 1
                    if len(failures) < MAX_FAILURES:
                        failures.append(f"{name} batch {ex.batch} ({ex.phase}, {len(ex.ids)} records, "
                                        f"first id {ex.ids[0] if ex.ids else '-'}): {label} {ex.detail[:160]}")
                elif ex.status_code is not None and 400 <= ex.status_code < 500:
                    client += 1
        score = 1.0 - ratio(broken, expected)
        evidence = (f"Sent {sent} /predict batches of messy held-back records across {len(ctx.traffic)} "
                    f"scenario(s); {expected} batches were due. Broken (5xx, timeout, connection, unparseable "
                    f"or off-contract answer, or never sent): {pct(broken, expected)}"
                    + (f" — {', '.join(f'{k} {v}' for k, v in kinds.most_common())}" if kinds else "")
                    + f". Expected: a 200 with one result per record for every batch. "
                    f"Whole batches answered 4xx (scored under valid_served): {client}. A gate: validation is "
                    f"multiplied by this score ({score:.2f}); answering without crashing earns nothing by itself.")
        debrief = []
        first = next((ex for r in ctx.transcript.runs for ex in r.exchanges if batch_failed(ex)), None)
        if first is not None:
            rows = {o.truth.id: o for o in outcomes(ctx) if o.exchange is first}
            messy = [rows[i] for i in first.ids if i in rows and rows[i].truth.injections]
            what = f"containing {_example_injection(messy)}" if messy else f"of {len(first.ids)} records"
            label = f"{first.status_code}" if first.status_code else str(first.error)
            debrief.append(f"The service answered {label} to a batch {what}. Ask how they would validate and "
                           "coerce such values, and how they keep one bad record from failing a whole batch.")
        elif broken:
            debrief.append(f"Replay could not send {broken} of {expected} batches ({failures[0][:160]}). Ask what "
                           "would make the service stop answering and how they would notice in production.")
        return self.result(score, evidence, failures=failures[:MAX_FAILURES], debrief=debrief,
                           metrics={"batches": expected, "broken": broken, "client_errors": client})


@register
class InvalidFlagged(Check):
    id = "invalid_flagged"
    dimension = "validation"
    title = "Invalid records flagged as invalid"
    needs = frozenset({'invalid', 'usable'})

    def run(self, ctx: CheckContext) -> CheckResult:
        rows = outcomes(ctx)
        bad = list(iter_kind(rows, "invalid"))
        if not bad:
            return self.not_measured("the held-back traffic has no invalid records")
        usable = list(iter_kind(rows, "clean", "recoverable", "unfamiliar"))
        hit = [o for o in bad if o.result is not None and o.result.status == "invalid" and o.result.prediction is None]
        with_pred = [o for o in bad if o.result is not None and o.result.status == "invalid" and o.result.prediction is not None]
        rejected = [o for o in usable if o.declined]
        recall = ratio(len(hit), len(bad))
        false_rate = ratio(len(rejected), len(usable))
        score = clip01(recall - false_rate)
        flagged_all = [o for o in rows if o.result is not None and o.result.status == "invalid"]
        precision = ratio(len(hit) + len(with_pred), len(flagged_all)) if flagged_all else None
        hit_ids = {id(o) for o in hit}
        missed = [o for o in bad if id(o) not in hit_ids]
        evidence = (f"Sent {len(bad)} records that cannot be scored ({_codes(bad)}). Expected status 'invalid' with "
                    f"a null prediction. Got it for {pct(len(hit), len(bad))}; 'invalid' but with a prediction: "
                    f"{len(with_pred)}. What came back for them: {_status_mix(bad)}. Counterweight: usable records "
                    f"answered without a prediction {pct(len(rejected), len(usable))}. Score = recall {recall:.2f} - "
                    f"rejected usable share {false_rate:.2f} = {score:.2f} (accepting or rejecting everything "
                    f"scores 0).")
        debrief = []
        if recall < self.pass_mark and missed:
            ex = _example_injection(missed)
            debrief.append(f"The service returned '{missed[0].status}' for a record it could not sensibly score "
                           f"({ex}). Ask which inputs they consider unscorable and how the caller learns why.")
        if false_rate > 0.05:
            debrief.append(f"{len(rejected)} usable records ({false_rate:.0%}) got no prediction. Ask how they decided "
                           "what to reject and what rejecting costs the business.")
        return self.result(score, evidence, failures=[o.describe() for o in missed[:MAX_FAILURES]], debrief=debrief,
                           metrics={"recall": recall, "precision": precision, "usable_rejected": false_rate})


def _codes(rows: list[Outcome]) -> str:
    codes = Counter(i.code for o in rows for i in o.truth.injections)
    return ", ".join(f"{k} {v}" for k, v in codes.most_common(5)) or "no injection recorded"


def _example_injection(rows: list[Outcome]) -> str:
    for o in rows:
        for inj in o.truth.injections:
            val = o.record.get(inj.field, "<absent>") if o.record else "?"
            return f"{inj.field} = {val!r} ({inj.code})"
    return f"record {rows[0].truth.id}"


@register
class ValidServed(Check):
    id = "valid_served"
    dimension = "validation"
    title = "Usable records served, not rejected"
    needs = frozenset({'usable'})
    pass_mark = 0.8

    LOW, HIGH = 0.5, 0.95
    # Clean, familiar records sent to `fallback` go to a person for review: a few are fine,
    # but a service that defers everything is rejecting work with extra steps.
    FALLBACK_TOLERANCE = 0.05

    def run(self, ctx: CheckContext) -> CheckResult:
        rows = outcomes(ctx)
        good = list(iter_kind(rows, "clean", "recoverable", "unfamiliar"))
        if not good:
            return self.not_measured("the held-back traffic has no usable records")
        served = [o for o in good if o.served]
        clean_n = sum(1 for o in good if o.truth.kind == "clean")
        deferred = sum(1 for o in served if o.truth.kind == "clean" and o.result.status == "fallback")  # type: ignore[union-attr]
        excess = max(0, deferred - int(self.FALLBACK_TOLERANCE * clean_n))
        share = ratio(len(served) - excess, len(good))
        serving = clip01((share - self.LOW) / (self.HIGH - self.LOW))
        bad = list(iter_kind(rows, "invalid"))
        declined = sum(1 for o in bad if o.declined)
        # serving is a decision only if something is ever declined: scoring everything is accept-all
        counter = ratio(declined, len(bad)) if bad else 1.0
        score = serving * counter
        not_served = [o for o in good if not o.served]
        by_kind = {k: (sum(1 for o in good if o.truth.kind == k and o.served), sum(1 for o in good if o.truth.kind == k))
                   for k in ("clean", "recoverable", "unfamiliar")}
        evidence = (f"Sent {len(good)} usable records (clean, recoverable or unfamiliar). Expected a non-invalid "
                    f"status with a prediction. Served: {pct(len(served), len(good))} — "
                    + ", ".join(f"{k} {s}/{n}" for k, (s, n) in by_kind.items() if n)
                    + f". Not served came back as: {_status_mix(not_served)}. "
                    f"Clean records deferred to review as 'fallback': {pct(deferred, clean_n)}"
                    + (f"; {excess} beyond the {self.FALLBACK_TOLERANCE:.0%} tolerance count as not served. "
                       if excess else ". ")
                    + f"Serving credit {serving:.2f} (1 at >= {self.HIGH:.0%} served, 0 at <= {self.LOW:.0%}) x "
                    f"counterweight: invalid records declined {pct(declined, len(bad))} = {score:.2f}.")
        debrief = []
        if serving < self.pass_mark and not_served:
            o = not_served[0]
            debrief.append(f"{len(not_served)} usable records got no prediction (e.g. {o.truth.id}, a {o.truth.kind} "
                           f"record, came back '{o.status}'). Ask how strict their validation is and who pays "
                           "for a rejected record.")
        if serving < self.pass_mark and excess:
            debrief.append(f"{deferred} of {clean_n} ordinary, familiar records were sent to review as 'fallback'. "
                           "Ask what a fallback costs the team downstream and how they would set that threshold.")
        if counter < self.pass_mark and bad:
            debrief.append(f"Only {declined} of {len(bad)} unscorable records were declined; the rest got a "
                           "prediction. Ask what a confident answer to garbage costs.")
        return self.result(score, evidence, failures=[o.describe() for o in not_served[:MAX_FAILURES]],
                           debrief=debrief, metrics={"served_share": share, "usable": len(good),
                                                     "clean_deferred": deferred, "invalid_declined": counter})


@register
class RecoverableCoerced(Check):
    id = "recoverable_coerced"
    dimension = "validation"
    title = "Recoverable records repaired and flagged"
    needs = frozenset({'recoverable'})

    def run(self, ctx: CheckContext) -> CheckResult:
        rows = outcomes(ctx)
        rec = list(iter_kind(rows, "recoverable"))
        if not rec:
            return self.not_measured("the held-back traffic has no recoverable records")
        full = [o for o in rec if o.served and o.flagged]
        silent = [o for o in rec if o.served and not o.flagged]
        recall = ratio(len(full), len(rec))
        # A fallback on a clean record is "my model is unsure", scored in selective_fallback and
        # unfamiliar_fallback; it is never a false repair flag here. Coverage keeps that from
        # being a loophole: a service that sends most clean records to fallback earns nothing.
        clean = [o for o in iter_kind(rows, "clean") if o.served and o.result.status != "fallback"]  # type: ignore[union-attr]
        false_flags = [o for o in clean if o.flagged]
        false_rate = ratio(len(false_flags), len(clean))
        coverage, deferred, answered = normal_coverage(rows)
        cover = coverage_factor(coverage)
        score = clip01(recall - false_rate) * cover
        lost = [o for o in rec if not o.served] + silent
        evidence = (f"Sent {len(rec)} recoverable records ({_codes(rec)}). Expected a prediction with status "
                    f"'coerced' or issues naming the repair. Served and flagged: {pct(len(full), len(rec))}; served "
                    f"silently: {len(silent)}; not served: {len(rec) - len(full) - len(silent)} "
                    f"({_status_mix([o for o in rec if not o.served])}). Counterweight: clean records served normally "
                    f"but flagged too {pct(len(false_flags), len(clean))} (clean records sent to fallback, "
                    f"{pct(deferred, answered)}, are judged as selective fallback, not here; coverage factor "
                    f"{cover:.2f}: 1 while >= 90 % of clean records are served normally). Score = ({recall:.2f} - "
                    f"{false_rate:.2f}) x {cover:.2f} = {score:.2f} (flagging everything, or nothing, scores 0).")
        debrief = []
        if recall < self.pass_mark and lost:
            o = next((x for x in rec if not x.served), lost[0])
            debrief.append(f"A recoverable record came back '{o.status}'"
                           + (" without saying it was repaired" if o.served else "")
                           + f" ({_example_injection([o])}). Ask how they would coerce such values and how they "
                           "would tell the caller that they did.")
        if false_rate > 0.1:
            debrief.append(f"{false_rate:.0%} of clean records were flagged as repaired. Ask what their issues "
                           "are for if every record carries one.")
        return self.result(score, evidence, failures=[o.describe() for o in lost[:MAX_FAILURES]], debrief=debrief,
                           metrics={"flagged_share": recall, "clean_false_flags": false_rate, "coverage": coverage})


@register
class MalformedRejected(Check):
    id = "malformed_rejected"
    dimension = "validation"
    title = "Malformed bodies answered 4xx"
    # A gate: a framework's request model answers 4xx for free, so it may cost a quarter of
    # validation when missing but earns nothing for a service that validates no record.
    gate_floor = 0.75

    def run(self, ctx: CheckContext) -> CheckResult:
        probes = ctx.transcript.probes
        if not probes:
            return self.not_measured("no malformed-body probes were sent")
        ok = [p for p in probes if p.status_code is not None and 400 <= p.status_code < 500]
        bad = [p for p in probes if p not in ok]
        score = ratio(len(ok), len(probes))
        failures = [f"probe {p.name}: sent {p.sent[:100]!r} -> "
                    f"{('HTTP ' + str(p.status_code)) if p.status_code is not None else p.error} {p.detail[:100]}"
                    for p in bad[:MAX_FAILURES]]
        evidence = (f"Sent {len(probes)} malformed bodies ({', '.join(p.name for p in probes)}). Expected a 4xx with "
                    f"a message. Got 4xx for {pct(len(ok), len(probes))}"
                    + (f"; others: {', '.join(f'{p.name}: {p.status_code or p.error}' for p in bad)}" if bad else "")
                    + f". A gate: validation is multiplied by {self.gate_floor} + {1 - self.gate_floor:g} x this score.")
        debrief = []
        if bad:
            p = bad[0]
            debrief.append(f"A malformed body ({p.name}: {p.sent[:60]!r}) got "
                           f"{p.status_code or p.error} instead of a 4xx. Ask how a caller should tell their own "
                           "mistake from a service failure.")
        return self.result(score, evidence, failures=failures, debrief=debrief,
                           metrics={"probes": len(probes), "rejected_4xx": len(ok)})
