"""What the admin page says about grading: the workers' last words and the queue's depth."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harness.store.models import Job, JobState, Worker, utcnow
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)
NO_WORKER = "jobs stay queued: no grading worker with a Docker engine is running"


@dataclass(frozen=True)
class WorkerView:
    name: str
    host: str
    pid: int
    engine: str
    alive: bool
    busy_job: int | None
    refusing: str
    seen_at: dt.datetime
    started_at: dt.datetime

    @property
    def grades(self) -> bool:
        """Alive, with an engine, and not refusing work: this one takes jobs."""
        return self.alive and bool(self.engine) and not self.refusing


@dataclass(frozen=True)
class QueueStatus:
    workers: list[WorkerView]
    queued: int
    grading: int

    @property
    def can_grade(self) -> bool:
        return any(w.grades for w in self.workers)

    @property
    def banner(self) -> str | None:
        """Why jobs stay queued, in the words of the workers that are alive but refuse work (a missing
        base image, an engine that stopped answering), else that no worker is alive at all."""
        if self.can_grade:
            return None
        refusing = [w for w in self.workers if w.alive and w.refusing]
        if refusing:
            why = "; ".join(f"{w.name}: {w.refusing}" for w in refusing[:3])
            return f"jobs stay queued: every grading worker alive refuses work ({why})"
        if any(w.alive for w in self.workers):
            return "jobs stay queued: the grading workers alive have no Docker engine"
        return NO_WORKER


def queue_status(session: Session, settings: WebSettings, now: dt.datetime | None = None) -> QueueStatus:
    now = now or utcnow()
    # A worker heartbeats every heartbeat_s; three missed beats and it counts as gone.
    horizon = now - dt.timedelta(seconds=3 * settings.heartbeat_s)
    workers = [WorkerView(name=w.name, host=w.host, pid=w.pid, engine=w.engine, alive=w.seen_at >= horizon,
                          busy_job=w.busy_job, refusing=w.refusing, seen_at=w.seen_at, started_at=w.started_at)
               for w in session.scalars(select(Worker).order_by(Worker.seen_at.desc()))]
    counts = dict(session.execute(select(Job.state, func.count()).where(
        Job.state.in_([JobState.queued, JobState.grading])).group_by(Job.state)).all())
    return QueueStatus(workers=workers, queued=int(counts.get(JobState.queued, 0)),
                       grading=int(counts.get(JobState.grading, 0)))
