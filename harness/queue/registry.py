"""Workers' rows in the database: who is alive, what engine it has, what it grades, why it refuses work.

The admin page reads these rows; the reaper uses them to tell a lost message (a job
waits while a worker sits idle) from a busy queue.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from harness.runtime.docker_engine import bounded, docker_client
from harness.runtime.images import base_image_for_build
from harness.store.db import transaction
from harness.store.models import Worker, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    version: str  # "docker 20.10.24", "" when none answers
    problem: str  # "" when it answers, else the one-line reason

    @property
    def ok(self) -> bool:
        return not self.problem


def engine_status(timeout_s: float = 8.0) -> Engine:
    """Can this process build and run submissions: does its Docker engine (DOCKER_HOST or the default
    socket) answer, and is a base image for builds there?"""
    client, version = None, ""
    try:
        client = bounded(docker_client, 5, timeout_s=timeout_s, what="connect")
        bounded(client.ping, timeout_s=timeout_s, what="ping")
        version = f"docker {bounded(client.version, timeout_s=timeout_s, what='version').get('Version', '?')}"
        if base_image_for_build(client=client) is None:  # every build would fail: take no work
            return Engine(version=version, problem="no base image for builds: run `make base-image` "
                                                   "(or `docker pull python:3.11-slim`)")
        return Engine(version=version, problem="")
    except Exception as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        return Engine(version=version, problem=f"no Docker engine: {text}" if not version
                      else f"the Docker engine fails: {text}")
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:
                log.debug("closing the docker client", exc_info=True)


def register(factory: sessionmaker[Session], name: str, engine: Engine, *, ready: bool, refusing: str = "") -> None:
    """A worker process starts under `name`: create or reset its row (it grades nothing yet)."""
    now = utcnow()
    values = dict(host=socket.gethostname(), pid=os.getpid(), engine=engine.version, ready=ready,
                  refusing=refusing[:2000], seen_at=now, started_at=now, busy_job=None)
    for _ in range(2):  # two processes registering one new name at once: the loser updates
        try:
            with transaction(factory) as s:
                row = s.scalars(select(Worker).where(Worker.name == name)).first()
                if row is None:
                    s.add(Worker(name=name, **values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            return
        except IntegrityError:
            continue


def seen(factory: sessionmaker[Session], name: str, **fields: object) -> None:
    """The worker's heartbeat (and any field that changed, e.g. busy_job, refusing)."""
    with transaction(factory) as s:
        s.execute(update(Worker).where(Worker.name == name).values(seen_at=utcnow(), **fields)
                  .execution_options(synchronize_session=False))


def idle_workers(factory: sessionmaker[Session], fresh_s: float) -> list[str]:
    """Ready workers that heartbeat within `fresh_s` and grade nothing."""
    import datetime as dt

    since = utcnow() - dt.timedelta(seconds=fresh_s)
    with factory() as s:
        return list(s.scalars(select(Worker.name).where(Worker.ready.is_(True), Worker.refusing == "",
                                                        Worker.busy_job.is_(None), Worker.seen_at >= since)))
