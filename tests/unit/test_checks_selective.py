"""Selective prediction: a fallback on a familiar record is scored by how informative it is.

Issue 19, item 1: the brief invites `fallback` when the model is unsure, so a service that
falls back on its least confident records earns selective_fallback and loses nothing in
recoverable_coerced or unfamiliar_fallback; one that falls back at random on as many earns
nothing; falling back on everything or on most records earns nothing anywhere.
"""
from __future__ import annotations

import random

import pytest

import _builders as b
from grader.contract import Issue, Result

run = b.run_check

N = 4000
WRONG_SHARE = 0.15  # the plain baseline's error rate on familiar clean records


def _hard(rid: str) -> bool:
    """Whether the plain baseline gets this record wrong (independent of any policy below)."""
    return random.Random(f"hard|{rid}").random() < WRONG_SHARE


def _pick(rid: str, share: float, salt: str) -> bool:
    return random.Random(f"{salt}|{rid}").random() < share


def _context(answer):
    tr, scored = b.traffic("sel", [b.PhaseSpec("stable", N, kinds=["clean"] * 7 + ["recoverable", "invalid",
                                                                                  "unfamiliar"])])
    plain = {}
    for t in tr.all_truths():
        wrong = b.CLASSES[(b.CLASSES.index(t.label) + 1) % len(b.CLASSES)]
        plain[t.id] = wrong if _hard(t.id) else t.label
    runs = [b.simulate(tr, scored, answer)]
    return b.context([tr], runs, scored, predictions={"plain_model": plain, "majority": {}})


def _unsure(base, rid: str, code: str = "low_confidence") -> Result:
    return base.model_copy(update={"status": "fallback", "confidence": 0.31,
                                   "issues": [*base.issues, Issue(field="record", code=code)]})


def policy(kind: str, share: float = 0.05):
    """The oracle's statuses, plus fallbacks on `share` of familiar clean records chosen by `kind`."""
    def answer(rec, t):
        base = b.oracle_answer(rec, t)
        if t.kind != "clean":
            return base
        if kind == "informative":  # the least confident: mostly records that really are hard
            chosen = _hard(t.id) and _pick(t.id, share / WRONG_SHARE * 0.6, "conf") or _pick(t.id, share * 0.4, "x")
        elif kind == "informative-most":  # every hard record, and half the others too
            chosen = _hard(t.id) or _pick(t.id, 0.5, "most")
        elif kind == "random":
            chosen = _pick(t.id, share, "random")
        elif kind == "all":
            chosen = True
        else:
            chosen = False
        return _unsure(base, t.id) if chosen else base
    return answer


@pytest.fixture(scope="module")
def ctxs():
    return {k: _context(policy(k)) for k in ("informative", "random", "all", "none", "informative-most")}


def test_least_confident_fallback_earns_selective_credit(ctxs):
    r = run("selective_fallback", ctxs["informative"])
    assert r.score >= 0.8 and r.passed
    assert r.metrics["lift"] >= 2.0
    assert "familiar clean records went to fallback" in r.evidence


def test_random_fallback_earns_nothing(ctxs):
    r = run("selective_fallback", ctxs["random"])
    assert r.score <= 0.1 and not r.passed and r.debrief


@pytest.mark.parametrize("kind", ["all", "none", "informative-most"])
def test_blanket_or_no_fallback_earns_nothing(ctxs, kind):
    r = run("selective_fallback", ctxs[kind])
    assert r.score == 0.0
    if kind == "none":
        assert any("unsure" in q for q in r.debrief)


def test_informative_fallback_is_never_a_false_repair_flag(ctxs):
    plain = run("recoverable_coerced", ctxs["none"])
    informative = run("recoverable_coerced", ctxs["informative"])
    assert plain.score == pytest.approx(1.0)
    # the fallbacks carry an issue, yet no clean record counts as a false flag
    assert informative.score == pytest.approx(plain.score)
    assert informative.metrics["clean_false_flags"] == 0.0
    assert "judged as selective fallback" in informative.evidence


def test_all_fallback_cannot_hide_in_the_repair_check(ctxs):
    assert run("recoverable_coerced", ctxs["all"]).score == 0.0
    assert run("recoverable_coerced", ctxs["informative-most"]).score == 0.0


def test_unfamiliar_fallback_counts_only_uninformative_familiar_fallbacks(ctxs):
    none = run("unfamiliar_fallback", ctxs["none"]).score
    informative = run("unfamiliar_fallback", ctxs["informative"])
    rnd = run("unfamiliar_fallback", ctxs["random"])
    assert none == pytest.approx(1.0)
    assert informative.score == pytest.approx(1.0, abs=0.01)
    assert rnd.score == pytest.approx(1.0 - rnd.metrics["clean_fallback_rate"], abs=0.01)
    assert rnd.score < informative.score
    assert run("unfamiliar_fallback", ctxs["all"]).score == 0.0
    # informative, but on most familiar records: no coverage, so every one of them counts
    most = run("unfamiliar_fallback", ctxs["informative-most"])
    assert most.score == pytest.approx(1.0 - most.metrics["clean_fallback_rate"], abs=0.01)


def test_a_few_lucky_fallbacks_prove_nothing():
    # three fallbacks, all on records the baseline gets wrong: the lower bound keeps them at ~0
    hard = []

    def answer(rec, t):
        base = b.oracle_answer(rec, t)
        if t.kind == "clean" and _hard(t.id) and len(hard) < 3:
            hard.append(t.id)
            return _unsure(base, t.id)
        return base
    r = run("selective_fallback", _context(answer))
    assert r.metrics["fallback"] == 3 and r.score < 0.2


def test_selective_fallback_for_a_numeric_target():
    # fall back where the plain forecast is furthest off: informative; at random: not
    probe = b.regression_standard()
    plain = probe.baseline_predictions["plain_model"]
    truth = {t.id: t for tr in probe.traffic.values() for t in tr.all_truths()}
    err = sorted((abs(float(plain[i]) - float(t.label)), i) for i, t in truth.items()
                 if t.kind == "clean" and t.label is not None)
    worst = {i for _, i in err[-len(err) // 20:]}

    def informative(rec, t):
        base = b.forecast()(rec, t)
        return _unsure(base, t.id) if t.id in worst else base

    def at_random(rec, t):
        base = b.forecast()(rec, t)
        return _unsure(base, t.id) if t.kind == "clean" and _pick(t.id, 0.05, "r") else base
    assert run("selective_fallback", b.regression_standard(answer=informative)).score >= 0.8
    assert run("selective_fallback", b.regression_standard(answer=at_random)).score <= 0.1
