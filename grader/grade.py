"""Grade one prepared submission: run it, replay the plan's traffic, check, write the reports.

The library half of `shiftwork grade` (the application half — resolving submissions,
planning from the data engine, choosing a runtime, cohorts — is harness.grading).
Whatever the submission does (never builds, never starts, dies, hangs, answers garbage)
the transcript says why and a report is written with a named status.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.checks.base import Check, CheckContext, CheckResult, Scored
from grader.errors import RuntimeUnavailable, UsageError
from grader.exercise import DIMENSIONS, Budgets, Exercise
from grader.replay import WARM_AHEAD, ReplayBudgets, Replayer, ReplayStopped
from grader.report import build_report, write_reports
from grader.runtime import Runtime, RuntimeFailure
from grader.scenario import Scenario
from grader.scoring import run_checks
from grader.transcript import Transcript
from grader.truth import ScenarioTraffic

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
    baseline_predictions: dict[str, dict[str, str | float]] = field(default_factory=dict)
    baseline_accuracy: dict[str, float] = field(default_factory=dict)
    baseline_name: str = "a plain model"  # what the plain baseline is, in words (from the data kind)
    fields: list[str] = field(default_factory=list)  # the documented raw input fields (the data dictionary's)


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


def run_service(runtime: Runtime, folder: Path, plan: GradePlan, transcript: Transcript,
                budgets: Budgets) -> None:
    """Build, start and replay everything into `transcript`. Never raises for the candidate's faults."""
    if build_service(runtime, folder, transcript):
        replay_service(runtime, plan, transcript, budgets)


def build_service(runtime: Runtime, folder: Path, transcript: Transcript) -> bool:
    """Build (prepare) the service; False, with the transcript saying why, when it did not build.

    It needs no plan: the application plans meanwhile (harness.planning.PlanJob).
    """
    began = time.monotonic()
    try:
        runtime.prepare(folder)
        return True
    except RuntimeFailure as exc:
        _fail(transcript, runtime, exc)
    except RuntimeUnavailable:
        raise  # the grader's machine, not the submission: a one-line error
    except Exception as exc:  # e.g. a Docker APIError or an unreadable Dockerfile: the submission's report says so
        log.debug("prepare() failed", exc_info=True)
        _fail(transcript, runtime, RuntimeFailure("build_failed", _one_line("the build could not run", exc)))
    finally:
        transcript.timings_s["build"] = round(time.monotonic() - began, 3)
    return False


def replay_service(runtime: Runtime, plan: GradePlan, transcript: Transcript, budgets: Budgets) -> None:
    """Start the built service and replay the plan into `transcript`. Never raises for the candidate's faults."""
    t = transcript.timings_s
    began = time.monotonic()
    rb = ReplayBudgets.from_budgets(budgets, started=began)  # the grading clock starts with the service
    # The fresh copies the next scenarios need start alongside the first one: with a weight far
    # below the measured copy's, they use what its single-threaded start leaves of the machine.
    runtime.warm(budgets.startup_s, copies=max(0, min(WARM_AHEAD, len(plan.scenarios) - 1)))
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
            t["replay_settle_wait"] = round(rep.settle_wait_s, 3)
        try:
            transcript.oom_killed = transcript.oom_killed or runtime.state().oom_killed
        except Exception:  # a state query must not lose the transcript
            log.debug("runtime.state() failed after replay", exc_info=True)
        transcript.peak_memory_mb = runtime.peak_memory_mb()  # after state(): it may reuse that query's sample


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
    return run_checks(ctx)


def write_grading_report(plan: GradePlan, transcript: Transcript, out: Path,
                         console: Console) -> tuple[Any, Path]:
    """Run the checks on what replay recorded and write report.json/.md/.html and transcript.json."""
    began = time.monotonic()
    ctx = CheckContext(exercise=plan.exercise, transcript=transcript, traffic=plan.traffic, scored=plan.scored,
                       classes=plan.classes, baseline_accuracy=plan.baseline_accuracy,
                       baseline_predictions=plan.baseline_predictions, baseline_name=plan.baseline_name,
                       fields=list(plan.fields), scenarios={s.name: s for s in plan.scenarios}, seed=plan.seed)
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


