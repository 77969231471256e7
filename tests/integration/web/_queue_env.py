"""What the queue tests share: a data folder on SQLite or a fresh PostgreSQL database, rows made with
the models, and readers for jobs, results, events, workers and the embedded broker's folder."""
from __future__ import annotations

import datetime as dt
import socket
import hashlib
import os
import shutil
import signal
import subprocess
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select

EXERCISE = "support-triage"
SECRET = "queue-tests-grader-secret-9f3b2a-0123456789abcdef"
PG_ENV = "SHIFTWORK_TEST_POSTGRES_URL"


@dataclass
class QueueEnv:
    settings: Any

    @property
    def sessions(self) -> Any:
        from harness.queue.lease import sessions

        return sessions(self.settings)

    def job(self, archive: Path, *, candidate: str = "ada", max_attempts: int = 3) -> int:
        """An invite, an upload (a copy of `archive` under uploads/) and a queued job; committed, not sent."""
        from harness.queue.jobs import create_job
        from harness.store.db import transaction
        from harness.store.models import Invite, Upload, utcnow

        data = archive.read_bytes()
        stored = Path("uploads") / f"{uuid.uuid4().hex}{''.join(archive.suffixes)}"
        self.settings.folder("uploads")
        (self.settings.data_dir / stored).write_bytes(data)
        from harness.store.teams import default_team

        with transaction(self.sessions) as s:
            inv = Invite(token_hash=uuid.uuid4().hex + uuid.uuid4().hex, candidate_name="Ada", candidate_id=candidate,
                         exercise=EXERCISE, deadline=utcnow() + dt.timedelta(days=3), created_at=utcnow(),
                         team_id=default_team(s).id)
            s.add(inv)
            s.flush()
            up = Upload(invite_id=inv.id, filename=archive.name, stored_path=stored.as_posix(), size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), created_at=utcnow())
            s.add(up)
            s.flush()
            job = create_job(s, inv, up)
            job.max_attempts = max_attempts
            job_id = job.id
        return job_id

    def get(self, job_id: int) -> Any:
        from harness.store.models import Job

        with self.sessions() as s:
            job = s.get(Job, job_id)
            s.expunge(job)
            return job

    def results(self, job_id: int) -> list[Any]:
        from harness.store.models import Result

        with self.sessions() as s:
            return list(s.scalars(select(Result).where(Result.job_id == job_id).order_by(Result.attempt)))

    def events(self, job_id: int) -> list[tuple[str, str]]:
        from harness.store.models import Event, Job

        with self.sessions() as s:
            invite_id = s.get(Job, job_id).invite_id
            return [(e.kind, e.detail) for e in s.scalars(select(Event).where(Event.invite_id == invite_id)
                                                          .order_by(Event.id))]

    def workers(self) -> list[Any]:
        from harness.store.models import Worker

        with self.sessions() as s:
            return list(s.scalars(select(Worker).order_by(Worker.id)))

    def messages(self) -> list[Path]:
        """Message files waiting in the embedded broker's folder."""
        folder = self.settings.data_dir / "queue" / "messages"
        return sorted(folder.glob("*.msg")) if folder.is_dir() else []

    def wait(self, what: Callable[[], Any], timeout: float, why: str, every: float = 0.2) -> Any:
        return wait_for(what, timeout, why, self.worker_log, every)

    def worker_log(self) -> str:
        folder = self.settings.data_dir / "logs"
        logs = sorted(folder.glob("*.log")) if folder.is_dir() else []
        return "\n".join(p.read_text(errors="replace") for p in logs)


def make_env(data_dir: Path, database_url: str | None = None, **overrides: Any) -> QueueEnv:
    from harness.store.db import make_engine, migrate
    from harness.store.settings import build_settings

    settings = build_settings(data_dir, database_url=database_url, env={}, **overrides)
    engine = make_engine(settings.database_url)
    migrate(engine)
    if engine.dialect.name == "postgresql":  # one database per module: each test starts from empty tables
        from sqlalchemy import text

        from harness.store.models import Base

        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return QueueEnv(settings)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh database for this module on the server named by SHIFTWORK_TEST_POSTGRES_URL, dropped after."""
    base = os.environ.get(PG_ENV)
    required = os.environ.get("SHIFTWORK_REQUIRE_POSTGRES") == "1"
    if not base:
        if required:
            pytest.fail(f"SHIFTWORK_REQUIRE_POSTGRES=1 but {PG_ENV} is not set")
        pytest.skip(f"{PG_ENV} is not set")
    import psycopg

    admin = base.replace("postgresql+psycopg://", "postgresql://")
    name = f"shiftwork_queue_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if required:
            pytest.fail(f"SHIFTWORK_REQUIRE_POSTGRES=1 but the server does not answer: {exc}")
        pytest.skip(f"PostgreSQL does not answer: {exc}")
    head, _, _ = admin.rpartition("/")
    yield f"{head}/{name}"
    from harness.queue.lease import _sessions

    _sessions.cache_clear()  # let go of pooled connections before the database is dropped
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(folder).as_posix())
    return archive


def traversal_zip(archive: Path) -> Path:
    """A hostile upload: a member that climbs out of the extraction folder."""
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Dockerfile", 'CMD ["python", "serve.py"]\n')
        zf.writestr("../../evil.py", "print('escaped')\n")
    return archive


def run_labelled(label: str) -> list[str]:
    """Container ids labelled shiftwork.run=<label>, running or not."""
    out = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label=shiftwork.run={label}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return out.split()


def networks_labelled(label: str) -> list[str]:
    out = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"label=shiftwork.run={label}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return out.split()


def copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def wait_for(what: Callable[[], Any], timeout: float, why: str, log_tail: Callable[[], str],
             every: float = 1.0) -> Any:
    """Poll `what` until it is truthy; on timeout fail with the worker's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {why}; worker log tail:\n{log_tail()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 40 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy bytes from src to dst until either side closes, then shut both (a test proxy's one direction)."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def running_worker(settings: Any, db_url: str, app: Any, *, name: str, scenarios: str) -> Iterator[Path]:
    """A real `shiftwork worker` process on the app's data folder and database (embedded broker), grading
    `scenarios` only; yields its log file once it registered ready, stops it after. For a fixture:
    `yield from running_worker(...)`."""
    import sys

    from harness.store.models import Worker

    env = {k: v for k, v in os.environ.items() if k != "SHIFTWORK_BROKER_URL"}
    env.update(SHIFTWORK_DATABASE_URL=db_url, SHIFTWORK_GRADE_SCENARIOS=scenarios,
               SHIFTWORK_HEARTBEAT_S=str(settings.heartbeat_s), SHIFTWORK_LEASE_S=str(settings.lease_s))
    log = settings.folder("logs") / f"{name}-worker.log"

    def tail() -> str:
        return log.read_text(errors="replace")[-3000:] if log.is_file() else "(no worker log)"

    with log.open("ab") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "shiftwork"), "worker", "--data",
                                 str(settings.data_dir), "--name", name],
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            assert proc.poll() is None, f"the worker exited {proc.returncode}: {tail()}"
            with app.state.sessions() as s:
                return any(w.ready for w in s.query(Worker).all())

        wait_for(ready, 120, "the worker to register ready", tail, every=0.5)
        yield log
    finally:
        stop(proc)
    assert proc.returncode == 0, tail()
