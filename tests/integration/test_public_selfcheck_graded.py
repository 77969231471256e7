"""(slow, docker) The public self-check reads like the grade (issue 19, item 5).

On every exercise, in docker as candidates and the grader run it: the shipped reference passes
every check the public self-check measures, and a demo (accuracy-only, robust-demo) reads a
self-check total within 10 points of the total it is graded (a candidate who sees 40 in
`make check` must not be graded 26). The self-check runs exactly as `shiftwork check` runs in
a bundle (harness.selfcheck.run_selfcheck on the bundle's files); the gradings are the
session's shared ones (tests/integration/_gradings.py: full held-back plan, seed 7).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from _gradings import SEED, Gradings

log = logging.getLogger(__name__)

EXERCISES = ("support-triage", "credit-default", "load-forecast")
DEMOS = ("accuracy-only", "robust-demo")
PUBLIC_SEED = 11  # a candidate's public traffic comes from their own seed; any one will do
MAX_GAP = 10.0
RUNTIME = "docker"


def _bundle(exercise: str, name: str, dest: Path) -> Path:
    """A shipped solution as a candidate's bundle: its code and train.csv (seed 7), .exercise.json and the
    public self-check files `shiftwork package` writes (selfcheck/exercise.json, selfcheck/traffic.json)."""
    from grader.exercise import load_exercise
    from harness import selfcheck
    from harness.data.engine import generate_scenario, load_recipe
    from harness.solutions import materialize_solution

    ex = load_exercise(exercise)
    folder = materialize_solution(exercise, name, dest, seed=SEED)
    recipe = load_recipe(ex.dataset)
    scenario = ex.public()
    traffic = generate_scenario(recipe, scenario, seed=PUBLIC_SEED)
    settings = selfcheck.settings_for(ex, scenario, traffic, recipe)
    (folder / ".exercise.json").write_text(json.dumps({"exercise": ex.id, "version": ex.version,
                                                       "candidate": "selfcheck-test"}))
    (folder / "selfcheck").mkdir(exist_ok=True)
    (folder / selfcheck.TRAFFIC_PATH).write_text(traffic.model_dump_json())
    (folder / selfcheck.SETTINGS_PATH).write_text(settings.model_dump_json(indent=2))
    return folder


@pytest.fixture(scope="module")
def selfchecked(gradings: Gradings):
    """selfchecked(exercise, solution) -> the self-check outcome, once per module."""
    from rich.console import Console

    from harness import selfcheck

    done: dict[tuple[str, str], Any] = {}

    def run(exercise: str, name: str) -> Any:
        if (exercise, name) not in done:
            folder = _bundle(exercise, name, gradings.tmp / "selfcheck" / f"{exercise}-{name}-{gradings.token}")
            outcome = selfcheck.run_selfcheck(selfcheck.load_bundle(folder), runtime=RUNTIME,
                                              console=Console(stderr=True, quiet=True))
            log.warning("self-check %s/%s (%s): %s, total %s (%s)", exercise, name, RUNTIME, outcome.status,
                        outcome.score, ", ".join(f"{d} {s:.1f}" for d, s in outcome.dimensions.items()))
            done[(exercise, name)] = outcome
        return done[(exercise, name)]

    return run


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_reference_passes_every_public_check(exercise: str, selfchecked) -> None:
    outcome = selfchecked(exercise, "reference")
    assert outcome.status == "graded", outcome.reasons
    unmeasured = {r.id: r.not_measured for r in outcome.results if r.not_measured}
    failed = {r.id: f"{r.score:.2f}: {r.evidence[:400]}" for r in outcome.results if not r.not_measured and not r.passed}
    assert not unmeasured, unmeasured  # the bundle lists only checks the public scenario can measure
    assert not failed, failed


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("demo", DEMOS)
@pytest.mark.parametrize("exercise", EXERCISES)
def test_a_demo_reads_in_the_selfcheck_what_it_is_graded(exercise: str, demo: str, selfchecked,
                                                         gradings: Gradings) -> None:
    outcome = selfchecked(exercise, demo)
    graded = gradings.solution(demo, runtime=RUNTIME, exercise=exercise)
    assert outcome.status == "graded" and graded.status == "graded", (outcome.reasons, graded.reasons)
    public = {d: round(s, 1) for d, s in outcome.dimensions.items()}
    held = {d: round(s.score, 1) for d, s in graded.dimensions.items()}
    assert abs(outcome.score - graded.score) <= MAX_GAP, (
        f"{exercise}/{demo}: self-check {outcome.score} {public}, graded {graded.score} {held}")
