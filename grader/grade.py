"""`shiftwork grade`: resolve, plan, run, replay, check, report — for one submission or a cohort.

Whatever the submission does (never builds, never starts, dies, hangs, answers garbage)
a report is written with a named status and the reasons; only a fault of the grader
itself (bad options, broken exercise files, no runtime) ends with a non-zero exit.
"""
from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.checks.base import Check, CheckContext, CheckResult, Scored, resolve
from grader.replay import Replayer, ReplayBudgets, ReplayStopped
from grader.submission import Submission, resolve_submission
from grader.transcript import Transcript
from harness.data.truth import ScenarioTraffic
from harness.errors import RuntimeUnavailable, SubmissionError, UsageError
from harness.exercise import DIMENSIONS, Budgets, Exercise, load_exercise
from harness.runtime.base import Runtime, RuntimeFailure
from harness.scenario import Scenario

log = logging.getLogger(__name__)

LOG_TAIL = 4000


@dataclass
class GradePlan:
    """Everything decided before any container starts: checks, traffic and its ground truth."""

    exercise: Exercise
    seed: int
    scenarios: list[Scenario]
    traffic: dict[str, ScenarioTraffic]
    scored: Scored
    classes: list[str]
    checks: list[Check]
    baseline_predictions: dict[str, dict[str, str]] = field(default_factory=dict)
    baseline_accuracy: dict[str, float] = field(default_factory=dict)


def plan_grading(exercise: Exercise, seed: int, console: Console | None = None) -> GradePlan:
    checks = resolve([c.id for c in exercise.checks])  # a typo fails here, before any container
    from grader.baseline import Baselines
    from harness.calibration import scored_phases
    from harness.data.engine import generate_scenario, load_recipe

    status = (console or Console(stderr=True)).status("generating held-back traffic and baselines…")
    with status:
        recipe = load_recipe(exercise.dataset)
        scenarios = exercise.held_back_scenarios()
        traffic = {s.name: generate_scenario(recipe, s, seed) for s in scenarios}
        scored = scored_phases(exercise)
        baselines = Baselines.for_exercise(exercise.dataset, exercise.label, seed)
        predictions = baselines.predictions(traffic)
    return GradePlan(exercise=exercise, seed=seed, scenarios=scenarios, traffic=traffic, scored=scored,
                     classes=list(recipe.classes), checks=checks, baseline_predictions=predictions)


def pick_seed(exercise_id: str, sub: Submission, seed: int | None) -> int:
    """The traffic seed. Only a verified token lets the candidate id choose it.

    An unverified submission (no .exercise.json, or a token that does not verify, graded
    with --allow-bad-token) gets the grader's --seed or a fresh random one, so nobody can
    pick the held-back traffic by writing a candidate id, nor replay a known default.
    """
    if sub.verified and sub.meta is not None and sub.meta.candidate:
        from harness.secret import derive_seed, load_secret

        return derive_seed(load_secret(), exercise_id, sub.meta.candidate)
    return secrets.randbits(32) if seed is None else seed


# Deeper than this, a value from the service is replaced before the transcript is kept:
# pydantic refuses to serialise past ~255 levels, and copying it can hit RecursionError.
MAX_VALUE_DEPTH = 32
TOO_DEEP = f"<nested deeper than {MAX_VALUE_DEPTH} levels: not kept>"


def _too_deep(value: Any, limit: int = MAX_VALUE_DEPTH) -> bool:
    """Depth test without recursion (the value may be nested thousands of levels)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def cap_depth(model: Any) -> None:
    """Replace over-deep values anywhere in a transcript's models (predictions, extra monitoring fields)."""
    stack = [model]
    while stack:
        obj = stack.pop()
        if isinstance(obj, list):
            stack.extend(obj)
            continue
        if not isinstance(obj, BaseModel):
            continue
        names = list(type(obj).model_fields) + list((obj.__pydantic_extra__ or {}).keys())
        for name in names:
            value = getattr(obj, name, None)
            if isinstance(value, BaseModel) or (isinstance(value, list) and value and isinstance(value[0], BaseModel)):
                stack.append(value)
            elif _too_deep(value):
                setattr(obj, name, TOO_DEEP)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


def run_service(runtime: Runtime, sub: Submission, plan: GradePlan, transcript: Transcript,
                budgets: Budgets) -> None:
    """Build, start and replay everything into `transcript`. Never raises for the candidate's faults."""
    t = transcript.timings_s
    began = time.monotonic()
    try:
        runtime.prepare(sub.folder)
    except RuntimeFailure as exc:
        _fail(transcript, runtime, exc)
        return
    except RuntimeUnavailable:
        raise  # the grader's machine, not the submission: a one-line error
    except Exception as exc:  # e.g. a Docker APIError or an unreadable Dockerfile: the submission's report says so
        log.debug("prepare() failed", exc_info=True)
        _fail(transcript, runtime, RuntimeFailure("build_failed", _one_line("the build could not run", exc)))
        return
    finally:
        t["build"] = round(time.monotonic() - began, 3)
    began = time.monotonic()
    rb = ReplayBudgets.from_budgets(budgets, started=began)  # the grading clock starts with the service
    try:
        info = runtime.start(budgets.startup_s)
    except RuntimeFailure as exc:
        t["startup"] = round(time.monotonic() - began, 3)
        _fail(transcript, runtime, exc)
        return
    except RuntimeUnavailable:
        raise
    except Exception as exc:  # e.g. docker APIError at container start (a bad USER, a missing CMD binary)
        log.debug("start() failed", exc_info=True)
        t["startup"] = round(time.monotonic() - began, 3)
        _fail(transcript, runtime, RuntimeFailure("start_failed", _one_line("the container could not start", exc)))
        return
    t["startup"] = round(time.monotonic() - began, 3)
    transcript.startup_s = round(info.ready_s, 3)
    transcript.notes.extend(n for n in info.notes if n not in transcript.notes)
    began = time.monotonic()
    rep: Replayer | None = None
    try:
        with _progress() as progress, Replayer(runtime, info.base_url, rb, progress) as rep:
            for k, scenario in enumerate(plan.scenarios):
                run = rep.run_scenario(plan.traffic[scenario.name], scenario, restart_first=k > 0,
                                       warm_next=len(plan.scenarios) - k - 1)
                _keep_run(transcript, run)
            transcript.probes = rep.probes(_sample_record(plan))
            transcript.accuracy_probe = rep.accuracy_probe(_probe_batches(plan))
    except ReplayStopped as stop:
        if stop.run is not None:
            _keep_run(transcript, stop.run)
        transcript.status = stop.status
        transcript.reasons.append(stop.reason + "; everything after that was not measured")
        transcript.oom_killed = transcript.oom_killed or stop.oom
        transcript.log_tail = runtime.logs(LOG_TAIL)
    except (RecursionError, ValueError, TypeError, OSError) as exc:
        # Answers the grader could not handle (e.g. absurdly nested JSON): the service's fault, reported.
        log.debug("replay failed", exc_info=True)
        transcript.status = "crashed"
        transcript.reasons.append(_one_line("replay stopped on an answer the grader could not process", exc)
                                  + "; everything after that was not measured")
        transcript.log_tail = runtime.logs(LOG_TAIL)
    finally:
        t["replay"] = round(time.monotonic() - began, 3)
        if rep is not None:
            t["replay_restart_wait"] = round(rep.restart_wait_s, 3)
        transcript.peak_memory_mb = runtime.peak_memory_mb()
        try:
            transcript.oom_killed = transcript.oom_killed or runtime.state().oom_killed
        except Exception:  # a state query must not lose the transcript
            log.debug("runtime.state() failed after replay", exc_info=True)


def _one_line(what: str, exc: BaseException) -> str:
    detail = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else "")


def _fail(transcript: Transcript, runtime: Runtime, exc: RuntimeFailure) -> None:
    transcript.status = exc.status
    transcript.reasons.append(exc.reason)
    transcript.log_tail = (exc.log_tail or runtime.logs(LOG_TAIL))[-LOG_TAIL:]


def _keep_run(transcript: Transcript, run: Any) -> None:
    transcript.runs.append(run)
    if run.load is not None:
        transcript.load = run.load
    if run.restart is not None:
        transcript.restart = run.restart


def _sample_record(plan: GradePlan) -> dict[str, Any] | None:
    for traffic in plan.traffic.values():
        for phase in traffic.phases:
            for rec, truth in zip(phase.records, phase.truths):
                if truth.kind == "clean":
                    return rec
    return None


PROBE_RECORDS = 1000


def _probe_batches(plan: GradePlan) -> list[list[dict[str, Any]]]:
    """Clean records of the scored stable phases (no shift), in clean-only batches."""
    silent = {k for k, v in plan.scored.drift.items() if v == "silent"}
    picked: list[dict[str, Any]] = []
    for scenario in plan.scenarios:
        for phase in plan.traffic[scenario.name].phases:
            if (scenario.name, phase.truth.name) not in silent or phase.truth.shifts or phase.truth.kind != "traffic":
                continue
            picked += [rec for rec, truth in zip(phase.records, phase.truths)
                       if truth.kind == "clean" and truth.duplicate_of is None and truth.label is not None]
    picked = picked[:PROBE_RECORDS]
    size = plan.scenarios[0].batch_size if plan.scenarios else 100
    return [picked[i:i + size] for i in range(0, len(picked), size)]


def _results(plan: GradePlan, ctx: CheckContext) -> list[CheckResult]:
    t = ctx.transcript
    if t.status in ("build_failed", "start_failed"):
        # Nothing could be measured: every check is 0 with the reason, without asking the checks.
        reason = f"the service {'never built' if t.status == 'build_failed' else 'never became ready'}: " \
                 f"{t.reasons[-1] if t.reasons else t.status}"
        out = []
        for spec, check in zip(plan.exercise.checks, plan.checks):
            res = check.not_measured(reason)
            res.weight, res.title = spec.weight, res.title or check.title
            out.append(res)
        return out
    from grader.scoring import run_checks

    return run_checks(ctx)


def grade_one(submission: str | Path, *, exercise: str | None = None, out: Path | None = None,
              runtime: str = "auto", seed: int | None = None, allow_bad_token: bool = False,
              console: Console | None = None, plan: GradePlan | None = None, budgets: Budgets | None = None,
              runtime_obj: Runtime | None = None,
              plan_cache: dict[tuple[str, int], GradePlan] | None = None,
              allow_local_git: bool = False, local_fallback: bool = False) -> tuple[Any, Path]:
    """Grade one submission and write its reports. Returns (Report, report folder).

    `plan`, `budgets` and `runtime_obj` let tests and benchmarks use small scenarios and budgets.
    `local_fallback` lets `auto` run the submission unsandboxed when no engine answers: only
    for code the grader trusts (`make demo` grades the project's own solutions).
    """
    console = console or Console(stderr=True)
    with resolve_submission(submission, allow_bad_token=allow_bad_token, allow_local_git=allow_local_git) as sub:
        ex_id = exercise or (sub.meta.exercise if sub.meta else None) or (plan.exercise.id if plan else None)
        if not ex_id:
            raise UsageError(f"{sub.name}: no exercise named: pass --exercise, or grade a bundle with .exercise.json")
        planned = time.monotonic()
        if plan is None:
            ex = load_exercise(ex_id)
            key = (ex.id, pick_seed(ex.id, sub, seed))
            plan = (plan_cache or {}).get(key) or plan_grading(ex, key[1], console)
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
            from harness.runtime.select import choose_runtime

            runtime_obj = choose_runtime(runtime, ex, console, label, fallback=local_fallback)
        transcript.runtime = runtime_obj.name
        if not runtime_obj.isolates:
            transcript.notes.extend(getattr(runtime_obj, "notes", None)
                                    or [f"graded with the {runtime_obj.name} runtime: the submission was NOT isolated"])
        console.print(f"grading [bold]{escape(sub.name)}[/] ({escape(ex.id)}, seed {plan.seed}, "
                      f"runtime {escape(runtime_obj.name)})", highlight=False)
        try:
            if not runtime_obj.isolates:
                from harness.secret import scrub_environment

                scrub_environment()  # the unsandboxed service could read it from our environment
            run_service(runtime_obj, sub, plan, transcript, budgets)
        finally:
            runtime_obj.teardown()
    cap_depth(transcript)
    return _report(plan, transcript, out, console)


def _report(plan: GradePlan, transcript: Transcript, out: Path, console: Console) -> tuple[Any, Path]:
    from grader.report import build_report, write_reports

    began = time.monotonic()
    ctx = CheckContext(exercise=plan.exercise, transcript=transcript, traffic=plan.traffic, scored=plan.scored,
                       classes=plan.classes, baseline_accuracy=plan.baseline_accuracy,
                       baseline_predictions=plan.baseline_predictions,
                       scenarios={s.name: s for s in plan.scenarios}, seed=plan.seed)
    results = _results(plan, ctx)
    transcript.timings_s["checks"] = round(time.monotonic() - began, 3)
    began = time.monotonic()
    report = build_report(ctx, results)
    extra = {"notes": transcript.notes, "service_log_tail": transcript.log_tail[-LOG_TAIL:]}
    report = report.model_copy(update={k: v for k, v in extra.items() if v})
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = write_reports(report, ctx, out)
        # The report's own timing includes rendering: patch it into report.json afterwards.
        report.timings_s["report"] = round(time.monotonic() - began, 3)
        (out / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
        # What replay observed, for re-scoring and debugging (ids and answers, never held-back records).
        (out / "transcript.json").write_text(transcript.model_dump_json())
    except OSError as exc:
        raise UsageError(f"cannot write the report to {out}: {exc.strerror or exc}") from exc
    _print_summary(console, report, paths, out)
    return report, out


def _print_summary(console: Console, report: Any, paths: Any, out: Path) -> None:
    dims = "  ".join(f"{d} {report.dimensions[d].score:.0f}" for d in DIMENSIONS if d in report.dimensions)
    colour = "green" if report.status == "graded" else "red"
    # Reasons quote the candidate's own strings (file names, Dockerfile words): never read them as markup.
    console.print(f"[bold]{escape(report.submission)}[/]: [{colour}]{escape(report.status)}[/] "
                  f"score [bold]{report.score:.1f}[/]/100  ({dims})", highlight=False)
    for reason in report.reasons:
        console.print(f"  - {escape(reason)}", highlight=False)
    files = list(paths.values()) if isinstance(paths, dict) else [out / "report.json"]
    console.print("  reports: " + escape(", ".join(str(p) for p in files)), highlight=False)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks tear down containers and processes."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def grade_command(*, submission: str | None, submissions: Path | None, exercise: str | None, out: Path | None,
                  runtime: str, seed: int | None, allow_bad_token: bool, console: Console,
                  allow_local_git: bool = False) -> int:
    """The CLI entry. Returns 0 whenever a report was written; raises ShiftworkError otherwise.

    Never runs a submission unsandboxed unless the grader named `--runtime local`: `auto`
    without a Docker engine is an error here (the check runs before anything is resolved).
    """
    exit_on_sigterm()
    if bool(submission) == bool(submissions):
        raise UsageError("give one SUBMISSION, or --submissions FOLDER (not both)")
    from harness.runtime.select import require_sandbox

    require_sandbox(runtime)
    if submission:
        try:
            grade_one(submission, exercise=exercise, out=out, runtime=runtime, seed=seed,
                      allow_bad_token=allow_bad_token, console=console, allow_local_git=allow_local_git)
        except SUBMISSION_FAULTS as exc:
            raise as_submission_error(submission, exc) from exc
        return 0
    assert submissions is not None
    from grader.cohort import grade_cohort

    return grade_cohort(submissions, exercise=exercise, out=out, runtime=runtime, seed=seed,
                        allow_bad_token=allow_bad_token, console=console, allow_local_git=allow_local_git)


# What reading a hostile submission can still raise past the resolvers: turned into one line, never a traceback.
SUBMISSION_FAULTS = (RecursionError, ValueError, UnicodeError, FileNotFoundError, IsADirectoryError,
                     NotADirectoryError, PermissionError)


def as_submission_error(spec: str | Path, exc: BaseException) -> SubmissionError:
    from grader.submission import redact, submission_name

    log.debug("submission %s", redact(str(spec)), exc_info=True)
    return SubmissionError(_one_line(f"{submission_name(str(spec))}: the submission cannot be graded", exc))
