"""Leases, results and the reaper against a real database (SQLite and PostgreSQL), no worker, no Docker.

What a worker process does is in test_queue.py; here each guarded UPDATE is driven by hand,
with the clock passed in, so a lease can run out without waiting for it.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from _queue_env import QueueEnv, make_env, postgres_url  # noqa: F401  (postgres_url is a fixture)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> QueueEnv:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return make_env(tmp_path / "data", url, lease_s=30.0, heartbeat_s=1.0)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "sub.zip"
    path.write_bytes(b"not graded in these tests")
    return path


def later(seconds: float) -> dt.datetime:
    from harness.store.models import utcnow

    return utcnow() + dt.timedelta(seconds=seconds)


def test_a_job_is_claimed_once_while_its_lease_lives(env: QueueEnv, archive: Path) -> None:
    from harness.queue.lease import claim

    job_id = env.job(archive)
    first = claim(env.sessions, job_id, "w1", lease_s=30)
    assert first is not None and first.attempt == 1
    assert claim(env.sessions, job_id, "w2", lease_s=30) is None  # a repeated message: nothing to do
    job = env.get(job_id)
    assert (job.state.value, job.attempt, job.worker) == ("grading", 1, "w1")
    assert job.lease_until is not None and job.started_at is not None
    # once the lease ran out, another worker may take the job over, as attempt 2
    second = claim(env.sessions, job_id, "w2", lease_s=30, now=later(31))
    assert second is not None and second.attempt == 2
    assert ("grading", "job %s attempt 2 on worker w2" % job_id) in env.events(job_id)


def test_concurrent_claims_have_one_winner(env: QueueEnv, archive: Path) -> None:
    from harness.queue.lease import claim

    job_id = env.job(archive)
    won: list[Any] = []
    barrier = threading.Barrier(6)

    def take(i: int) -> None:
        barrier.wait()
        won.append(claim(env.sessions, job_id, f"w{i}", lease_s=30))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [c for c in won if c is not None]
    assert len(won) == 6 and len(winners) == 1
    assert env.get(job_id).worker == winners[0].worker and env.get(job_id).attempt == 1


def test_only_the_attempt_holding_the_job_writes_its_result(env: QueueEnv, archive: Path) -> None:
    from harness.queue.lease import Outcome, claim, finish, renew
    from harness.store.models import JobState

    job_id = env.job(archive)
    old = claim(env.sessions, job_id, "w1", lease_s=30)
    new = claim(env.sessions, job_id, "w2", lease_s=30, now=later(31))  # w1 was presumed dead
    assert old is not None and new is not None
    assert not renew(env.sessions, old, 30)  # w1's heartbeat notices and stops
    late = Outcome(JobState.graded, "graded", score=50.0, dimensions={"accuracy": 50.0}, report_dir="reports/x")
    assert not finish(env.sessions, old, late)
    assert env.results(job_id) == [] and env.get(job_id).state == JobState.grading
    assert renew(env.sessions, new, 30)
    assert finish(env.sessions, new, Outcome(JobState.graded, "graded", score=81.5, dimensions={"accuracy": 90.0},
                                             report_dir="reports/job/attempt-2"))
    assert not finish(env.sessions, new, late)  # a second write of the same attempt changes nothing
    (only,) = env.results(job_id)
    assert (only.attempt, only.status, only.score, only.dimensions) == (2, "graded", 81.5, {"accuracy": 90.0})
    job = env.get(job_id)
    assert job.state == JobState.graded and job.lease_until is None and job.finished_at is not None
    assert claim(env.sessions, job_id, "w3", lease_s=30, now=later(3600)) is None  # final stays final
    assert [k for k, _ in env.events(job_id)] == ["queued", "grading", "grading", "graded"]


def test_the_reaper_requeues_an_expired_lease_then_gives_up(env: QueueEnv, archive: Path) -> None:
    from harness.queue.lease import claim
    from harness.queue.reaper import reap

    job_id = env.job(archive, max_attempts=2)
    assert claim(env.sessions, job_id, "w1", lease_s=30) is not None
    assert reap(env.settings).requeued == []  # the lease lives: nothing to do
    got = reap(env.settings, now=later(31))  # sweeps the attempt's label on the local engine, if any
    assert got.requeued == [job_id]
    job = env.get(job_id)
    assert (job.state.value, job.worker, job.lease_until) == ("queued", None, None)
    assert "requeued after attempt 1: worker w1 stopped heartbeating" in job.note
    assert len(env.messages()) == 1 and job.enqueued_at is not None  # sent again
    assert json.loads(env.messages()[0].read_text())["headers"]["argsrepr"] == f"[{job_id}]"

    assert claim(env.sessions, job_id, "w2", lease_s=30) is not None  # attempt 2 of 2 dies too
    got = reap(env.settings, now=later(31))
    assert got.failed == [job_id] and got.requeued == []
    job = env.get(job_id)
    assert job.state.value == "failed" and "2 attempts ended without a result" in job.note
    (res,) = env.results(job_id)
    assert res.attempt == 2 and res.status == "not_graded" and "stopped heartbeating" in res.reason
    assert [k for k, _ in env.events(job_id)] == ["queued", "grading", "queued", "grading", "failed"]


def test_a_lost_message_is_sent_again_only_while_a_worker_idles(env: QueueEnv, archive: Path) -> None:
    from harness.queue.jobs import enqueue
    from harness.queue.reaper import reap
    from harness.queue.registry import Engine, register, seen

    job_id = env.job(archive)
    assert enqueue(env.settings, job_id) and len(env.messages()) == 1
    env.messages()[0].unlink()  # the broker lost it (or a worker was killed holding it)
    # busy workers only: a job waiting its turn is not a lost message
    register(env.sessions, "busy", Engine("docker 1", ""), ready=True)
    seen(env.sessions, "busy", busy_job=999)
    assert reap(env.settings, now=later(120)).resent == []
    register(env.sessions, "idle", Engine("docker 1", ""), ready=True)
    assert reap(env.settings, now=later(30)).resent == []  # not waiting long enough yet
    assert reap(env.settings, now=later(120)).resent == [job_id]
    assert len(env.messages()) == 1


def test_a_job_never_sent_is_sent_by_the_reaper(env: QueueEnv, archive: Path) -> None:
    from harness.queue.reaper import reap

    job_id = env.job(archive)  # committed, but the app died before enqueue()
    assert env.get(job_id).enqueued_at is None
    assert reap(env.settings).resent == []  # just created: enqueue() may still be on its way
    assert reap(env.settings, now=later(60)).resent == [job_id]
    assert env.get(job_id).enqueued_at is not None and len(env.messages()) == 1


def test_a_broker_that_does_not_answer_leaves_the_job_queued(tmp_path: Path, archive: Path) -> None:
    from harness.queue.jobs import enqueue

    env = make_env(tmp_path / "data", broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    job_id = env.job(archive)
    assert enqueue(env.settings, job_id) is False
    job = env.get(job_id)
    assert job.state.value == "queued" and job.enqueued_at is None



def test_the_folder_broker_hands_each_message_to_one_consumer(tmp_path: Path) -> None:
    """Several consumers on one folder (serve's embedded worker and others): no message twice, none lost."""
    from queue import Empty

    from harness.queue.celery_app import QUEUE, make_celery

    env = make_env(tmp_path / "data")
    app = make_celery(env.settings)
    for i in range(40):
        app.send_task("shiftwork.grade_job", args=[i], queue=QUEUE)
    assert len(env.messages()) == 40
    got: list[list[int]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def consume(k: int) -> None:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            barrier.wait()
            while True:
                try:
                    payload = channel._get(QUEUE)
                except Empty:
                    return
                got[k].append(json.loads(payload["headers"]["argsrepr"])[0])

    threads = [threading.Thread(target=consume, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = sorted(n for part in got for n in part)
    assert taken == list(range(40)) and not env.messages()
    assert not list((env.settings.data_dir / "queue" / "taken").iterdir())  # read, then removed
