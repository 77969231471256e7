"""Seed fairness figures: per exercise and solution, min / mean / max total over candidate seeds.

The same sweep tests/integration/test_seed_fairness.py asserts on (`make test-seeds`): each
exercise's reference, accuracy-only and robust-demo solutions and a mid-ladder variant,
each trained on its own seed's data and graded in docker on its own seed's full held-back
plan (tests/integration/_seed_fairness.py). Printed: each solution's totals, the largest gap
of one seed from the solution's mean, and the reference's largest single-check swing. Run:
`make bench`, or `python benchmarks/bench_seeds.py [exercise ...]`. About 20 minutes on two
cores. Figures are printed, never asserted here.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests")]  # _gradings, and the _session it uses


def run(exercises: tuple[str, ...] | None = None) -> list[str]:
    from _gradings import Gradings
    from _seed_fairness import EXERCISES, SEEDS, SOLUTIONS, Spread, check_swings, format_swings

    lines = [f"seed fairness (docker, full held-back plans, seeds {', '.join(map(str, SEEDS))})"]
    with tempfile.TemporaryDirectory(prefix="shiftwork-bench-seeds-") as tmp:
        gradings = Gradings(Path(tmp), shared=Path(tmp) / "shared")
        for exercise in exercises or EXERCISES:
            reports = {(s, seed): gradings.at_seed(exercise, s, seed) for s in SOLUTIONS for seed in SEEDS}
            for s in SOLUTIONS:
                lines.append("  " + Spread(exercise, s, {seed: reports[(s, seed)].score for seed in SEEDS}).row())
            lines.append("  " + format_swings(exercise, check_swings({seed: reports[("reference", seed)]
                                                                      for seed in SEEDS})))
    return lines


@pytest.mark.docker
def test_seed_fairness_figures(capsys: pytest.CaptureFixture[str]) -> None:
    lines = run()
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(lines) > 1


if __name__ == "__main__":
    print("\n".join(run(tuple(sys.argv[1:]) or None)))
