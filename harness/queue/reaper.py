"""The reaper: no job stays "grading" after its worker died, and none waits for a message that was lost.

Run by `serve` every reaper_every_s and by each worker when it starts. A job whose lease
ran out has its attempt's containers, networks and images removed (by run label, on this
machine's engine), then goes back to the queue — or, after max_attempts, ends failed with
the reason. A queued job whose message was lost (never sent, or waiting while a worker
sits idle) is sent again; a repeated message is harmless, the claim grades once.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select

from harness.queue.celery_app import QUEUE
from harness.queue.jobs import _app, enqueue
from harness.queue.lease import requeue, run_label, sessions
from harness.queue.registry import idle_workers
from harness.runtime.docker_engine import bounded, docker_client, sweep
from harness.store.db import transaction
from harness.store.models import Job, JobState, utcnow
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)

NEVER_SENT_AFTER_S = 30.0  # a job committed this long ago with no message: its enqueue failed or never ran
LOST_AFTER_S = 60.0  # queued this long while a worker is idle: the worker would have taken it by now


@dataclass
class Reaped:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)
    swept: int = 0


def reap(settings: WebSettings, now: dt.datetime | None = None, client: Any = None) -> Reaped:
    """One pass. `client` is a docker client for the sweep (default: this machine's engine, if it answers)."""
    now = now or utcnow()
    factory = sessions(settings)
    out = Reaped()
    with factory() as s:
        expired = s.execute(select(Job.id, Job.attempt, Job.worker, Job.heartbeat_at)
                            .where(Job.state == JobState.grading, Job.lease_until < now)).all()
    if expired:
        own_client = client is None
        client = client if client is not None else _docker()
        try:
            for job_id, attempt, worker, beat in expired:
                if client is not None:
                    # before the requeue: nothing of the dead attempt may still run beside the next one
                    out.swept += _sweep(client, run_label(job_id, attempt, settings))
                last = f"at {beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "never"
                why = f"worker {worker or '?'} stopped heartbeating (last {last})"
                with transaction(factory) as s:
                    state = requeue(s, job_id, attempt, why, expired_before=now, settings=settings)
                if state == "queued":
                    out.requeued.append(job_id)
                    enqueue(settings, job_id)
                elif state == "failed":
                    out.failed.append(job_id)
                if state:
                    log.warning("job %s attempt %s: %s: %s", job_id, attempt, why, state)
        finally:
            if own_client and client is not None:
                client.close()
    out.resent = _resend_lost(settings, now)
    return out


def _resend_lost(settings: WebSettings, now: dt.datetime) -> list[int]:
    factory = sessions(settings)
    never = and_(Job.enqueued_at.is_(None), Job.created_at < now - dt.timedelta(seconds=NEVER_SENT_AFTER_S))
    waiting = Job.enqueued_at < now - dt.timedelta(seconds=LOST_AFTER_S)
    # A busy queue is not a lost message: wait only counts while some worker could have taken it and the
    # broker holds nothing more to give (a worker between two jobs looks idle; with every worker reaping,
    # re-sending then would add a copy of every waiting job to a long queue each minute).
    idle = idle_workers(factory, fresh_s=3 * settings.heartbeat_s)
    cond = or_(never, waiting) if idle and broker_depth(settings) == 0 else never
    with factory() as s:
        ids = list(s.scalars(select(Job.id).where(Job.state == JobState.queued, cond).order_by(Job.id)))
    sent = [job_id for job_id in ids if enqueue(settings, job_id)]
    if sent:
        log.warning("re-sent jobs %s: queued with no message taken (idle workers: %s)", sent, ", ".join(idle) or "-")
    return sent


def broker_depth(settings: WebSettings) -> int | None:
    """Messages waiting in the grading queue on the broker; None when it does not answer."""
    try:
        with _app(settings, os.getpid()).connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            return int(conn.default_channel.queue_declare(queue=QUEUE, durable=True, auto_delete=False).message_count)
    except Exception as exc:
        log.debug("queue depth: %s", exc)
        return None


def _docker() -> Any:
    try:
        client = bounded(docker_client, 5, timeout_s=8, what="connect")
        bounded(client.ping, timeout_s=8, what="ping")
        return client
    except Exception as exc:  # the dead attempt ran on another machine's engine, or none here
        log.info("reaper: no local Docker engine to sweep (%s)", exc)
        return None


def _sweep(client: Any, label: str) -> int:
    n = sweep(client, run_label=label)
    if n:
        log.warning("removed %s containers/networks/images of %s", n, label)
    return n


class ReaperThread(threading.Thread):
    """`serve`'s reaper: a pass every reaper_every_s until stopped. A failing pass is logged and retried."""

    def __init__(self, settings: WebSettings) -> None:
        super().__init__(name="shiftwork-reaper", daemon=True)
        self.settings = settings
        self.halt = threading.Event()
        self.passes = 0

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                reap(self.settings)
            except Exception as exc:
                log.warning("reaper pass failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
            self.passes += 1
            self.halt.wait(self.settings.reaper_every_s)

    def stop(self) -> None:
        self.halt.set()
        if self.is_alive():
            self.join(timeout=30)
