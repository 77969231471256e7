"""Monitoring checks: delay (NAB-like), false alarms, attribution, data-quality alarms — and their gaming."""
from __future__ import annotations

import pytest

import _builders as b
from grader.checks.alarms import delay_credit


run = b.run_check


@pytest.fixture(scope="module")
def good():
    return b.standard()


@pytest.fixture(scope="module")
def always():
    return b.standard(monitor=b.always_on)


@pytest.fixture(scope="module")
def never():
    return b.standard(monitor=b.never_on)


@pytest.fixture(scope="module")
def deaf():
    return b.standard(monitor=b.no_monitoring)


def drift_ctx(monitor, specs=None):
    specs = specs or [b.PhaseSpec("stable", 1500, drift="silent"),
                      b.PhaseSpec("shift", 2000, shifts=["covariate"], drift_fields=["channel"], drift="detect")]
    tr, scored = b.traffic("d", specs)
    return b.context([tr], [b.simulate(tr, scored, monitor=monitor)], scored)


def test_delay_credit_shape():
    assert delay_credit(0, 500) == 1.0 and delay_credit(500, 500) == 1.0
    assert delay_credit(1000, 500) == pytest.approx(0.5)
    assert delay_credit(1500, 500) == 0.0 and delay_credit(5000, 500) == 0.0
    vals = [delay_credit(d, 500) for d in range(500, 1501, 50)]
    assert all(a >= c for a, c in zip(vals, vals[1:]))


def test_drift_alarm_delay_full_credit_within_a_window(good):
    r = run("drift_alarm_delay", good)
    assert r.score == 1.0 and r.passed and "200 records" in r.evidence


def test_drift_alarm_delay_fades_with_delay():
    r = run("drift_alarm_delay", drift_ctx(b.oracle_monitor(delay=1000)))
    assert r.metrics["delay_credit"] == pytest.approx(0.5, abs=0.05)
    # 15 reads from one window after the onset to the phase end; on in the last 11 of them
    assert r.metrics["j"] == pytest.approx(11 / 15)
    assert r.score == pytest.approx(r.metrics["delay_credit"] * 11 / 15)
    late = run("drift_alarm_delay", drift_ctx(b.oracle_monitor(delay=1600)))
    assert late.score == 0.0 and not late.passed and late.debrief and "channel" in late.debrief[0]


def test_drift_alarm_delay_never_on_scores_zero(never, deaf):
    for ctx in (never, deaf):
        r = run("drift_alarm_delay", ctx)
        assert r.score == 0.0 and r.failures and r.debrief


def test_drift_alarm_delay_always_on_gets_no_credit(always):
    r = run("drift_alarm_delay", always)
    assert r.score == 0.0 and "already on" in r.failures[0]


def test_alarm_raised_afresh_after_a_false_alarm_counts():
    # on in the stable phase, off just before the onset, on again 300 records in
    def mon(seen, ph, scored):
        if ph.name == "stable":
            return b.view(drift=600 <= seen < 1200, dfeat=["channel"])
        return b.view(drift=seen - ph.start >= 300, dfeat=["channel"])
    r = run("drift_alarm_delay", drift_ctx(mon))
    assert r.metrics["delay_credit"] == 1.0
    # the false alarm is not free: it lowers the alarm's discrimination
    assert r.metrics["on_stable"] == pytest.approx(6 / 15) and r.score == pytest.approx(1 - 6 / 15)


def test_alarm_carried_over_from_a_scored_onset_counts():
    specs = [b.PhaseSpec("stable", 1000, drift="silent"),
             b.PhaseSpec("shift1", 1000, shifts=["covariate"], drift_fields=["channel"], drift="detect"),
             b.PhaseSpec("shift2", 1000, shifts=["covariate"], drift_fields=["channel", "product"], drift="detect")]
    def mon(seen, ph, scored):
        return b.view(drift=seen > 1200, dfeat=["channel"])
    r = run("drift_alarm_delay", drift_ctx(mon, specs))
    assert r.score == 1.0 and r.metrics["onsets"] == 2


def test_drift_alarm_delay_not_measured_without_onsets():
    tr, scored = b.traffic("d", [b.PhaseSpec("stable", 500, drift="silent")])
    r = run("drift_alarm_delay", b.context([tr], [b.simulate(tr, scored)], scored))
    assert r.not_measured and r.score == 0.0


def test_drift_false_alarms(good, never):
    r = run("drift_false_alarms", good)
    assert r.score == 1.0 and "0.00 false alarms per 1,000" in r.evidence
    # silence is not paid for by itself: a never-on alarm detects nothing, so J = 0 here too
    n = run("drift_false_alarms", never)
    assert n.score == 0.0 and n.metrics["silence"] == 1.0 and n.metrics["j"] == 0.0


def test_drift_false_alarms_always_on_and_missing_monitoring_score_zero(always, deaf):
    a = run("drift_false_alarms", always)
    assert a.score == 0.0 and a.metrics["false_alarm_share"] == 1.0 and a.debrief and a.failures
    d = run("drift_false_alarms", deaf)
    assert d.score == 0.0 and any("/monitoring reads failed" in q for q in d.debrief)


def test_drift_false_alarms_scales_with_share_and_counts_episodes():
    # one 100-record blip per 1,000 records of stable traffic from a freshly started service
    def blip(seen, ph, scored):
        return b.view(drift=(ph.name == "stable" and seen % 1000 == 0)
        or (ph.name == "shift" and seen - ph.start >= 200), dfeat=["channel"])
    specs = [b.PhaseSpec("stable", 4500, drift="silent"),
             b.PhaseSpec("shift", 2000, shifts=["covariate"], drift_fields=["channel"], drift="detect")]
    r = run("drift_false_alarms", drift_ctx(blip, specs))
    assert r.metrics["false_alarm_share"] == pytest.approx(4 / 45)
    assert r.score == pytest.approx((1 - (4 / 45) / 0.10) * (1 - 4 / 45))
    assert r.metrics["false_alarms_per_1000"] == pytest.approx(1000 * 4 / 4500)


def test_drift_false_alarms_small_window_alarms_after_start_count():
    # alarms on the first (small) windows after start-up are false alarms, not lag
    def early(seen, ph, scored):
        return b.view(drift=seen <= 300, dfeat=["channel"])
    r = run("drift_false_alarms", drift_ctx(early, [b.PhaseSpec("stable", 1000, drift="silent")]))
    assert r.metrics["false_alarm_share"] == pytest.approx(0.3) and r.score == 0.0


def test_drift_false_alarms_grace_when_the_service_was_not_restarted():
    first, s1 = b.traffic("a", [b.PhaseSpec("shift", 1000, shifts=["covariate"], drift_fields=["channel"],
                                            drift="detect")])
    second, s2 = b.traffic("b", [b.PhaseSpec("stable", 1500, drift="silent")])
    scored = b.merge(s1, s2)
    def lingering(seen, ph, scored):  # the previous scenario's drift is still in the window
        return b.view(drift=ph.name == "shift" or seen <= 400, dfeat=["channel"])
    runs = [b.simulate(first, scored, monitor=lingering),
            b.simulate(second, scored, monitor=lingering, restarted=False)]
    r = run("drift_false_alarms", b.context([first, second], runs, scored))
    assert r.score == 1.0 and r.metrics["false_alarm_share"] == 0.0


def test_drift_false_alarms_grace_after_a_shift():
    # alarm lingers 300 records into a stable phase after a scored shift: not a false alarm
    specs = [b.PhaseSpec("shift", 1000, shifts=["covariate"], drift_fields=["channel"], drift="detect"),
             b.PhaseSpec("back", 2000, drift="silent")]
    def mon(seen, ph, scored):
        return b.view(drift=(ph.name == "shift" and seen >= 200) or seen <= 1300, dfeat=["channel"])
    assert run("drift_false_alarms", drift_ctx(mon, specs)).score == 1.0


def test_drift_attribution(good, never):
    assert run("drift_attribution", good).score == 1.0
    assert run("drift_attribution", good).metrics["min_precision"] == 1.0
    assert run("drift_attribution", never).score == 0.0


def test_drift_attribution_naming_everything_is_penalised():
    def noisy(seen, ph, scored):
        on = ph.name == "shift" and seen - ph.start >= 200
        return b.view(drift=on, dfeat=["channel", "product", "language", "order_value", "customer_tier"])
    r = run("drift_attribution", drift_ctx(noisy))
    # recall 1 minus 4 of the 9 other wire fields named
    assert r.score == pytest.approx(1 - 4 / 9) and not r.passed and r.debrief
    assert r.metrics["min_precision"] == pytest.approx(1 / 5)  # one right name of the five


def test_drift_attribution_naming_every_field_scores_zero():
    every = ["channel", "customer_tier", "product", "language", "subject", "body", "account_age_days",
             "prior_tickets", "order_value", "created_at"]
    def mon(seen, ph, scored):
        return b.view(drift=ph.name == "shift" and seen - ph.start >= 200, dfeat=every)
    r = run("drift_attribution", drift_ctx(mon))
    assert r.score == 0.0 and r.metrics["j"] == 1.0  # the alarm itself is perfect; its names say nothing


@pytest.mark.parametrize("n,on", [(2, 1), (5, 1), (10, 3), (20, 1)])
def test_an_alarm_on_a_timer_earns_nothing(n, on):
    specs = [b.PhaseSpec("stable", 3000, drift="silent", quality="silent", performance="silent"),
             b.PhaseSpec("shift", 2000, shifts=["covariate"], drift_fields=["channel"], drift="detect"),
             b.PhaseSpec("calm", 3000, drift="silent", quality="silent", performance="silent"),
             b.PhaseSpec("outage", 2000, shifts=["missing_burst"], quality_fields=["order_value"],
                         quality="detect"),
             b.PhaseSpec("back", 3000, drift="silent", quality="silent", performance="silent"),
             b.PhaseSpec("concept", 2000, shifts=["concept_drift"], performance="detect")]
    ctx = drift_ctx(b.timer(n, on), specs)
    for cid in ("drift_alarm_delay", "drift_false_alarms", "drift_attribution", "quality_alarms",
                "performance_alarm"):
        r = run(cid, ctx)
        assert r.score <= 0.1, (cid, r.score, r.evidence)


def test_drift_attribution_ignores_quality_fields():
    specs = [b.PhaseSpec("stable", 1500, drift="silent"),
             b.PhaseSpec("shift", 1500, shifts=["covariate", "rename_field"], drift_fields=["channel"],
                         quality_fields=["order_value", "order_total"], drift="detect")]
    def mon(seen, ph, scored):
        return b.view(drift=ph.name == "shift", dfeat=["channel", "order_total"])
    assert run("drift_attribution", drift_ctx(mon, specs)).score == 1.0


def test_quality_alarms(good):
    r = run("quality_alarms", good)
    assert r.score == 1.0 and r.passed


def test_quality_alarms_gaming(always, never):
    a = run("quality_alarms", always)
    assert a.score == 0.0 and a.metrics["silent_share"] == 1.0
    assert any("always on" in q for q in a.debrief)
    n = run("quality_alarms", never)
    assert n.score == 0.0 and n.debrief


def test_quality_alarms_half_credit_without_fields():
    def mon(seen, ph, scored):
        return b.view(quality=scored.quality.get((ph.scenario, ph.name)) == "detect")
    r = run("quality_alarms", b.standard(monitor=mon))
    assert r.score == pytest.approx(0.5)


def _measured_ctx(names):
    """The channel shift also moves customer_tier (reference rate 1.0) and sometimes language (0.5)."""
    from grader.checks.base import FieldTruth

    def mon(seen, ph, scored):
        return b.view(drift=ph.name == "shift" and seen - ph.start >= 200, dfeat=names)
    specs = [b.PhaseSpec("stable", 1500, drift="silent"),
             b.PhaseSpec("shift", 2000, shifts=["covariate"], drift_fields=["channel"], drift="detect")]
    tr, scored = b.traffic("d", specs)
    scored.attribution[("d", "shift")] = FieldTruth(
        moved=frozenset({"channel", "customer_tier"}), unclear=frozenset({"language"}),
        rates=(("channel", 1.0), ("customer_tier", 1.0), ("language", 0.5)))
    return b.context([tr], [b.simulate(tr, scored, monitor=mon)], scored)


def test_drift_attribution_counts_every_field_the_shift_really_moves():
    # issue 19: a field the reference finds moved is a right name, not a false one
    both = run("drift_attribution", _measured_ctx(["channel", "customer_tier"]))
    assert both.score == 1.0 and "customer_tier 1.00" in both.evidence
    injected_only = run("drift_attribution", _measured_ctx(["channel"]))
    assert injected_only.score == pytest.approx(0.5)  # recall 1 of 2 moved fields
    either = run("drift_attribution", _measured_ctx(["channel", "customer_tier", "language"]))
    assert either.score == 1.0  # a field moved in half the windows is neither right nor wrong
    wrong = run("drift_attribution", _measured_ctx(["channel", "customer_tier", "prior_tickets"]))
    assert wrong.score < 1.0  # a field the shift does not move still counts against


def _drawn_ctx(monitor, moved: list[tuple[int, int]]):
    """drift_ctx whose stable phase's own draw looked shifted at the reads in `moved` (harness.draw)."""
    specs = [b.PhaseSpec("stable", 1500, drift="silent"),
             b.PhaseSpec("shift", 2000, shifts=["covariate"], drift_fields=["channel"], drift="detect")]
    tr, scored = b.traffic("d", specs)
    tr.phases[0].truth.drawn_moved = moved
    return b.context([tr], [b.simulate(tr, scored, monitor=monitor)], scored)


def _sound_on_an_unusual_draw(seen, ph, scored):
    # the draw itself moves from record 1000: a sound monitor alarms there and stays on into the shift
    return b.view(drift=seen >= 1000, dfeat=["channel"])


def test_an_alarm_on_an_unusual_stable_draw_is_not_false_where_the_reference_detector_agrees():
    plain = _drawn_ctx(_sound_on_an_unusual_draw, [])
    fa, delay = run("drift_false_alarms", plain), run("drift_alarm_delay", plain)
    assert fa.metrics["false_alarm_share"] == pytest.approx(6 / 15) and fa.score < 0.5
    assert delay.metrics["delay_credit"] == 0.0 and "already on" in delay.failures[0]
    excused = _drawn_ctx(_sound_on_an_unusual_draw, [(1000, 1500)])
    fa, delay = run("drift_false_alarms", excused), run("drift_alarm_delay", excused)
    assert fa.metrics["false_alarm_share"] == 0.0 and fa.score == 1.0
    assert "6 read(s) not counted" in fa.evidence
    assert delay.metrics["delay_credit"] == 1.0 and delay.score == 1.0


def test_an_unusual_stable_draw_excuses_only_its_own_reads():
    # alarms before the flagged span are still false, and an always-on alarm still earns nothing
    def early_too(seen, ph, scored):
        return b.view(drift=seen >= 500, dfeat=["channel"])
    fa = run("drift_false_alarms", _drawn_ctx(early_too, [(1000, 1500)]))
    assert fa.metrics["false_alarm_share"] == pytest.approx(5 / 9)
    for check in ("drift_false_alarms", "drift_alarm_delay"):
        assert run(check, _drawn_ctx(b.always_on, [(1000, 1500)])).score == 0.0
