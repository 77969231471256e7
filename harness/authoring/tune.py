"""Calibration as part of authoring: turn each proposed scenario up until the reference detector finds
it at the window size, or drop it saying why; then the full calibration, shipped with the exercise.

Quick rounds (few seeds and windows) pick the strengths; the last round is `make calibration`'s own
(every calibration seed, 40 windows per phase), so the written exercise passes it on every seed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from grader.errors import CalibrationFailed
from grader.exercise import load_exercise
from harness.authoring.exercise import PUBLIC_NAME, write_exercise
from harness.authoring.scenarios import Proposal
from harness.authoring.schema import TableSchema
from harness.calibration import CalibrationReport, calibrate
from harness.calibration_store import ship

log = logging.getLogger(__name__)

QUICK = {"windows": 12, "seeds": 2}
ROUNDS = 4  # quick rounds: each turns every failing scenario up a step
FULL_ROUNDS = 3  # full calibrations: the last that still fails names what it could not fix


@dataclass
class Tuned:
    kept: list[Proposal]
    dropped: list[Proposal]
    report: CalibrationReport
    shipped: Path


def _failing(report: CalibrationReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for phase in report.phases:
        for why in phase.failures():
            out.setdefault(phase.scenario, []).append(why)
    return out


def _turn_up(p: Proposal, why: list[str]) -> bool:
    """Set the next strength of `p`; False when it has none left or its fault is a false alarm."""
    if p.strength is not None and p.value is not None and all("expected detect" in w for w in why):
        steps = p.strength[1]
        later = [s for s in steps if (s > p.value if steps[-1] > steps[0] else s < p.value)]
        if later:
            p.set_strength(later[0])
            return True
    return False


Progress = Callable[[int, int, str], None]  # (windows done, windows in all, what): a calibration's progress


def tune(folder: Path, exercise_id: str, schema: TableSchema, frame: pd.DataFrame, title: str, label: str,
         proposals: list[Proposal], say: Callable[[str], None] = log.info, progress: Progress | None = None) -> Tuned:
    kept, dropped, skipped = list(proposals), [], set()
    root = folder.parent.parent

    def write() -> None:
        write_exercise(folder, exercise_id, schema, frame, title, label, kept, skip_public=skipped)

    def settle(failing: dict[str, list[str]], final: bool) -> bool:
        """Turn up what a shift too weak to find failed; in the full rounds also drop what cannot be fixed so.
        A quick round's false alarm may be its few windows' noise: the full calibration decides. True when
        something changed."""
        changed = False
        for why in (failing.pop(PUBLIC_NAME, []) if final else []):
            skipped.add(why.split(":")[0].split("/", 1)[1])  # "self-check/phase: ..." -> the phase leaves
            changed = True
        for p in [p for p in kept if p.name in failing]:
            if _turn_up(p, failing[p.name]):
                changed = True
            elif final:
                p.why_dropped = failing[p.name][0]
                kept.remove(p)
                dropped.append(p)
                changed = True
        return changed

    for round_ in range(ROUNDS):
        write()
        failing = _failing(calibrate(load_exercise(exercise_id, root=root), progress=progress, **QUICK))
        say(f"quick calibration {round_ + 1}: {len(kept)} scenarios" + (f", turning up or dropping {', '.join(failing)}"
                                                                         if failing else ", all fair"))
        if not failing or not settle(failing, final=False):
            break
    for _ in range(FULL_ROUNDS):
        write()
        report, shipped = ship(load_exercise(exercise_id, root=root), progress=progress)
        failing = _failing(report)
        say(f"full calibration ({len(report.seeds)} seeds, {report.windows} windows a phase): "
            + (f"turning up or dropping {', '.join(failing)}" if failing else "every scenario fair on every seed"))
        if not failing:
            return Tuned(kept, dropped, report, shipped)
        settle(failing, final=True)
    raise CalibrationFailed(f"{exercise_id}: calibration still fails after dropping scenarios: "
                            + "; ".join(report.failures()))
