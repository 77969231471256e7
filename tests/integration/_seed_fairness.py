"""The same work gets the same grade on every candidate's seed (issue 19, item 4).

Each exercise's reference, accuracy-only and robust-demo solutions and a mid-ladder variant
(the reference with its data-quality and performance alarms muted, tests/fixtures/services/
midladder) are graded at each of SEEDS as a candidate with that seed would be: trained on
that seed's train.csv, graded on that seed's held-back plan, in docker. Shared by the test
(tests/integration/test_seed_fairness.py, asserts) and the benchmark (benchmarks/
bench_seeds.py, prints the figures).
"""
from __future__ import annotations

import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXERCISES = ("support-triage", "credit-default", "load-forecast")
SOLUTIONS = ("reference", "accuracy-only", "robust-demo", "mid-ladder")
# 7 is the seed every other test grades at; the others as a candidate's are: small and 32-bit.
# 424242 draws an unusual stable phase in support-triage's channel-mix (29 % web tickets, training
# 24 %): a sound monitor alarms there, and the plan must not count it false (harness.draw).
SEEDS = (7, 101, 2027, 55555, 424242, 3141592653)
SPREAD = 3.0  # points: every seed's total within this of the solution's own mean
CHECK_SWING = 0.15  # no check of the reference moves more than this across the seeds
MID_LADDER = "mid-ladder"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "services" / "midladder" / "serve.py"


def materialize(exercise: str, solution: str, seed: int, dest: Path) -> Path:
    """A solution folder with that seed's train.csv; the mid-ladder is the reference with the fixture's serve.py."""
    from harness.solutions import materialize_solution

    folder = materialize_solution(exercise, "reference" if solution == MID_LADDER else solution, dest, seed=seed)
    if solution == MID_LADDER:
        shutil.copyfile(FIXTURE, folder / "serve.py")
    return folder


@dataclass
class Spread:
    exercise: str
    solution: str
    totals: dict[int, float]  # seed -> total

    @property
    def mean(self) -> float:
        return statistics.fmean(self.totals.values())

    @property
    def worst(self) -> float:
        """The largest distance of one seed's total from the solution's mean."""
        return max(abs(t - self.mean) for t in self.totals.values())

    def row(self) -> str:
        t = self.totals.values()
        return (f"{self.exercise:<15} {self.solution:<14} min {min(t):5.1f}  mean {self.mean:5.1f}  max {max(t):5.1f}"
                f"  largest gap from mean {self.worst:4.1f}  ("
                + ", ".join(f"{s}: {v:.1f}" for s, v in self.totals.items()) + ")")


def check_swings(reports: dict[int, Any]) -> dict[str, tuple[float, dict[int, float]]]:
    """check id -> (max - min of its score over the seeds, seed -> score), for checks measured on every seed."""
    per: dict[str, dict[int, float]] = {}
    for seed, report in reports.items():
        for c in report.checks:
            if c.not_measured is None:
                per.setdefault(c.id, {})[seed] = c.score
    return {cid: (max(s.values()) - min(s.values()), s) for cid, s in per.items() if len(s) == len(reports)}


def format_swings(exercise: str, swings: dict[str, tuple[float, dict[int, float]]]) -> str:
    cid, (swing, scores) = max(swings.items(), key=lambda kv: kv[1][0])
    return (f"{exercise:<15} reference: largest check swing {swing:.2f} ({cid}: "
            + ", ".join(f"{s}: {v:.2f}" for s, v in scores.items()) + ")")
