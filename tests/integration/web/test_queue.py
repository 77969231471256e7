"""The grading queue with real worker processes: graded once in Docker, killed mid-grading, hostile uploads,
a worker with no engine. The database is SQLite in tmp_path; the broker is the embedded folder.

The leases are short here (8 s, heartbeat 2 s) so a killed worker's job comes back quickly.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from _queue_env import (
    SECRET,
    QueueEnv,
    make_env,
    networks_labelled,
    pipe,
    run_labelled,
    stop,
    traversal_zip,
    zip_folder,
)

LEASE = dict(lease_s=8.0, heartbeat_s=2.0, reaper_every_s=1.0)
GRADED_WITHIN_S = 600.0  # two shared cores: a full grading can take minutes while other suites run
SHIFTWORK = Path(sys.executable).parent / "shiftwork"


@pytest.fixture(scope="module")
def secret() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:  # worker processes inherit it: no ~/.config secret file
        mp.setenv("SHIFTWORK_SECRET", SECRET)
        mp.delenv("SHIFTWORK_GRADE_SCENARIOS", raising=False)
        yield


@pytest.fixture(scope="module")
def reference_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.solutions import materialize_solution

    root = tmp_path_factory.mktemp("reference")
    folder = materialize_solution("support-triage", "reference", root / "reference", seed=7)
    return zip_folder(folder, root / "reference.zip")


def start_cli_worker(env: QueueEnv, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
    """`shiftwork worker --data DIR --name NAME` in the background, its output in the data dir's logs/."""
    s = env.settings
    child_env = dict(os.environ, SHIFTWORK_LEASE_S=str(s.lease_s), SHIFTWORK_HEARTBEAT_S=str(s.heartbeat_s),
                     **extra_env)
    out = (s.folder("logs") / f"{name}.log").open("ab")
    try:
        return subprocess.Popen([str(SHIFTWORK), "worker", "--data", str(s.data_dir), "--name", name],
                                env=child_env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def children(pid: int) -> list[int]:
    try:
        return [int(c) for t in Path(f"/proc/{pid}/task").iterdir()
                for c in (t / "children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def assert_nothing_left(*labels: str) -> None:
    for label in labels:
        assert run_labelled(label) == [], f"containers of {label} left behind"
        assert networks_labelled(label) == [], f"networks of {label} left behind"


# -- one worker process for the first tests: the full default plan --------------------------------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, secret: None) -> Iterator[QueueEnv]:
    env = make_env(tmp_path_factory.mktemp("queue") / "data", **LEASE)
    proc = start_cli_worker(env, "cli-worker")
    env.wait(lambda: any(w.ready for w in env.workers()), 120, "the worker to register ready")
    yield env
    stop(proc)
    assert proc.returncode == 0, env.worker_log()[-3000:]


@pytest.mark.docker
@pytest.mark.slow
def test_a_job_sent_twice_is_graded_once_in_docker(shared: QueueEnv, reference_zip: Path) -> None:
    from harness.queue.jobs import enqueue
    from harness.queue.lease import run_label

    env = shared
    job_id = env.job(reference_zip)
    assert enqueue(env.settings, job_id) and enqueue(env.settings, job_id)  # a repeated delivery
    env.wait(lambda: env.get(job_id).state.value in ("graded", "failed"), GRADED_WITHIN_S, f"job {job_id} graded")
    # the second message is taken too, and changes nothing
    env.wait(lambda: not env.messages(), 60, "the repeated message to be consumed")
    time.sleep(2 * env.settings.heartbeat_s)
    job = env.get(job_id)
    assert (job.state.value, job.attempt, job.lease_until) == ("graded", 1, None), job.note
    (res,) = env.results(job_id)
    report = json.loads((env.settings.data_dir / res.report_dir / "report.json").read_text())
    assert res.attempt == 1 and res.status == report["status"] == "graded"
    assert res.score == report["score"] and res.score > 0
    assert res.dimensions == {k: v["score"] for k, v in report["dimensions"].items()}
    assert res.report_dir == f"reports/job-{job_id}/attempt-1" and report["runtime"] == "docker"
    kinds = [k for k, _ in env.events(job_id)]
    assert kinds == ["queued", "grading", "graded"]
    (worker,) = env.workers()
    assert worker.name == "cli-worker" and worker.ready and worker.refusing == ""
    assert worker.engine.startswith("docker ") and worker.busy_job is None
    assert_nothing_left(run_label(job_id, 1, env.settings))


@pytest.mark.docker
@pytest.mark.slow
def test_a_hostile_upload_ends_as_a_named_failure(shared: QueueEnv, tmp_path: Path) -> None:
    from harness.queue.jobs import enqueue

    env = shared
    job_id = env.job(traversal_zip(tmp_path / "escape.zip"))
    assert enqueue(env.settings, job_id)
    env.wait(lambda: env.get(job_id).state.value in ("graded", "failed"), GRADED_WITHIN_S, f"job {job_id} done")
    job = env.get(job_id)
    (res,) = env.results(job_id)
    assert job.state.value == "failed" and job.attempt == 1
    assert res.status == "not_graded" and res.score is None and res.report_dir is None
    assert "evil.py" in res.reason and "\n" not in res.reason and "Traceback" not in res.reason
    assert job.note == res.reason
    assert [k for k, _ in env.events(job_id)] == ["queued", "grading", "failed"]
    assert not (env.settings.data_dir / "evil.py").exists() and not (env.settings.data_dir.parent / "evil.py").exists()


@pytest.mark.docker
@pytest.mark.slow
def test_a_readme_only_upload_fails_fast_saying_why_first(shared: QueueEnv, tmp_path: Path) -> None:
    """No Dockerfile: build_failed within seconds of grading, that reason first, and no "not verified" note
    (the invite says who the candidate is, and the worker grades on the invite's seed)."""
    import zipfile

    from harness.queue.jobs import enqueue
    from harness.submission import NOT_VERIFIED

    env = shared
    archive = tmp_path / "readme-only.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("README.md", "# my service\nI ran out of time.\n")
    job_id = env.job(archive, candidate="readme-only-cand")
    assert enqueue(env.settings, job_id)
    env.wait(lambda: env.get(job_id).state.value in ("graded", "failed"), GRADED_WITHIN_S, f"job {job_id} done")
    job = env.get(job_id)
    (res,) = env.results(job_id)
    assert res.status == "build_failed" and res.reason.startswith("no Dockerfile"), res.reason
    assert NOT_VERIFIED not in res.reason
    report = json.loads((env.settings.data_dir / res.report_dir / "report.json").read_text())
    assert report["reasons"][0].startswith("no Dockerfile") and not any(NOT_VERIFIED in r for r in report["reasons"])
    assert report["submission"] == "Ada · readme-only.zip"  # the candidate and their file, not the stored uuid
    took = (job.finished_at - job.started_at).total_seconds()
    assert took <= 10.0, f"a README-only upload took {took:.1f} s of grading to fail"


# -- the embedded worker, killed mid-grading ------------------------------------------------------
@pytest.mark.docker
@pytest.mark.slow
def test_a_killed_worker_s_job_is_requeued_and_graded_once(tmp_path: Path, reference_zip: Path, secret: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.queue.embedded import start_embedded_worker
    from harness.queue.jobs import enqueue
    from harness.queue.lease import run_label
    from harness.store.models import utcnow

    monkeypatch.setenv("SHIFTWORK_GRADE_SCENARIOS", "stable-messy")  # one scenario: the crash is the point
    env = make_env(tmp_path / "data", **LEASE)
    handle = start_embedded_worker(env.settings, name="embedded")
    try:
        job_id = env.job(reference_zip)
        assert enqueue(env.settings, job_id)
        first = run_label(job_id, 1, env.settings)
        env.wait(lambda: env.get(job_id).state.value == "grading" and run_labelled(first), GRADED_WITHIN_S,
                 "attempt 1 to run its service container", every=0.1)
        victim = handle.pid
        assert victim is not None
        grading = children(victim)  # the pool child doing the grading
        assert grading, "the worker has no pool child"
        os.kill(victim, signal.SIGKILL)
        killed_at = utcnow()
        env.wait(lambda: not any(alive(p) for p in [victim, *grading]), 15, "the grading child to die with it")
        assert env.get(job_id).state.value == "grading"  # nobody knows yet: the lease still runs

        env.wait(lambda: env.get(job_id).state.value in ("graded", "failed"), GRADED_WITHIN_S,
                 f"job {job_id} graded after the crash")
        job = env.get(job_id)
        assert (job.state.value, job.attempt) == ("graded", 2), job.note
        (res,) = env.results(job_id)  # none for the killed attempt
        assert res.attempt == 2 and res.status == "graded" and res.report_dir == f"reports/job-{job_id}/attempt-2"
        events = env.events(job_id)
        assert [k for k, _ in events] == ["queued", "grading", "queued", "grading", "graded"]
        assert "requeued after attempt 1: worker embedded stopped heartbeating" in events[2][1]
        from harness.store.models import Event

        with env.sessions() as s:
            requeued_at = [e.at for e in s.query(Event).filter(Event.detail.contains("requeued")).all()][0]
        # the job came back when the lease ran out, not before (last heartbeat ≤ heartbeat_s before the kill)
        assert requeued_at - killed_at >= dt.timedelta(seconds=env.settings.lease_s - env.settings.heartbeat_s - 1)
        assert handle.supervisor.starts >= 2 and handle.pid not in (None, victim)
        assert_nothing_left(first, run_label(job_id, 2, env.settings))
    finally:
        handle.stop()
    assert handle.pid is None


# -- a worker with no engine -------------------------------------------------------------------------
def test_a_worker_without_an_engine_refuses_and_leaves_the_job_queued(tmp_path: Path, secret: None) -> None:
    from harness.queue.jobs import enqueue
    from harness.queue.worker import GATE_EVERY_S

    env = make_env(tmp_path / "data", **LEASE)
    archive = tmp_path / "sub.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # never opened: nobody grades it
    job_id = env.job(archive)
    assert enqueue(env.settings, job_id) and len(env.messages()) == 1
    proc = start_cli_worker(env, "no-engine", DOCKER_HOST="unix:///nonexistent.sock")
    try:
        worker = env.wait(lambda: next((w for w in env.workers() if w.refusing), None), 120,
                          "the worker to register refusing")
        assert worker.name == "no-engine" and not worker.ready and worker.engine == ""
        assert worker.refusing.startswith("no Docker engine: ") and "\n" not in worker.refusing
        seen_first = worker.seen_at
        time.sleep(2 * GATE_EVERY_S + 1)  # it keeps checking, and keeps its hands off the queue
        (worker,) = env.workers()
        assert worker.seen_at > seen_first and worker.refusing.startswith("no Docker engine")
        job = env.get(job_id)
        assert (job.state.value, job.attempt, job.worker) == ("queued", 0, None)
        assert len(env.messages()) == 1 and env.results(job_id) == []
        assert proc.poll() is None
    finally:
        stop(proc)


# -- a worker on redis (workers on other machines) -------------------------------------------------
REDIS_URL = os.environ.get("SHIFTWORK_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.mark.docker
@pytest.mark.slow
def test_a_worker_takes_jobs_from_redis(tmp_path: Path, secret: None) -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("SHIFTWORK_REQUIRE_REDIS") == "1":
            pytest.fail(f"SHIFTWORK_REQUIRE_REDIS=1 but {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"no redis at {REDIS_URL}: {exc}")
    from harness.queue.jobs import enqueue

    env = make_env(tmp_path / "data", broker_url=REDIS_URL, **LEASE)
    job_id = env.job(traversal_zip(tmp_path / "escape.zip"))  # fails fast: the transport is what is tested
    assert enqueue(env.settings, job_id) and env.get(job_id).enqueued_at is not None
    assert not env.messages()  # nothing went through the folder broker
    proc = start_cli_worker(env, "redis-worker", SHIFTWORK_BROKER_URL=REDIS_URL)
    try:
        env.wait(lambda: env.get(job_id).state.value == "failed", GRADED_WITHIN_S, f"job {job_id} taken from redis")
        (res,) = env.results(job_id)
        assert res.status == "not_graded" and "evil.py" in res.reason
        assert [w.name for w in env.workers()] == ["redis-worker"]
    finally:
        stop(proc)


# -- an engine that comes and goes --------------------------------------------------------------------
class SocketRelay:
    """A unix socket that relays to the real Docker socket while open: the worker's engine, switchable."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self.server: Any = None
        self.conns: list[Any] = []

    def open(self) -> None:
        import socket
        import threading

        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(16)
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def _accept(self, server: Any) -> None:
        import socket
        import threading

        while True:
            try:
                a, _ = server.accept()
            except OSError:
                return
            b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            b.connect(self.target)
            self.conns += [a, b]
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=pipe, args=(src, dst), daemon=True).start()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        self.path.unlink(missing_ok=True)
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.conns = []


@pytest.mark.docker
@pytest.mark.slow
def test_a_worker_waits_for_its_engine_and_stops_when_it_goes(tmp_path: Path, secret: None) -> None:
    import tempfile

    from harness.queue.jobs import enqueue

    env = make_env(tmp_path / "data", **LEASE)
    sock_dir = Path(tempfile.mkdtemp(prefix="swq-", dir="/tmp"))  # a unix socket path must be short
    relay = SocketRelay(sock_dir / "docker.sock")
    proc = start_cli_worker(env, "flaky", DOCKER_HOST=f"unix://{relay.path}")
    try:
        env.wait(lambda: any(w.refusing.startswith("no Docker engine") for w in env.workers()), 120,
                 "the worker to refuse work")
        job_id = env.job(traversal_zip(tmp_path / "escape.zip"))
        assert enqueue(env.settings, job_id)
        time.sleep(4)
        assert env.get(job_id).state.value == "queued" and len(env.messages()) == 1
        relay.open()  # the engine answers: the worker starts taking work
        env.wait(lambda: env.get(job_id).state.value == "failed", 180, "the job to be taken once the engine answers")
        assert env.results(job_id)[0].status == "not_graded"
        (worker,) = env.workers()
        assert worker.ready and worker.refusing == "" and worker.engine.startswith("docker ")
        relay.close()  # the engine goes away: the worker stops consuming, exits, and its restart says why
        env.wait(lambda: any(w.pid != worker.pid and w.refusing.startswith("no Docker engine") and not w.ready
                             for w in env.workers()), 60, "a restarted worker process to refuse work")
        assert proc.poll() is None and len(env.workers()) == 1
    finally:
        stop(proc)
        relay.close()
        sock_dir.rmdir()
