"""One planner: everything decided before any container starts, for an exercise and a seed.

Held-back traffic (with each seed's own stable draws marked, harness.draw), the calibrated
expectations, the checks and the baselines' predictions, kept on disk by harness.plan_cache.
Grading, the queue's workers, the demo, tests and benchmarks all get their plans here.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from rich.console import Console

from grader.checks import provided, resolve, unmet
from grader.errors import ConfigError, UsageError
from grader.exercise import Exercise
from grader.grade import GradePlan
from grader.report.kit import exercise_templates
from harness.baseline import Baselines
from harness.calibration_store import scored_phases
from harness.data.engine import load_recipe, scenario_with_frames
from harness.draw import mark_drawn_moves
from harness.plan_cache import load_plan, plan_key, store_plan

log = logging.getLogger(__name__)

# Needs that follow from the scenario files and the calibration alone (see grader.checks.base.provided):
# a held-back set short of one fails before any traffic is generated (a minute under load).
_STRUCTURAL_NEEDS = frozenset({"shifted", "drift_onset", "drift_stable", "quality_onset", "performance_onset",
                               "slice_onset", "load", "restart"})


def plan_grading(exercise: Exercise, seed: int, console: Console | None = None,
                 only: Iterable[str] | None = None) -> GradePlan:
    """Everything decided before any container starts: checks, held-back traffic, calibration, baselines.

    `only` keeps just the named scenarios (tests and benchmarks grade on a few).
    """
    checks = resolve([c.id for c in exercise.checks])  # a typo fails here, before any container
    status = (console or Console(stderr=True)).status("generating held-back traffic and baselines…")
    with status:
        recipe = load_recipe(exercise.dataset)
        scenarios = exercise.held_back_scenarios()
        if only is not None:
            keep = set(only)
            unknown = keep - {s.name for s in scenarios}
            if unknown:
                raise UsageError(f"{exercise.id} has no held-back scenario {', '.join(sorted(unknown))}")
            scenarios = [s for s in scenarios if s.name in keep]
        names = {s.name for s in scenarios}
        full = scored_phases(exercise)
        scored = full.only(names)
        ids = [c.id for c in exercise.checks]
        if only is None:  # the held-back set must measure every check it is weighted on
            early = {c: n & _STRUCTURAL_NEEDS for c, n in unmet(ids, provided(scored, {}, scenarios)).items()}
            _refuse_unmeasurable(exercise, {c: n for c, n in early.items() if n})
        drawn = {s.name: scenario_with_frames(recipe, s, seed) for s in scenarios}
        traffic = {name: t for name, (t, _) in drawn.items()}
        if only is None:
            _refuse_unmeasurable(exercise, unmet(ids, provided(scored, traffic, scenarios)))
        mark_drawn_moves(recipe, seed, scored, scenarios, traffic, {name: f for name, (_, f) in drawn.items()})
        baselines = Baselines.for_exercise(exercise.dataset, exercise.label, seed)
        predictions = baselines.predictions(traffic)
    return GradePlan(exercise=exercise, seed=seed, scenarios=scenarios, traffic=traffic, scored=scored,
                     classes=list(recipe.classes), checks=checks, baseline_predictions=predictions,
                     baseline_name=baselines.spec.describe,
                     fields=[f.name for f in recipe.fields if f.kind != "id" and f.name != recipe.label])


def _refuse_unmeasurable(exercise: Exercise, missing: dict[str, set[str]]) -> None:
    if missing:
        raise ConfigError(f"{exercise.id}: the held-back scenarios cannot measure "
                          + "; ".join(f"{c} (needs {', '.join(sorted(n))})" for c, n in missing.items()))


def plan_for(exercise: Exercise, seed: int, console: Console | None = None, *, cache_dir: Path | None,
             only: Iterable[str] | None = None, memo: dict[tuple[str, int], GradePlan] | None = None) -> GradePlan:
    """The plan of (exercise, seed[, only]): from `memo` (plans a cohort shares by (exercise, seed), full plans
    only), else from the disk cache in `cache_dir` (None: no disk cache), else planned now and kept in both."""
    exercise_templates(exercise)  # the interview templates, like the scenarios, fail before any container starts
    key = (exercise.id, seed)
    if memo is not None and only is None and key in memo:
        return memo[key]
    selection = None if only is None else sorted(set(only))
    plan = None
    if cache_dir is not None:
        pkey = plan_key(exercise, seed, selection)
        plan = load_plan(cache_dir, exercise, seed, selection, key=pkey)
    if plan is None:
        plan = plan_grading(exercise, seed, console, only=selection)
        if cache_dir is not None:
            store_plan(cache_dir, plan, selection, key=pkey)
    if memo is not None and only is None:
        memo[key] = plan
    return plan


def cached_plan(exercise: Exercise, seed: int, console: Console | None = None, *, cache_dir: Path | None,
                only: Iterable[str] | None = None) -> GradePlan:
    """plan_for without a cohort's memo (the queue's workers and the tests' shared plans)."""
    return plan_for(exercise, seed, console, cache_dir=cache_dir, only=only)


@dataclass
class PlanJob:
    """A plan being made in a thread of its own while the submission builds: the build needs no plan.

    `exercise` and `seed` are known at once (the transcript is named from them); result() waits
    for the plan and re-raises what planning raised (a broken exercise file, an unknown scenario).
    """

    exercise: Exercise
    seed: int
    seconds: float = 0.0  # how long planning took (on its own thread)
    _plan: GradePlan | None = field(default=None, repr=False)
    _error: BaseException | None = field(default=None, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @classmethod
    def start(cls, exercise: Exercise, seed: int, make: Callable[[], GradePlan]) -> "PlanJob":
        job = cls(exercise, seed)

        def work() -> None:
            began = time.monotonic()
            try:
                job._plan = make()
            except BaseException as exc:  # handed to result(), in the grading's own thread
                job._error = exc
            finally:
                job.seconds = time.monotonic() - began
                job._done.set()

        threading.Thread(target=work, daemon=True, name=f"plan:{exercise.id}:{seed}").start()
        return job

    @classmethod
    def ready(cls, plan: GradePlan) -> "PlanJob":
        job = cls(plan.exercise, plan.seed, _plan=plan)
        job._done.set()
        return job

    def result(self) -> GradePlan:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._plan is not None
        return self._plan
