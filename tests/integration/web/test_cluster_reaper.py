"""The reapers every worker runs: a waiting job is re-sent only when the broker has nothing left to
give, so many reapers do not flood a long queue with copies."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from _queue_env import make_env


def test_a_waiting_job_is_not_re_sent_while_its_message_waits_in_the_broker(tmp_path: Path) -> None:
    from harness.queue.jobs import enqueue
    from harness.queue.reaper import broker_depth, reap
    from harness.queue.registry import Engine, register
    from harness.store.models import utcnow

    env = make_env(tmp_path / "data", lease_s=30.0, heartbeat_s=1.0)
    archive = tmp_path / "sub.zip"
    archive.write_bytes(b"not graded here")
    job_id = env.job(archive)
    assert enqueue(env.settings, job_id) and broker_depth(env.settings) == 1
    register(env.sessions, "between-jobs", Engine("docker 1", ""), ready=True)  # looks idle
    later = utcnow() + dt.timedelta(seconds=120)
    assert reap(env.settings, now=later).resent == []  # the message is still there: a busy queue, not a lost one
    for message in env.messages():  # taken and lost (e.g. a broker restart without persistence)
        message.unlink()
    assert broker_depth(env.settings) == 0
    assert reap(env.settings, now=later).resent == [job_id]
    assert len(env.messages()) == 1


def test_queue_depth_is_none_when_the_broker_does_not_answer(tmp_path: Path) -> None:
    from harness.queue.reaper import broker_depth

    env = make_env(tmp_path / "data", broker_url="redis://127.0.0.1:1/0")
    assert broker_depth(env.settings) is None
