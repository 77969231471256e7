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
from typing import Sequence

from rich.console import Console
from rich.markup import escape

from grader.errors import SubmissionError, UsageError
from grader.exercise import Budgets, exercises_dir, load_exercise
from grader.grade import GradePlan, _one_line, build_service, cap_depth, replay_service, write_grading_report
from grader.report.model import Report
from grader.runtime import Runtime
from grader.transcript import Transcript
from harness.plan_cache import plan_cache_dir
from harness.planning import PlanJob, cached_plan, plan_for, plan_grading  # noqa: F401  (re-exported for callers)
from harness.runtime.select import choose_runtime
from harness.secret import derive_seed, load_secret, scrub_environment
from harness.submission import NOT_VERIFIED, Submission, redact, resolve_submission, submission_name

log = logging.getLogger(__name__)

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
              console: Console | None = None, plan: GradePlan | PlanJob | None = None, budgets: Budgets | None = None,
              runtime_obj: Runtime | None = None,
              plan_cache: dict[tuple[str, int], GradePlan] | None = None, plan_dir: Path | None = None,
              allow_local_git: bool = False, local_fallback: bool = False,
              candidate: str | None = None, name: str | None = None) -> tuple[Report, Path]:
    """Grade one submission and write its reports. Returns (Report, report folder).

    Without a `plan`, the plan is made (or read from `plan_dir`, default plan_cache_dir()) on a
    thread of its own while the submission builds. `plan`, `budgets` and `runtime_obj` let tests
    and benchmarks use small scenarios and budgets. `local_fallback` lets `auto` run the
    submission unsandboxed when no engine answers: only for code the grader trusts (`make demo`
    grades the project's own solutions). `candidate`: who the submission is, as the caller knows it
    (the queue: the invite's candidate, whose seed `plan` was made with); the upload's .exercise.json
    then identifies nothing, and its absence is no reason to report. `name`: how the report names the
    submission (the queue: the candidate and the uploaded file's name; default: from its path).
    """
    console = console or Console(stderr=True)
    _refuse_a_shipped_solution_without_data(submission)
    with resolve_submission(submission, allow_bad_token=allow_bad_token, allow_local_git=allow_local_git) as sub:
        ex_id = exercise or (sub.meta.exercise if sub.meta else None) or (plan.exercise.id if plan else None)
        if not ex_id:
            raise UsageError(f"{sub.name}: no exercise named: pass --exercise, or grade a bundle with .exercise.json")
        if plan is None:
            ex = load_exercise(ex_id)
            seed_ = pick_seed(ex.id, sub, seed)
            # a fresh random seed is never asked for again: only a candidate's or a chosen seed is kept
            repeats = seed is not None or bool(sub.verified and sub.meta is not None and sub.meta.candidate)
            cache_dir = (plan_dir or plan_cache_dir()) if repeats else None
            plan = PlanJob.start(ex, seed_, lambda: plan_for(ex, seed_, console, cache_dir=cache_dir, memo=plan_cache))
        ex = plan.exercise
        reasons = [f for f in sub.flags if candidate is None or not f.startswith(NOT_VERIFIED)]
        if sub.meta is not None and sub.meta.exercise != ex.id:
            reasons.append(f"graded as {ex.id} although .exercise.json names {sub.meta.exercise}")
        label = f"sw-{sub.name[:20]}-{uuid.uuid4().hex[:8]}"
        if runtime_obj is None:
            runtime_obj = choose_runtime(runtime, ex, console, label, fallback=local_fallback)
        console.print(f"grading [bold]{escape(sub.name)}[/] ({escape(ex.id)}, seed {plan.seed}, "
                      f"runtime {escape(runtime_obj.name)})", highlight=False)
        return grade_prepared(sub.folder, plan, runtime_obj, out or Path("reports") / sub.name, budgets=budgets,
                              console=console, name=name or sub.name,
                              candidate=candidate or (sub.meta.candidate if sub.meta else None), reasons=reasons)


def grade_prepared(folder: Path, plan: GradePlan | PlanJob, runtime: Runtime, out: Path, *,
                   budgets: Budgets | None = None, console: Console | None = None, name: str | None = None,
                   candidate: str | None = None, reasons: Sequence[str] = (), note_unisolated: bool = True,
                   transcript: Transcript | None = None) -> tuple[Report, Path]:
    """Run the service in `folder` on `runtime` against `plan`, then write the reports into `out`.

    Every grading ends here: `shiftwork grade` (grade_one), a cohort, the queue's workers, the
    self-check (on the public plan) and the benchmarks. A plan still being made (PlanJob) is
    waited for once the service has built. The runtime is torn down whatever happens.
    `note_unisolated`: say in the report when the runtime did not isolate the service (the
    self-check, on the candidate's own machine, does not). `transcript`: an empty one to fill
    (the caller reads it afterwards), else one is made from `name` and `candidate`. `reasons` (notes about
    the submission itself) come after what the run found: a build that failed says why first.
    """
    job = plan if isinstance(plan, PlanJob) else PlanJob.ready(plan)
    if transcript is None:
        transcript = Transcript(exercise=job.exercise.id, submission=name or folder.name, runtime=runtime.name,
                                seed=job.seed, candidate=candidate)
    if not runtime.isolates and note_unisolated:
        transcript.notes.extend(getattr(runtime, "notes", None)
                                or [f"graded with the {runtime.name} runtime: the submission was NOT isolated"])
    try:
        if not runtime.isolates:
            scrub_environment()  # the unsandboxed service could read it from our environment
        if build_service(runtime, folder, transcript):
            waited = time.monotonic()
            ready = job.result()
            transcript.timings_s["plan_wait"] = round(time.monotonic() - waited, 3)
            replay_service(runtime, ready, transcript, budgets or job.exercise.budgets)
    finally:
        runtime.teardown()
        transcript.reasons.extend(r for r in reasons if r not in transcript.reasons)
    ready = job.result()  # a submission that did not build still gets a report naming every check
    transcript.timings_s["plan"] = round(job.seconds, 3)
    cap_depth(transcript)
    return write_grading_report(ready, transcript, out, console or Console(stderr=True))


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
