"""The gateway rule at worker start-up: a worker whose broker a run network's container can reach
refuses work and says where; what it probes is read from its settings.

The refusing case is real: a redis-server of this test bound to an address of an interface
made here (a veth in the host's namespace, as a LAN address would be), which a
container on an internal run network reaches through its gateway. The passing case (broker
and database where no run network reaches them) is every worker of test_cluster.py.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from _cluster_env import RedisServer, netns_available, short_tmp
from _queue_env import SECRET, make_env, traversal_zip, wait_for

SHIFTWORK = Path(sys.executable).parent / "shiftwork"


def test_targets_are_the_broker_database_and_app_over_tcp(tmp_path: Path) -> None:
    from harness.queue.gateway import Target, targets
    from harness.store.settings import build_settings

    s = build_settings(tmp_path, env={}, broker_url="redis://10.1.2.3:6390/0",
                       database_url="postgresql+psycopg://u:p@127.0.0.1/db", public_url="https://192.0.2.7:8443/x")
    assert targets(s, env={}) == [Target("broker", "10.1.2.3", 6390), Target("database", "", 5432),
                                  Target("app", "192.0.2.7", 8443)]
    local = build_settings(tmp_path, env={})  # the embedded broker and SQLite: nothing on the network
    assert targets(local, env={}) == []
    assert targets(local, env={"SHIFTWORK_APP_URL": "http://localhost:8080"}) == [Target("app", "", 8080)]


@pytest.fixture
def exposed_redis() -> Iterator[RedisServer]:
    """A redis-server bound to the address of a veth made here, in the host namespace (as a LAN address)."""
    why = netns_available()
    if why:
        pytest.skip(f"cannot make an interface here: {why}")
    dev, subnet = f"swg{random.randrange(16**4):04x}", random.randrange(20, 250)
    addr = f"10.214.{subnet}.1"
    subprocess.run(["ip", "link", "add", dev, "type", "veth", "peer", "name", f"{dev}p"], check=True, timeout=30)
    try:
        subprocess.run(["ip", "addr", "add", f"{addr}/24", "dev", dev], check=True, timeout=30)
        for end in (dev, f"{dev}p"):
            subprocess.run(["ip", "link", "set", end, "up"], check=True, timeout=30)
        server = RedisServer(short_tmp() / "redis", bind=addr)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        subprocess.run(["ip", "link", "del", dev], capture_output=True, timeout=30)


@pytest.mark.docker
@pytest.mark.slow
def test_a_worker_whose_broker_a_run_network_reaches_refuses_work(tmp_path: Path,
                                                                  exposed_redis: RedisServer) -> None:
    from harness.queue.jobs import enqueue

    env = make_env(tmp_path / "data", broker_url=exposed_redis.url, lease_s=10.0, heartbeat_s=2.0)
    job_id = env.job(traversal_zip(tmp_path / "escape.zip"))
    assert enqueue(env.settings, job_id)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_") or k.startswith("SHIFTWORK_REQUIRE")}
    child_env.update(SHIFTWORK_BROKER_URL=exposed_redis.url, SHIFTWORK_SECRET=SECRET, SHIFTWORK_HEARTBEAT_S="2")
    log = env.settings.folder("logs") / "gate.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(SHIFTWORK), "worker", "--data", str(env.settings.data_dir), "--name", "exposed"],
                                env=child_env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        worker = wait_for(lambda: next((w for w in env.workers() if "can reach" in w.refusing), None), 180,
                          "the worker to refuse work over the gateway rule", env.worker_log)
        where = f"the broker at {exposed_redis.bind}:{exposed_redis.port}"
        assert where in worker.refusing and "\n" not in worker.refusing, worker.refusing
        assert not worker.ready and worker.engine.startswith("docker ")
        time.sleep(5)  # it keeps its hands off the queue
        job = env.get(job_id)
        assert (job.state.value, job.attempt, job.worker) == ("queued", 0, None)
        assert exposed_redis.client().llen("shiftwork.grading") == 1 and env.results(job_id) == []
        assert proc.poll() is None
        assert "refuses work: candidates' containers can reach" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(60)
    # the probe's network and container are gone
    label = f"sw-gatecheck-{os.uname().nodename[:20]}-{worker.pid}-"
    for kind in (["ps", "-a"], ["network", "ls"]):
        listed = subprocess.run(["docker", *kind, "--format", '{{.Label "shiftwork.run"}}',
                                 "--filter", "label=shiftwork.run"], capture_output=True, text=True, timeout=30,
                                check=True).stdout.split()
        assert not [x for x in listed if x.startswith(label)], listed
