"""slice_alarm: a per-group performance alarm for the right group, combined with its counterweight."""
from __future__ import annotations

import pytest

import _builders as b
from grader.contract import MonitoringResponse, SliceView

run = b.run_check

# stable (every group silent) -> men's accuracy drops, women's does not (hidden behind a flat total)
SPECS = [b.PhaseSpec("stable", 2000), b.PhaseSpec("drop", 2500, shifts=["concept_drift"])]
ALLOW = 300  # label delay 3 batches of 100


def ctx_with(monitor):
    tr, scored = b.traffic("groups", SPECS)
    scored.slices = {("groups", "stable", "sex", "male"): "silent", ("groups", "stable", "sex", "female"): "silent",
                     ("groups", "drop", "sex", "male"): "detect", ("groups", "drop", "sex", "female"): "silent"}
    return b.context([tr], [b.simulate(tr, scored, monitor=monitor)], scored)


def slices_view(male: bool, female: bool, overall: bool = False, report: bool = True) -> MonitoringResponse:
    v = b.view(perf=overall)
    groups = [SliceView(field="sex", value="male", metric="accuracy", metric_value=0.6, degraded=male),
              SliceView(field="sex", value="female", metric="accuracy", metric_value=0.8, degraded=female)]
    return v.model_copy(update={"performance": v.performance.model_copy(update={"slices": groups if report else None})})


def right_group(delay: int = 200):
    def mon(seen, ph, scored):
        return slices_view(male=ph.name == "drop" and seen - ph.start >= ALLOW + delay, female=False)
    return mon


def test_the_right_group_flagged_soon_after_the_onset_passes():
    r = run("slice_alarm", ctx_with(right_group()))
    assert r.passed and r.score == pytest.approx(1.0) and r.metrics["j"] == 1.0


def test_watching_overall_accuracy_only_scores_zero():
    def overall(seen, ph, scored):  # performance.degraded after the onset, no slices reported
        return slices_view(False, False, overall=ph.name == "drop" and seen - ph.start >= ALLOW, report=False)
    r = run("slice_alarm", ctx_with(overall))
    assert r.score == 0.0 and not r.passed and r.debrief and "sex = male" in r.debrief[0]


def test_flagging_every_group_all_the_time_scores_zero():
    r = run("slice_alarm", ctx_with(lambda seen, ph, scored: slices_view(True, True)))
    assert r.score == 0.0 and r.metrics["on_stable"] == 1.0


def test_flagging_the_wrong_group_too_earns_nothing():
    def both(seen, ph, scored):  # the right group, but the group whose outcomes improved as well
        on = ph.name == "drop" and seen - ph.start >= ALLOW + 200
        return slices_view(male=on, female=on)
    r = run("slice_alarm", ctx_with(both))
    assert r.score == 0.0


def test_a_late_slice_alarm_earns_less():
    r = run("slice_alarm", ctx_with(right_group(delay=900)))
    assert 0.0 < r.metrics["delay_credit"] < 1.0 and r.score < 0.8


def test_without_scored_groups_it_is_not_measured():
    tr, scored = b.traffic("groups", SPECS)
    r = run("slice_alarm", b.context([tr], [b.simulate(tr, scored, monitor=right_group())], scored))
    assert r.not_measured and r.score == 0.0


def test_a_group_spelled_the_service_s_own_way_is_the_same_group():
    """A service that canonicalises "Very Good" to "very_good" names the group the grader means; a
    different group is still a different group."""
    def spelled(value: str):
        def mon(seen, ph, scored):
            v = b.view()
            on = ph.name == "drop" and seen - ph.start >= ALLOW + 200
            groups = [SliceView(field="sex", value=value, metric="mae", metric_value=900.0, degraded=on)]
            return v.model_copy(update={"performance": v.performance.model_copy(update={"slices": groups})})
        return mon

    def ctx(value: str):
        tr, scored = b.traffic("groups", SPECS)
        scored.slices = {("groups", "stable", "sex", "very good"): "silent",
                         ("groups", "drop", "sex", "very good"): "detect"}
        return b.context([tr], [b.simulate(tr, scored, monitor=spelled(value))], scored)

    assert run("slice_alarm", ctx("Very_Good")).score == pytest.approx(1.0)
    assert run("slice_alarm", ctx("very-good")).score == pytest.approx(1.0)
    assert run("slice_alarm", ctx("very goodish")).score == 0.0
