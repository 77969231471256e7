"""What one seed's held-back draw itself shows, before any service sees it.

A stable phase is drawn at random from the training distribution, and now and then one
seed's draw is itself unusual: support-triage at seed 424242 drew 29 % web tickets in
channel-mix's stable phase where training's later half has 24 % (about 3 standard
deviations; over 33 seeds the mean is 24.3 %, sd 1.5). A sound monitor alarms there, and
calibration, pooled over 8 seeds, cannot know one candidate's draw. So the planner runs
the calibrated reference detector of the candidate's own seed over the window a service
holds at each /monitoring read of every stable phase. Where it flags a window, a drift
alarm is not counted false from that read until those records have left the window, and
an onset right after such a read is scored without asking the alarm to be raised afresh.
"""
from __future__ import annotations

import logging

import pandas as pd

from grader.checks.base import Scored
from grader.scenario import Scenario
from grader.truth import ScenarioTraffic
from harness.calibration import reference_detector
from harness.data.kinds import kind_for
from harness.data.recipe import Recipe

log = logging.getLogger(__name__)


def mark_drawn_moves(recipe: Recipe, seed: int, scored: Scored, scenarios: list[Scenario],
                     traffic: dict[str, ScenarioTraffic], frames: dict[str, list[pd.DataFrame | None]]) -> int:
    """Set `drawn_moved` on every drift-silent phase of `traffic`. Returns how many reads were flagged."""
    silent = {(sc, ph) for (sc, ph), e in scored.drift.items() if e == "silent"}
    if not any(s.name in traffic and (s.name, p.name) in silent for s in scenarios for p in s.phases):
        return 0
    detector, _ = reference_detector(recipe, seed)
    kind = kind_for(recipe)
    flagged = 0
    for sc in scenarios:
        if sc.name not in traffic:
            continue
        phases = traffic[sc.name].phases
        kept = [f for f in frames[sc.name] if f is not None]
        if not kept or not any((sc.name, p.truth.name) in silent for p in phases):
            continue
        # the scenario's records in the order sent, typed as the detector reads them
        monitored = kind.monitored(recipe, pd.concat(kept, ignore_index=True)).frame
        for p in phases:
            truth = p.truth
            if (sc.name, truth.name) not in silent or truth.end <= truth.start:
                continue
            spans: list[tuple[int, int]] = []
            # reads follow each batch, counted from the scenario's first record
            first = (truth.start // sc.batch_size + 1) * sc.batch_size
            for r in range(first, truth.end + 1, sc.batch_size):
                if detector.check(monitored.iloc[max(0, r - sc.window):r]).drift:
                    flagged += 1
                    # a sound monitor stays on until the unusual records leave its window
                    hi = min(r + sc.window, truth.end)
                    if spans and r <= spans[-1][1]:
                        spans[-1] = (spans[-1][0], hi)
                    else:
                        spans.append((r, hi))
            truth.drawn_moved = spans
            if spans:
                log.info("%s/%s: this draw itself looks shifted at reads %s", sc.name, truth.name, spans)
    return flagged
