"""`shiftwork grade`: resolve, plan, run, replay, check, report — for one submission or a cohort.

Whatever the submission does (never builds, never starts, dies, hangs, answers garbage)
a report is written with a named status and the reasons; only a fault of the grader
itself (bad options, broken exercise files, no runtime) ends with a non-zero exit. The
grading itself (replay, checks, reports) is the grader library's: grader.grade.
"""
from __future__ import annotations

import logging
import secrets
import time
import uuid
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.markup import escape

from grader.checks import provided, resolve, unmet
from grader.errors import ConfigError, SubmissionError, UsageError
from grader.exercise import Budgets, Exercise, exercises_dir, load_exercise
from grader.grade import GradePlan, _one_line, cap_depth, run_service, write_grading_report
from grader.runtime import Runtime
from grader.transcript import Transcript
from harness.baseline import Baselines
from harness.calibration_store import scored_phases
from harness.data.engine import load_recipe, scenario_with_frames
from harness.draw import mark_drawn_moves
from harness.plan_cache import load_plan, plan_cache_dir, plan_key, store_plan
from harness.runtime.select import choose_runtime
from harness.secret import derive_seed, load_secret, scrub_environment
from harness.submission import Submission, redact, resolve_submission, submission_name

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


def cached_plan(exercise: Exercise, seed: int, console: Console | None = None, *, cache_dir: Path | None,
                only: Iterable[str] | None = None) -> GradePlan:
    """plan_grading, read from / written to the plan cache in `cache_dir` (None: always plan afresh)."""
    if cache_dir is None:
        return plan_grading(exercise, seed, console, only=only)
    only = None if only is None else sorted(set(only))
    key = plan_key(exercise, seed, only)
    plan = load_plan(cache_dir, exercise, seed, only, key=key)
    if plan is None:
        plan = plan_grading(exercise, seed, console, only=only)
        store_plan(cache_dir, plan, only, key=key)
    return plan


def pick_seed(exercise_id: str, sub: Submission, seed: int | None) -> int:
    """The traffic seed. Only a verified token lets the candidate id choose it.

    An unverified submission (no .exercise.json, or a token that does not verify, graded
    with --allow-bad-token) gets the grader's --seed or a fresh random one, so nobody can
    pick the held-back traffic by writing a candidate id, nor replay a known default.
    """
    if sub.verified and sub.meta is not None and sub.meta.candidate:
        return derive_seed(load_secret(), exercise_id, sub.meta.candidate)
    return secrets.randbits(32) if seed is None else seed


def grade_one(submission: str | Path, *, exercise: str | None = None, out: Path | None = None,
              runtime: str = "auto", seed: int | None = None, allow_bad_token: bool = False,
              console: Console | None = None, plan: GradePlan | None = None, budgets: Budgets | None = None,
              runtime_obj: Runtime | None = None,
              plan_cache: dict[tuple[str, int], GradePlan] | None = None, plan_dir: Path | None = None,
              allow_local_git: bool = False, local_fallback: bool = False) -> tuple[Any, Path]:
    """Grade one submission and write its reports. Returns (Report, report folder).

    `plan`, `budgets` and `runtime_obj` let tests and benchmarks use small scenarios and budgets.
    Plans are read from and kept in `plan_dir` (default: plan_cache_dir(), resolved per call).
    `local_fallback` lets `auto` run the submission unsandboxed when no engine answers: only
    for code the grader trusts (`make demo` grades the project's own solutions).
    """
    console = console or Console(stderr=True)
    _refuse_a_shipped_solution_without_data(submission)
    with resolve_submission(submission, allow_bad_token=allow_bad_token, allow_local_git=allow_local_git) as sub:
        ex_id = exercise or (sub.meta.exercise if sub.meta else None) or (plan.exercise.id if plan else None)
        if not ex_id:
            raise UsageError(f"{sub.name}: no exercise named: pass --exercise, or grade a bundle with .exercise.json")
        planned = time.monotonic()
        if plan is None:
            ex = load_exercise(ex_id)
            key = (ex.id, pick_seed(ex.id, sub, seed))
            # a fresh random seed is never asked for again: only a candidate's or a chosen seed is kept
            repeats = seed is not None or bool(sub.verified and sub.meta is not None and sub.meta.candidate)
            plans_at = plan_dir or plan_cache_dir()
            pkey = plan_key(ex, key[1]) if repeats and key not in (plan_cache or {}) else None
            plan = (plan_cache or {}).get(key) or (load_plan(plans_at, ex, key[1], key=pkey) if pkey else None)
            if plan is None:
                plan = plan_grading(ex, key[1], console)
                if pkey:
                    store_plan(plans_at, plan, key=pkey)
            if plan_cache is not None:
                plan_cache[key] = plan
        ex = plan.exercise
        budgets = budgets or ex.budgets
        out = out or Path("reports") / sub.name
        transcript = Transcript(exercise=ex.id, submission=sub.name, runtime=runtime, seed=plan.seed,
                                candidate=sub.meta.candidate if sub.meta else None, reasons=list(sub.flags))
        transcript.timings_s["plan"] = round(time.monotonic() - planned, 3)
        if sub.meta is not None and sub.meta.exercise != ex.id:
            transcript.reasons.append(f"graded as {ex.id} although .exercise.json names {sub.meta.exercise}")
        label = f"sw-{sub.name[:20]}-{uuid.uuid4().hex[:8]}"
        if runtime_obj is None:
            runtime_obj = choose_runtime(runtime, ex, console, label, fallback=local_fallback)
        transcript.runtime = runtime_obj.name
        if not runtime_obj.isolates:
            transcript.notes.extend(getattr(runtime_obj, "notes", None)
                                    or [f"graded with the {runtime_obj.name} runtime: the submission was NOT isolated"])
        console.print(f"grading [bold]{escape(sub.name)}[/] ({escape(ex.id)}, seed {plan.seed}, "
                      f"runtime {escape(runtime_obj.name)})", highlight=False)
        try:
            if not runtime_obj.isolates:
                scrub_environment()  # the unsandboxed service could read it from our environment
            run_service(runtime_obj, sub.folder, plan, transcript, budgets)
        finally:
            runtime_obj.teardown()
    cap_depth(transcript)
    return write_grading_report(plan, transcript, out, console)


def _refuse_a_shipped_solution_without_data(submission: str | Path) -> None:
    """A folder of this checkout's exercises carries no training data: say how to get a gradable copy."""
    try:
        folder = Path(submission).resolve()
    except (OSError, RuntimeError, ValueError):
        return
    root = exercises_dir().resolve()
    if root not in folder.parents or not folder.is_dir() or (folder / "data" / "train.csv").is_file():
        return
    parts = folder.relative_to(root).parts
    exercise = parts[0]
    name = parts[2] if len(parts) >= 3 and parts[1] == "solutions" else parts[1] if len(parts) >= 2 else "reference"
    raise UsageError(f"{folder} is a shipped solution without its training data (data/train.csv is generated, never "
                     f"stored): run `shiftwork solution {exercise} {name} --out DIR`, then grade DIR")


# What reading a hostile submission can still raise past the resolvers: turned into one line, never a traceback.
SUBMISSION_FAULTS = (RecursionError, ValueError, UnicodeError, FileNotFoundError, IsADirectoryError,
                     NotADirectoryError, PermissionError)


def as_submission_error(spec: str | Path, exc: BaseException) -> SubmissionError:
    log.debug("submission %s", redact(str(spec)), exc_info=True)
    return SubmissionError(_one_line(f"{submission_name(str(spec))}: the submission cannot be graded", exc))
