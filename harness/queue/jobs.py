"""Creating and enqueueing jobs (called by the candidate upload, the rerun button and the API)."""
from __future__ import annotations

import functools
import logging
import os
from typing import Any

from kombu.exceptions import OperationalError
from sqlalchemy import update
from sqlalchemy.orm import Session

from harness.queue.celery_app import QUEUE, TASK_NAME, make_celery
from harness.queue.lease import sessions
from harness.store.db import transaction
from harness.store.models import Invite, Job, JobState, Upload, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import record

log = logging.getLogger(__name__)


def create_job(session: Session, invite: Invite, upload: Upload, *, rerun_of: Job | None = None) -> Job:
    """A queued job for `upload` (flushed, so it has an id); the caller commits, then calls enqueue()."""
    job = Job(invite_id=invite.id, upload_id=upload.id, state=JobState.queued, attempt=0,
              rerun_of=rerun_of.id if rerun_of is not None else None, created_at=utcnow())
    session.add(job)
    session.flush()
    record(session, invite, "queued", f"job {job.id}" + (f" (rerun of job {rerun_of.id})" if rerun_of else ""))
    return job


def enqueue(settings: WebSettings, job_id: int) -> bool:
    """Send job `job_id` to the broker (after its row is committed) and stamp Job.enqueued_at.

    A broker that does not answer is logged, not raised: the job stays queued with no (or
    an old) enqueued_at, and the reaper sends it again. Returns whether the message went out.
    """
    try:
        _app(settings, os.getpid()).send_task(
            TASK_NAME, args=[int(job_id)], queue=QUEUE, retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2})
    except (OperationalError, OSError) as exc:
        log.warning("job %s: the broker did not take it (%s); the reaper will send it again", job_id, exc)
        return False
    with transaction(sessions(settings)) as s:
        s.execute(update(Job).where(Job.id == job_id).values(enqueued_at=utcnow())
                  .execution_options(synchronize_session=False))
    return True


@functools.lru_cache(maxsize=8)
def _app(settings: WebSettings, pid: int) -> Any:
    """One Celery app (and its producer pool) per settings per process, for sending."""
    return make_celery(settings)
