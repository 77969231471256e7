"""Several `shiftwork worker` processes, each a host of its own (a network namespace), on one
redis-server and one PostgreSQL database, grading a mixed cohort in Docker; then faults: the
broker stopped and started while jobs wait, a worker killed with SIGKILL mid-grading, and the
CLI's cohort through the same queue.

Topology and helpers: _cluster_env.py. Gradings replay two held-back scenarios
(SHIFTWORK_GRADE_SCENARIOS) to stay short; leases are 10 s so a dead worker's job comes
back quickly. No reaper runs in this process: the workers' own reapers must do it.
"""
from __future__ import annotations

import csv
import os
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from _cluster_env import (SHIFTWORK, ClusterWorker, RedisServer, Topology, new_topology, short_tmp,
                          worker_env)
from _queue_env import (EXERCISE, QueueEnv, make_env, networks_labelled, postgres_url, run_labelled,  # noqa: F401
                        traversal_zip, wait_for, zip_folder)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.postgres]

SECRET = "cluster-tests-grader-secret-51d0c3-0123456789abcdef"
SCENARIOS = "stable-messy,operations"
LEASE_S, HEARTBEAT_S = 10.0, 2.0
COHORT_WITHIN_S = 900.0
HOSTILE = Path(__file__).resolve().parents[2] / "fixtures" / "hostile"
NOTHING_TO_DO = "nothing to do"
QUEUE_KEY = "shiftwork.grading"


@dataclass
class Cluster:
    app: QueueEnv  # the app's side: settings on the shared storage root, the database at 127.0.0.1
    redis: RedisServer
    topology: Topology
    workers: dict[str, ClusterWorker]
    subs: Path

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.text()[-3000:]}" for w in self.workers.values())

    def wait(self, what: Any, timeout: float, why: str, every: float = 1.0) -> Any:
        return wait_for(what, timeout, why, self.logs, every)

    def final(self, job_id: int) -> bool:
        return self.app.get(job_id).state.value in ("graded", "failed")

    def send(self, job_id: int, times: int = 1) -> None:
        from harness.queue.jobs import enqueue

        for _ in range(times):
            assert enqueue(self.app.settings, job_id)


def hostile_zip(name: str, dest: Path) -> Path:
    """tests/fixtures/hostile/<name> with the shared server module, zipped."""
    with zipfile.ZipFile(dest / f"{name}.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for folder in (HOSTILE / name, HOSTILE / "_common"):
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(folder).as_posix())
    return dest / f"{name}.zip"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Cluster]:  # noqa: F811
    from harness.solutions import materialize_solution

    root = tmp_path_factory.mktemp("cluster")
    subs = root / "subs"
    subs.mkdir()
    for name in ("reference", "accuracy-only"):
        folder = materialize_solution(EXERCISE, name, root / "solutions" / name, seed=7)
        zip_folder(folder, subs / f"{name}.zip")
    for name in ("build-fails", "never-listens"):
        hostile_zip(name, subs)
    traversal_zip(subs / "traversal.zip")
    (subs / "garbage.zip").write_bytes(os.urandom(4096))

    mp = pytest.MonkeyPatch()
    mp.setenv("SHIFTWORK_SECRET", SECRET)
    topo = new_topology()
    redis = RedisServer(short_tmp() / "redis")
    workers: dict[str, ClusterWorker] = {}
    try:
        topo.create()
        redis.start()
        topo.expose(redis.port)
        topo.expose(5432)
        app = make_env(root / "storage", postgres_url, broker_url=redis.url, lease_s=LEASE_S, heartbeat_s=HEARTBEAT_S)
        hub = topo.hub_addr
        common = dict(broker=f"redis://{hub}:{redis.port}/0", database=postgres_url.replace("@127.0.0.1:", f"@{hub}:"),
                      storage=app.settings.data_dir, secret=SECRET, scenarios=SCENARIOS, lease_s=LEASE_S,
                      heartbeat_s=HEARTBEAT_S)
        for name, extra in (("w1", {}), ("w2", {}), ("no-engine", {"DOCKER_HOST": "unix:///nonexistent.sock"})):
            ns, _ = topo.add_worker_host()
            data = root / f"worker-{name}"
            data.mkdir()
            workers[name] = ClusterWorker(name, ns, data, data / "worker.log", worker_env(**common, **extra))
            workers[name].start()
        c = Cluster(app, redis, topo, workers, subs)

        def up() -> bool:
            rows = {w.name: w for w in app.workers()}
            for w in workers.values():
                assert w.proc is not None and w.proc.poll() is None, f"{w.name} exited: {w.text()[-3000:]}"
            return (all(n in rows and rows[n].ready for n in ("w1", "w2"))
                    and "no-engine" in rows and rows["no-engine"].refusing.startswith("no Docker engine"))

        c.wait(up, 180, "w1 and w2 ready, no-engine refusing")
        yield c
    finally:
        for w in workers.values():
            w.stop()
        redis.stop()
        topo.destroy()
        mp.undo()


def assert_nothing_left(job_id: int, attempts: int, settings: Any) -> None:
    from harness.queue.lease import run_label

    for n in range(1, attempts + 1):
        label = run_label(job_id, n, settings)
        assert run_labelled(label) == [], f"containers of {label} left behind"
        assert networks_labelled(label) == [], f"networks of {label} left behind"


def once(c: Cluster, job_id: int) -> Any:
    """The job's one final result; the job holds no lease any more."""
    job = c.app.get(job_id)
    results = c.app.results(job_id)
    assert len(results) == 1, [(r.attempt, r.status) for r in results]
    assert job.state.value in ("graded", "failed") and job.lease_until is None
    assert results[0].attempt == job.attempt
    return results[0]


def test_a_mixed_cohort_sent_twice_is_graded_once_each_across_the_workers(cluster: Cluster) -> None:
    c = cluster
    ids = {p.stem: c.app.job(p, candidate=f"cand-{p.stem}") for p in sorted(c.subs.iterdir())}
    for job_id in ids.values():
        c.send(job_id, times=2)  # every message delivered twice
    assert c.redis.client().llen(QUEUE_KEY) >= 1
    c.wait(lambda: all(c.final(j) for j in ids.values()), COHORT_WITHIN_S, "the cohort to be graded", every=2)
    time.sleep(3 * HEARTBEAT_S)  # the duplicates still in flight end too

    res = {name: once(c, job_id) for name, job_id in ids.items()}
    assert all(c.app.get(j).attempt == 1 for j in ids.values()), {n: c.app.get(j).note for n, j in ids.items()}
    assert res["reference"].status == "graded" and res["accuracy-only"].status == "graded"
    assert res["reference"].score > res["accuracy-only"].score > 0
    assert res["build-fails"].status == "build_failed" and "non-zero code: 3" in res["build-fails"].reason
    assert res["never-listens"].status == "start_failed"
    for name in ("traversal", "garbage"):
        assert res[name].status == "not_graded" and res[name].report_dir is None and "\n" not in res[name].reason
    assert "evil.py" in res["traversal"].reason
    # the reports are on the storage root shared with the app, none in a worker's working folder
    for name in ("reference", "accuracy-only", "build-fails", "never-listens"):
        assert (c.app.settings.data_dir / res[name].report_dir / "report.json").is_file()
    assert not any((w.data / "reports").exists() for w in c.workers.values())

    graded_by = {c.app.get(j).worker for j in ids.values()}
    assert graded_by == {"w1", "w2"}, graded_by  # spread over both, never the worker without an engine
    assert sum(w.text().count(NOTHING_TO_DO) for w in c.workers.values()) >= len(ids)  # each duplicate dropped
    c.wait(lambda: c.redis.client().llen(QUEUE_KEY) == 0, 60, "the queue to drain")
    rows = {w.name: w for w in c.app.workers()}
    assert rows["no-engine"].refusing.startswith("no Docker engine") and not rows["no-engine"].ready
    assert rows["no-engine"].busy_job is None
    for name in ("w1", "w2"):
        assert rows[name].engine.startswith("docker ") and rows[name].refusing == ""
        assert "gateway rule holds" in c.workers[name].text()
    for job_id in ids.values():
        assert_nothing_left(job_id, 1, c.app.settings)


def test_jobs_sent_while_the_broker_is_down_are_graded_once_it_is_back(cluster: Cluster, tmp_path: Path) -> None:
    from harness.queue.jobs import enqueue

    c = cluster
    c.wait(lambda: not any(w.busy_job for w in c.app.workers()), 300, "the workers to be idle")
    pids = {n: c.workers[n].proc.pid for n in ("w1", "w2")}  # type: ignore[union-attr]
    c.redis.stop()
    try:
        ids = [c.app.job(traversal_zip(tmp_path / "escape.zip")),
               c.app.job(hostile_zip("build-fails", tmp_path))]
        assert not any(enqueue(c.app.settings, j) for j in ids)  # the broker is away: the jobs wait, unsent
        assert all(c.app.get(j).enqueued_at is None for j in ids)
        time.sleep(5)
        assert all(c.app.get(j).state.value == "queued" for j in ids)
    finally:
        c.redis.start()  # same port, empty: whatever it held is gone
    c.wait(lambda: all(c.final(j) for j in ids), 300, "the jobs to be re-sent and graded", every=2)
    first, second = (once(c, j) for j in ids)
    assert first.status == "not_graded" and "evil.py" in first.reason
    assert second.status == "build_failed"
    assert all(c.app.get(j).attempt == 1 for j in ids)
    # the workers rode it out: same processes, consuming again
    assert {n: c.workers[n].proc.pid for n in ("w1", "w2")} == pids  # type: ignore[union-attr]
    assert all(c.workers[n].proc.poll() is None for n in ("w1", "w2"))  # type: ignore[union-attr]
    for job_id in ids:
        assert_nothing_left(job_id, 1, c.app.settings)


def test_the_cli_grades_a_cohort_through_the_queue(cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    subs = tmp_path / "subs"
    subs.mkdir()
    traversal_zip(subs / "escape.zip")
    (subs / "garbage.zip").write_bytes(os.urandom(2048))
    with zipfile.ZipFile(hostile_zip("build-fails", tmp_path)) as zf:
        zf.extractall(subs / "build-fails")  # a folder: the CLI zips it for the workers
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_") or k.startswith("SHIFTWORK_REQUIRE")}
    env.update(SHIFTWORK_BROKER_URL=c.redis.url, SHIFTWORK_DATABASE_URL=c.app.settings.database_url,
               SHIFTWORK_DATA_DIR=str(c.app.settings.data_dir), SHIFTWORK_SECRET=SECRET, COLUMNS="160")
    got = subprocess.run([str(SHIFTWORK), "grade", "--submissions", str(subs), "--exercise", EXERCISE,
                          "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    text = got.stdout + got.stderr
    assert got.returncode == 0, text[-4000:] + c.logs()
    assert "sent 3 of 3 submissions to the grading queue" in text and "Traceback" not in text
    assert "build-fails: build_failed" in text and "escape: not_graded" in text
    assert "cohort: 1 of 3 graded" in text
    with (out / "cohort.csv").open() as fh:
        rows = {r["submission"]: r for r in csv.DictReader(fh)}
    assert {n: r["status"] for n, r in rows.items()} == {"build-fails": "build_failed", "escape": "not_graded",
                                                         "garbage": "not_graded"}
    assert "evil.py" in rows["escape"]["reason"]
    assert (out / "build-fails" / "report.json").is_file() and (out / "cohort.md").is_file()
    # the jobs are the queue's: one result each, graded by the workers
    from sqlalchemy import select

    from harness.store.models import Invite, Job

    with c.app.sessions() as s:
        jobs = list(s.scalars(select(Job).join(Invite).where(Invite.candidate_name.in_(list(rows)))))
    assert len(jobs) == 3
    for job in jobs:
        once(c, job.id)
        assert job.worker in ("w1", "w2")


def test_a_worker_killed_mid_grading_is_replaced_by_another(cluster: Cluster) -> None:
    from harness.queue.lease import run_label

    c = cluster
    job_id = c.app.job(c.subs / "reference.zip", candidate="cand-killed")
    c.send(job_id)
    first = run_label(job_id, 1, c.app.settings)
    c.wait(lambda: c.app.get(job_id).state.value == "grading" and run_labelled(first), 300,
           "attempt 1 to run its service", every=0.2)
    victim = c.app.get(job_id).worker
    assert victim in ("w1", "w2")
    c.workers[victim].kill9()
    assert c.app.get(job_id).state.value == "grading"  # nobody knows yet: the lease still runs
    c.wait(lambda: c.final(job_id), COHORT_WITHIN_S, "the job to be graded by the other worker", every=2)
    job = c.app.get(job_id)
    res = once(c, job_id)
    assert (job.state.value, job.attempt, res.attempt, res.status) == ("graded", 2, 2, "graded"), job.note
    other = ({"w1", "w2"} - {victim}).pop()
    assert job.worker == other
    kinds = [k for k, _ in c.app.events(job_id)]
    assert kinds == ["queued", "grading", "queued", "grading", "graded"]
    assert any(f"worker {victim} stopped heartbeating" in d for _, d in c.app.events(job_id))
    assert_nothing_left(job_id, 2, c.app.settings)  # the dead attempt's containers were swept before the retry
