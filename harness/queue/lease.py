"""Leases on jobs: claim, heartbeat, finish, requeue — each one guarded UPDATE in the database.

Every state change names the attempt it belongs to (WHERE attempt = n AND state =
'grading'), so a worker whose lease was taken over, or a reaper racing a late finish,
changes nothing: one attempt writes at most one result, and only while it holds the job.
The results table's unique (job_id, attempt) is the last guard.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import NotOurLease
from harness.store.db import make_engine, session_factory, transaction
from harness.notify import emit
from harness.store.models import Invite, Job, JobState, Result, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import record

log = logging.getLogger(__name__)

# Result.status values for attempts that wrote no report.json (report v1's own statuses are used otherwise):
NOT_GRADED = "not_graded"  # as in the cohort table: the submission could not be graded at all
TIMED_OUT = "timed_out"  # report v1's name, for a grading stopped by the worker's time limit


def deployment(settings: WebSettings) -> str:
    """A short name for the database the app and its workers share: job ids are only unique within one,
    and two deployments (or test sessions) on one Docker engine must never sweep each other's runs. The
    database's name (SQLite: its file), not its host: a worker on another machine reaches the same
    database by another address."""
    try:
        url = make_url(settings.database_url)
        backend = url.get_backend_name()
        name = f"{'postgresql' if backend.startswith('postgres') else backend}:{url.database or ''}"
    except ArgumentError:
        name = settings.database_url
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def run_label(job_id: int, attempt: int, settings: WebSettings) -> str:
    """What every container, network and image of one attempt is labelled with (shiftwork.run)."""
    return f"sw-{deployment(settings)}-job{job_id}-a{attempt}"


def sessions(settings: WebSettings) -> sessionmaker[Session]:
    """This process's session factory for the app database (a forked child makes its own engine)."""
    return _sessions(settings.database_url, os.getpid())


@functools.lru_cache(maxsize=8)
def _sessions(url: str, pid: int) -> sessionmaker[Session]:
    return session_factory(make_engine(url))


@dataclass(frozen=True)
class Claim:
    job_id: int
    attempt: int
    invite_id: int
    upload_id: int
    worker: str


def claim(factory: sessionmaker[Session], job_id: int, worker: str, lease_s: float,
          now: dt.datetime | None = None) -> Claim | None:
    """Take job `job_id` for a new attempt, or None: it is final, leased by a live worker, or out of attempts."""
    now = now or utcnow()
    stmt = (update(Job)
            .where(Job.id == job_id, Job.attempt < Job.max_attempts,
                   or_(Job.state == JobState.queued,
                       and_(Job.state == JobState.grading, Job.lease_until < now)))
            .values(state=JobState.grading, attempt=Job.attempt + 1, worker=worker,
                    lease_until=now + dt.timedelta(seconds=lease_s), heartbeat_at=now, started_at=now,
                    finished_at=None, note="")
            .returning(Job.attempt, Job.invite_id, Job.upload_id)
            .execution_options(synchronize_session=False))
    with transaction(factory) as s:
        row = s.execute(stmt).first()
        if row is None:
            return None
        got = Claim(job_id=job_id, attempt=row.attempt, invite_id=row.invite_id, upload_id=row.upload_id,
                    worker=worker)
        record(s, got.invite_id, "grading", f"job {job_id} attempt {got.attempt} on worker {worker}")
    return got


def renew(factory: sessionmaker[Session], c: Claim, lease_s: float) -> bool:
    """Extend the lease; False once the job is no longer this attempt's (requeued, taken over, final)."""
    now = utcnow()
    with transaction(factory) as s:
        done = s.execute(update(Job).where(*_ours(c))
                         .values(lease_until=now + dt.timedelta(seconds=lease_s), heartbeat_at=now)
                         .execution_options(synchronize_session=False))
        return done.rowcount == 1


def _ours(c: Claim) -> tuple[Any, ...]:
    return (Job.id == c.job_id, Job.attempt == c.attempt, Job.state == JobState.grading, Job.worker == c.worker)


@dataclass(frozen=True)
class Outcome:
    """What one attempt ends with: a report (state graded) or a named failure (state failed)."""

    state: JobState
    status: str
    reason: str = ""
    score: float | None = None
    dimensions: dict[str, float] | None = None
    report_dir: str | None = None


def finished(s: Session, settings: WebSettings | None, invite_id: int, job_id: int, status: str,
             score: float | None) -> None:
    """The grading.finished event (webhooks, the recruiter's notice, the Greenhouse callback), in the
    transaction that wrote the result. The recruiter's page is linked; the report itself needs a sign-in."""
    if settings is None:
        return
    invite = s.get(Invite, invite_id)
    if invite is not None:
        base = settings.public_url
        emit(s, settings, invite, "grading.finished",
             {"job_id": job_id, "status": status, "score": score,
              "invite_url": f"{base}/invites/{invite_id}" if base else f"/invites/{invite_id}"})


def finish(factory: sessionmaker[Session], c: Claim, outcome: Outcome, settings: WebSettings | None = None) -> bool:
    """Write the attempt's one result and the job's final state together; False if the job is no longer ours."""
    now = utcnow()
    try:
        with transaction(factory) as s:
            done = s.execute(update(Job).where(*_ours(c))
                             .values(state=outcome.state, finished_at=now, lease_until=None,
                                     note="" if outcome.state == JobState.graded else outcome.reason[:2000])
                             .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise NotOurLease()
            s.add(Result(job_id=c.job_id, attempt=c.attempt, status=outcome.status, score=outcome.score,
                         reason=outcome.reason[:4000], dimensions=outcome.dimensions or {},
                         report_dir=outcome.report_dir, created_at=now))
            kind = "graded" if outcome.state == JobState.graded else "failed"
            score = f", score {outcome.score:.1f}" if outcome.score is not None else ""
            record(s, c.invite_id, kind, f"job {c.job_id} attempt {c.attempt}: {outcome.status}{score}"
                   + (f": {outcome.reason}" if outcome.reason and kind == "failed" else ""))
            finished(s, settings, c.invite_id, c.job_id, outcome.status, outcome.score)
    except (NotOurLease, IntegrityError):
        log.warning("job %s attempt %s: no longer this worker's; its result is dropped", c.job_id, c.attempt)
        return False
    return True


def requeue(s: Session, job_id: int, attempt: int, why: str, *,
            expired_before: dt.datetime | None = None, settings: WebSettings | None = None) -> str | None:
    """Give up attempt `attempt` (the caller's transaction): 'queued' again, 'failed' when out of attempts.

    With expired_before, only if the lease ran out before then (the reaper); without, the
    attempt's own worker hands the job back. None when the attempt no longer holds the job.
    """
    now = utcnow()
    guard = [Job.id == job_id, Job.state == JobState.grading, Job.attempt == attempt]
    if expired_before is not None:
        guard.append(Job.lease_until < expired_before)
    reason = f"not graded: {attempt} attempts ended without a result; the last one: {why}"
    row = s.execute(update(Job).where(*guard, Job.attempt >= Job.max_attempts)
                    .values(state=JobState.failed, finished_at=now, lease_until=None, note=reason)
                    .returning(Job.invite_id).execution_options(synchronize_session=False)).first()
    if row is not None:
        s.add(Result(job_id=job_id, attempt=attempt, status=NOT_GRADED, score=None, reason=reason,
                     dimensions={}, report_dir=None, created_at=now))
        record(s, row.invite_id, "failed", f"job {job_id}: {reason}")
        finished(s, settings, row.invite_id, job_id, NOT_GRADED, None)
        return "failed"
    note = f"requeued after attempt {attempt}: {why}"
    row = s.execute(update(Job).where(*guard, Job.attempt < Job.max_attempts)
                    .values(state=JobState.queued, worker=None, lease_until=None, heartbeat_at=None, note=note)
                    .returning(Job.invite_id).execution_options(synchronize_session=False)).first()
    if row is None:
        return None
    record(s, row.invite_id, "queued", f"job {job_id} {note}")
    return "queued"
