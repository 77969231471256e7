"""Validation checks on hand-made transcripts: a sound service passes, broken and gaming ones fail."""
from __future__ import annotations

import pytest

import _builders as b
from grader.transcript import Probe


run = b.run_check


@pytest.fixture(scope="module")
def good():
    return b.standard()


@pytest.fixture(scope="module")
def rejecting():
    return b.standard(answer=b.reject_all)


@pytest.fixture(scope="module")
def permissive():
    return b.standard(answer=b.serve_all_ok)


def test_no_server_errors_passes_for_a_sound_service(good):
    r = run("no_server_errors", good)
    assert r.score == 1.0 and r.passed and not r.failures and not r.debrief
    assert "75" in r.evidence


def test_no_server_errors_counts_5xx_batches_and_names_the_messy_value():
    ctx = b.standard(fail_batches={3})
    r = run("no_server_errors", ctx)
    assert not r.passed
    assert r.score == pytest.approx(1 - 3 / 75)  # batch 3 of each of the 3 scenarios
    assert any("HTTP 500" in f for f in r.failures)
    assert r.debrief and "500" in r.debrief[0] and "'$1,250.00'" in r.debrief[0]


def test_no_server_errors_counts_batches_never_sent_after_an_abort():
    tr, scored = b.traffic("s", [b.PhaseSpec("p", 1000)])
    run_ = b.simulate(tr, scored, stop_after=4)
    ctx = b.context([tr], [run_], scored)
    r = run("no_server_errors", ctx)
    assert r.score == pytest.approx(4 / 10)
    assert any("never sent" in f and "service stopped answering" in f for f in r.failures)


def test_no_server_errors_with_no_run_at_all_scores_zero():
    tr, scored = b.traffic("s", [b.PhaseSpec("p", 300)])
    assert run("no_server_errors", b.context([tr], [], scored)).score == 0.0


def test_whole_batch_4xx_is_not_a_server_error_but_loses_valid_served():
    tr, scored = b.traffic("s", [b.PhaseSpec("p", 1000, kinds=["clean"] * 9 + ["invalid"])])
    run_ = b.simulate(tr, scored, fail_batches=set(range(10)), fail_code=422)
    ctx = b.context([tr], [run_], scored)
    assert run("no_server_errors", ctx).score == 1.0
    vs = run("valid_served", ctx)
    assert vs.score == 0.0 and vs.failures and "HTTP 422" in vs.failures[0]


def test_invalid_flagged(good, permissive, rejecting):
    assert run("invalid_flagged", good).score == 1.0
    r = run("invalid_flagged", permissive)
    assert r.score == 0.0 and not r.passed and r.failures and r.debrief
    assert "truth=invalid" in r.failures[0]
    # rejecting everything finds every invalid record, but its flags are worthless
    g = run("invalid_flagged", rejecting)
    assert g.score == 0.0 and g.metrics["recall"] == 1.0 and g.metrics["usable_rejected"] == 1.0


def test_valid_served_needs_invalid_records_declined(permissive):
    # serving everything is accept-all: the usable records are served, but so is every unscorable one
    r = run("valid_served", permissive)
    assert r.metrics["served_share"] == 1.0 and r.metrics["invalid_declined"] == 0.0 and r.score == 0.0


def test_gates_multiply_validation_and_earn_nothing_alone():
    from grader.scoring import dimension_scores, run_checks

    sound = b.standard()
    crashy = b.standard(fail_batches={3})  # 3 of 75 batches answered 500
    accept_all = b.standard(answer=b.serve_all_ok)
    v = {name: dimension_scores(run_checks(ctx), ctx.exercise)["validation"][0]
         for name, ctx in (("sound", sound), ("crashy", crashy), ("accept_all", accept_all))}
    assert v["sound"] == 100.0
    # the broken batches' records are lost and the gate takes its share on top
    ns = run("no_server_errors", crashy).score
    assert v["crashy"] < 100.0 * ns
    # never crashing and a 4xx for malformed bodies are owed, not earned
    assert run("no_server_errors", accept_all).score == 1.0 and v["accept_all"] == 0.0


def test_valid_served(good, rejecting):
    assert run("valid_served", good).score == 1.0
    r = run("valid_served", rejecting)
    assert r.score == 0.0 and not r.passed and len(r.failures) == 5 and r.debrief


def test_valid_served_is_scaled_between_half_and_95_percent():
    tr, scored = b.traffic("s", [b.PhaseSpec("p", 1000)])
    # reject 2 batches of 10 -> 80% served -> (0.8-0.5)/0.45
    run_ = b.simulate(tr, scored, answer=lambda rec, t: (b.reject_all if t.index < 200 else b.oracle_answer)(rec, t))
    r = run("valid_served", b.context([tr], [run_], scored))
    assert r.score == pytest.approx(0.3 / 0.45)


def test_recoverable_coerced(good, permissive, rejecting):
    assert run("recoverable_coerced", good).score == 1.0
    assert run("recoverable_coerced", permissive).score == 0.0  # served, never flagged: no decision made
    assert run("recoverable_coerced", rejecting).score == 0.0


def test_recoverable_coerced_counterweight_flagging_everything():
    def coerce_all(rec, t):
        res = b.oracle_answer(rec, t)
        return res if res.status != "ok" else res.model_copy(update={"status": "coerced"})
    r = run("recoverable_coerced", b.standard(answer=coerce_all))
    assert r.score == 0.0 and r.metrics["clean_false_flags"] == 1.0
    assert any("clean records were flagged" in q for q in r.debrief)


def test_malformed_rejected():
    good = b.context([], [], b.Scored(), probes=[Probe(name="not_json", sent="{", status_code=400),
                                                  Probe(name="empty", sent="{}", status_code=422)])
    assert run("malformed_rejected", good).score == 1.0
    bad = b.context([], [], b.Scored(), probes=[Probe(name="not_json", sent="{", status_code=500),
                                                 Probe(name="empty", sent="{}", status_code=200)])
    r = run("malformed_rejected", bad)
    assert r.score == 0.0 and len(r.failures) == 2 and r.debrief
    none = run("malformed_rejected", b.context([], [], b.Scored()))
    assert none.not_measured and none.score == 0.0


def test_deferring_familiar_records_to_review_is_not_serving_them():
    tr, scored = b.traffic("s", [b.PhaseSpec("p", 1000)])
    everything = b.simulate(tr, scored, answer=b.fallback_all)
    r = run("valid_served", b.context([tr], [everything], scored))
    assert r.score == 0.0 and r.metrics["clean_deferred"] == 1000 and r.debrief
    # A few deferrals (within the 5 % tolerance) cost nothing.
    few = b.simulate(tr, scored, answer=lambda rec, t: (b.fallback_all if t.index < 40 else b.oracle_answer)(rec, t))
    assert run("valid_served", b.context([tr], [few], scored)).score == 1.0
