"""Cohort benchmark: wall time of one cohort through the grading queue with 1 and then 2 workers.

Four submissions (reference and accuracy-only, twice each, as different candidates), two
held-back scenarios (SHIFTWORK_GRADE_SCENARIOS), a redis-server of the benchmark's own on
127.0.0.1, SQLite (or PostgreSQL when SHIFTWORK_TEST_POSTGRES_URL is set), `shiftwork
worker` processes on one machine and one Docker engine. Printed: cohort wall time, the mean
time a job spent with its worker (claim to result), and how many jobs each worker did.

The model behind the numbers (see docs/web.md, "Several workers"): a cohort of J jobs on N
machines takes about ceil(J / N) * t_job, where t_job is one grading's time on a machine
with its own engine and cores; on ONE machine the workers share its cores and engine, so
t_job grows with N and the gain stops once the cores are busy. Run: `make bench`, or
`python benchmarks/bench_cohort.py`. Needs a Docker engine, the base image and redis-server.
Figures are printed, never asserted: the machine may be shared.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration" / "web"))

SCENARIOS = "stable-messy,operations"
SECRET = "bench-cohort-grader-secret-0c41aa-0123456789abcdef"
SUBMISSIONS = ("reference", "accuracy-only", "reference", "accuracy-only")


def _database(folder: Path) -> tuple[str, Any]:
    """(url, cleanup): a fresh PostgreSQL database when one is configured, else SQLite in `folder`."""
    base = os.environ.get("SHIFTWORK_TEST_POSTGRES_URL")
    if not base:
        return f"sqlite:///{folder / 'bench.db'}", lambda: None
    import psycopg

    name = f"sw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from harness.queue.lease import _sessions

        _sessions.cache_clear()
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base.rpartition('/')[0]}/{name}", drop


def cohort(workers: int, archives: list[Path], root: Path) -> dict[str, Any]:
    from _cluster_env import ClusterWorker, RedisServer, worker_env
    from _queue_env import make_env, wait_for

    from harness.queue.jobs import enqueue

    redis = RedisServer(Path(tempfile.mkdtemp(prefix="swb-", dir="/tmp")))
    url, drop = _database(root)
    procs: list[ClusterWorker] = []
    try:
        redis.start()
        env = make_env(root / "storage", url, broker_url=redis.url, lease_s=60.0, heartbeat_s=5.0)
        common = worker_env(broker=redis.url, database=url, storage=env.settings.data_dir, secret=SECRET,
                            scenarios=SCENARIOS, lease_s=60.0, heartbeat_s=5.0)
        for i in range(workers):
            data = root / f"worker-{i + 1}"
            data.mkdir()
            procs.append(ClusterWorker(f"bench-{i + 1}", None, data, data / "worker.log", common))
            procs[-1].start()
        logs = lambda: "\n".join(p.text()[-2000:] for p in procs)  # noqa: E731
        wait_for(lambda: sum(w.ready for w in env.workers()) == workers, 300, "the workers to be ready", logs)
        began = time.monotonic()
        ids = [env.job(a, candidate=f"bench-{i}") for i, a in enumerate(archives)]
        for job_id in ids:
            enqueue(env.settings, job_id)
        wait_for(lambda: all(env.get(j).state.value in ("graded", "failed") for j in ids), 3600,
                 "the cohort", logs, every=1.0)
        wall = time.monotonic() - began
        jobs = [env.get(j) for j in ids]
        per_job = [(j.finished_at - j.started_at).total_seconds() for j in jobs if j.finished_at and j.started_at]
        return {"wall_s": wall, "job_mean_s": statistics.mean(per_job) if per_job else float("nan"),
                "statuses": [r.status for j in ids for r in env.results(j)],
                "by_worker": {w: sum(j.worker == w for j in jobs) for w in sorted({j.worker for j in jobs})}}
    finally:
        for p in procs:
            p.stop()
        redis.stop()
        drop()


def run() -> dict[int, dict[str, Any]]:
    from _queue_env import zip_folder

    from harness.solutions import materialize_solution

    os.environ["SHIFTWORK_SECRET"] = SECRET
    with tempfile.TemporaryDirectory(prefix="sw-bench-cohort-") as tmp:
        root = Path(tmp)
        made: dict[str, Path] = {}
        for name in set(SUBMISSIONS):
            folder = materialize_solution("support-triage", name, root / "solutions" / name, seed=7)
            made[name] = zip_folder(folder, root / f"{name}.zip")
        archives = [made[n] for n in SUBMISSIONS]
        out = {}
        for n in (1, 2):
            (root / f"n{n}").mkdir()
            out[n] = cohort(n, archives, root / f"n{n}")
        return out


def _print(results: dict[int, dict[str, Any]]) -> None:
    print(f"cohort of {len(SUBMISSIONS)} submissions ({', '.join(SUBMISSIONS)}), scenarios {SCENARIOS}, "
          f"{os.cpu_count()} cores, one Docker engine")
    for n, r in results.items():
        print(f"  {n} worker(s): wall {r['wall_s']:.0f} s, mean per job {r['job_mean_s']:.0f} s, "
              f"jobs by worker {r['by_worker']}, statuses {r['statuses']}")
    if 1 in results and 2 in results:
        print(f"  speed-up with 2 workers on this machine: {results[1]['wall_s'] / results[2]['wall_s']:.2f}x")


@pytest.mark.docker
@pytest.mark.slow
def test_cohort_wall_time_with_one_and_two_workers(capsys: pytest.CaptureFixture[str]) -> None:
    results = run()
    with capsys.disabled():
        print()
        _print(results)


if __name__ == "__main__":
    _print(run())
