"""harness.draw: the planner marks where one seed's stable draw itself looks shifted."""
from __future__ import annotations

import pytest

from grader.checks.base import Scored
from grader.exercise import load_exercise
from harness.data.engine import load_recipe, scenario_with_frames
from harness.draw import mark_drawn_moves


def _channel_mix(seed: int):
    ex = load_exercise("support-triage")
    recipe = load_recipe(ex.dataset)
    sc = next(s for s in ex.held_back_scenarios() if s.name == "channel-mix")
    traffic, frames = scenario_with_frames(recipe, sc, seed)
    scored = Scored(drift={("channel-mix", p.name): ("silent" if p.name == "stable" else "detect")
                           for p in sc.phases})
    return recipe, sc, traffic, frames, scored


def test_frames_follow_the_records_sent():
    _, sc, traffic, frames, _ = _channel_mix(7)
    dups = 0
    for phase, frame in zip(traffic.phases, frames):
        assert frame is not None and len(frame) == len(phase.records)
        at = {t.id: i for i, t in enumerate(phase.truths)}
        for i, t in enumerate(phase.truths):
            if not t.injections:  # a record sent as drawn carries the frame's value
                assert phase.records[i]["channel"] == frame["channel"].iloc[i]
            if t.duplicate_of in at:  # a duplicate repeats its original's row
                dups += 1
                assert frame.iloc[i].equals(frame.iloc[at[t.duplicate_of]])
    assert dups


@pytest.mark.parametrize("seed, flagged", [(7, False), (424242, True)])
def test_an_unusual_stable_draw_is_marked_and_an_ordinary_one_is_not(seed, flagged):
    # seed 424242 drew 29 % web tickets in channel-mix's stable phase (training's later half: 24 %)
    recipe, sc, traffic, frames, scored = _channel_mix(seed)
    n = mark_drawn_moves(recipe, seed, scored, [sc], {sc.name: traffic}, {sc.name: frames})
    stable = traffic.phases[0].truth
    assert bool(stable.drawn_moved) is flagged and (n > 0) is flagged
    for lo, hi in stable.drawn_moved:
        assert stable.start < lo <= hi <= stable.end and hi - lo <= sc.window
    assert all(not p.truth.drawn_moved for p in traffic.phases[1:])  # detect phases are never marked


def test_a_planted_shift_in_a_stable_phase_is_marked_from_where_it_starts():
    recipe, sc, traffic, frames, scored = _channel_mix(7)
    stable = frames[0].copy()
    stable.loc[700:, "channel"] = "web"  # the last 500 records all arrive through the web form
    n = mark_drawn_moves(recipe, 7, scored, [sc], {sc.name: traffic}, {sc.name: [stable, *frames[1:]]})
    spans = traffic.phases[0].truth.drawn_moved
    assert n >= 3 and spans and 700 < spans[0][0] <= 1000 and spans[-1][1] == traffic.phases[0].truth.end
