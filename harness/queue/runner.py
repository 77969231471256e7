"""One delivery of "grade job N": claim, heartbeat, grade in Docker, write the attempt's result.

Runs in the worker's pool child. A delivery that finds the job final or leased by a live
worker does nothing, so a repeated message grades once. The sandbox is always the docker
runtime: a worker never grades with the local one; a worker whose engine stopped
answering gives the job back and stops consuming (its restart waits for the engine).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from rich.console import Console

from grader.errors import ConfigError, RuntimeUnavailable, SubmissionError, UsageError
from grader.exercise import load_exercise
from harness.grading import SUBMISSION_FAULTS, PlanJob, as_submission_error, cached_plan, grade_one
from harness.plan_cache import plan_cache_dir
from harness.queue.celery_app import time_limits
from harness.queue.jobs import enqueue
from harness.queue.lease import (
    NOT_GRADED,
    TIMED_OUT,
    Claim,
    Outcome,
    claim,
    finish,
    renew,
    requeue,
    run_label,
    sessions,
)
from harness.queue.registry import engine_status, seen
from harness.runtime.docker import DockerRuntime
from harness.runtime.docker_engine import docker_client, sweep
from harness.secret import derive_seed, load_secret
from harness.store.db import transaction
from harness.store.models import Invite, JobState, Upload
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)

# Tests and benchmarks only: grade on these held-back scenarios (comma-separated) instead of all of them.
SCENARIOS_ENV = "SHIFTWORK_GRADE_SCENARIOS"


class Heartbeat(threading.Thread):
    """Extends the lease every heartbeat_s until stopped, or until the job is no longer this attempt's."""

    def __init__(self, settings: WebSettings, c: Claim) -> None:
        super().__init__(name=f"heartbeat-job{c.job_id}", daemon=True)
        self.settings, self.claim = settings, c
        self.halt = threading.Event()
        self.lost = False

    def run(self) -> None:
        factory = sessions(self.settings)
        while not self.halt.wait(self.settings.heartbeat_s):
            try:
                if not renew(factory, self.claim, self.settings.lease_s):
                    self.lost = True
                    log.warning("job %s attempt %s was taken from this worker; heartbeat stops",
                                self.claim.job_id, self.claim.attempt)
                    return
                seen(factory, self.claim.worker)
            except Exception as exc:  # the database away for a moment: try again next beat
                log.warning("heartbeat of job %s: %s", self.claim.job_id, exc)

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=30)


def run_job(settings: WebSettings, worker: str, job_id: int, *, main_pid: int = 0) -> str:
    """Handle one delivery; returns what happened (for logs and tests)."""
    factory = sessions(settings)
    engine = engine_status()
    if not engine.ok:  # the job is untouched: give the message back and stop taking more
        seen(factory, worker, ready=False, refusing=engine.problem)
        enqueue(settings, job_id)
        _stop_consuming(main_pid)
        return "refused"
    c = claim(factory, job_id, worker, settings.lease_s)
    if c is None:
        log.info("job %s: final, leased by a live worker, or out of attempts: nothing to do", job_id)
        return "skipped"
    log.info("job %s: attempt %s claimed by %s", job_id, c.attempt, worker)
    seen(factory, worker, busy_job=job_id)
    beat = Heartbeat(settings, c)
    beat.start()
    try:
        _sweep_earlier_attempts(c, settings)
        try:
            outcome = grade_attempt(settings, c)
        except RuntimeUnavailable as exc:
            with transaction(factory) as s:
                state = requeue(s, c.job_id, c.attempt, f"worker {worker} cannot grade: {_line(exc)}", settings=settings)
            if state == "queued":
                enqueue(settings, job_id)
            _stop_consuming(main_pid)
            return "released"
        written = finish(factory, c, outcome, settings)
        log.info("job %s attempt %s: %s%s", job_id, c.attempt, outcome.status, "" if written else " (dropped)")
        return outcome.status if written else "dropped"
    finally:
        beat.stop()
        try:
            seen(factory, worker, busy_job=None)
        except Exception as exc:
            log.warning("worker row: %s", exc)


def grade_attempt(settings: WebSettings, c: Claim) -> Outcome:
    """Grade the upload in Docker; whatever the submission does, an Outcome (never an exception) —
    except RuntimeUnavailable: then this worker cannot grade at all and the job goes back."""
    factory = sessions(settings)
    with factory() as s:
        invite, upload = s.get(Invite, c.invite_id), s.get(Upload, c.upload_id)
        if invite is None or upload is None:
            return Outcome(JobState.failed, NOT_GRADED, "the invite or the upload of this job was deleted")
        exercise, candidate, candidate_name = invite.exercise, invite.candidate_id, invite.candidate_name
        stored, filename = upload.stored_path, upload.filename
    root = settings.storage_root.resolve()  # shared with the app: uploads in, reports out
    path = (root / stored).resolve()
    if root not in path.parents or not path.is_file():
        return Outcome(JobState.failed, NOT_GRADED,
                       f"the uploaded file of {filename!r} is missing from the storage folder {root}")
    out = settings.stored("reports") / f"job-{c.job_id}" / f"attempt-{c.attempt}"
    try:
        report, folder = _grade(path, exercise, candidate, out, run_label(c.job_id, c.attempt, settings),
                                plan_dir=settings.data_dir / "plans", name=f"{candidate_name} · {filename}")
    except RuntimeUnavailable:
        raise
    except SoftTimeLimitExceeded:
        return Outcome(JobState.failed, TIMED_OUT,
                       f"the grading did not finish within the worker's time limit of {time_limits()[0]:.0f} s")
    except (SubmissionError, UsageError) as exc:
        return Outcome(JobState.failed, NOT_GRADED, _line(exc))
    except SUBMISSION_FAULTS as exc:
        return Outcome(JobState.failed, NOT_GRADED, _line(as_submission_error(filename, exc)))
    except ConfigError as exc:
        return Outcome(JobState.failed, NOT_GRADED, f"grader configuration error: {_line(exc)}")
    except Exception as exc:  # a fault of ours: the job says so in one line, the log has the traceback
        log.exception("job %s attempt %s", c.job_id, c.attempt)
        return Outcome(JobState.failed, NOT_GRADED, f"grader error: {type(exc).__name__}: {_line(exc)}")
    return Outcome(JobState.graded, report.status, reason="; ".join(report.reasons)[:4000], score=report.score,
                   dimensions={k: v.score for k, v in report.dimensions.items()},
                   report_dir=folder.resolve().relative_to(root).as_posix())


def _grade(path: Path, exercise_id: str, candidate: str, out: Path, label: str, *,
           plan_dir: Path, name: str) -> tuple[Any, Path]:
    console = Console(file=sys.stderr, force_terminal=False, width=120)
    ex = load_exercise(exercise_id)
    # The invite is who the candidate is: its seed picks the held-back traffic, whatever the upload claims.
    seed = derive_seed(load_secret(), ex.id, candidate)
    only = [n.strip() for n in os.environ.get(SCENARIOS_ENV, "").split(",") if n.strip()] or None
    # a regrading of the candidate (a retry, a second upload) reads the plan: planning is deterministic.
    # It runs while the upload builds: an upload that does not build waits only for what is left of it.
    plan = PlanJob.start(ex, seed, lambda: cached_plan(ex, seed, console, only=only,
                                                       cache_dir=plan_cache_dir(plan_dir)))
    runtime = DockerRuntime(ex, console, label)
    return grade_one(path, exercise=ex.id, out=out, runtime="docker", plan=plan, runtime_obj=runtime,
                     console=console, candidate=candidate, name=name)


def _sweep_earlier_attempts(c: Claim, settings: WebSettings) -> None:
    """A job taken over from a dead worker: remove what its attempts left on this engine."""
    if c.attempt <= 1:
        return

    try:
        client = docker_client()
    except Exception as exc:
        log.debug("sweep: %s", exc)
        return
    try:
        for n in range(1, c.attempt):
            sweep(client, run_label=run_label(c.job_id, n, settings))
    finally:
        client.close()


def _stop_consuming(main_pid: int) -> None:
    """Warm shutdown of the worker process: it takes no more messages; its restart waits for an engine."""
    if main_pid and main_pid != os.getpid():
        try:
            os.kill(main_pid, signal.SIGTERM)
        except OSError as exc:
            log.warning("cannot stop the worker process %s: %s", main_pid, exc)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:2000] or type(exc).__name__
