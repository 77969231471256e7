"""A grading worker process: register, wait for a Docker engine and the gateway rule, reap once, consume.

A worker without an engine must not take a message it cannot grade, so it does not start
consuming at all: it registers with the reason it refuses work and checks again every few
seconds; jobs stay queued meanwhile. The same holds while a container on a run network can
reach the broker, the database or the app (harness.queue.gateway). Once consuming, a
thread heartbeats the worker's row and, should the engine stop answering, stops the
worker (a warm shutdown); whoever supervises it (`shiftwork worker`, `serve`) starts it
again, and it waits again.

`python -m harness.queue.worker --data DIR --name NAME [--parent PID]` is how the
supervisor starts it; settings come from DIR and the environment (build_settings).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from harness.queue.celery_app import QUEUE, default_worker_name, make_celery
from harness.queue.gateway import check_gateway
from harness.queue.lease import sessions
from harness.queue.reaper import reap
from harness.queue.registry import Engine, engine_status, register, seen
from harness.queue.runner import run_job
from harness.store.settings import WebSettings, build_settings

log = logging.getLogger(__name__)

GATE_EVERY_S = 3.0  # how often a refusing worker checks for its engine again
GATEWAY_EVERY_S = 30.0  # a reachable broker is a setup fault: check again, but not often
LOST_AFTER_MISSES = 2  # one slow answer (a busy engine mid-build) is not a lost engine
EX_ENGINE_LOST = 75  # EX_TEMPFAIL: stopped because the engine went away; start again


class Watch(threading.Thread):
    """Heartbeats the worker row; stops the worker process when its engine stops answering."""

    def __init__(self, settings: WebSettings, name: str) -> None:
        super().__init__(name="shiftwork-worker-watch", daemon=True)
        self.settings, self.worker = settings, name
        self.halt = threading.Event()
        self.engine_lost = False

    def run(self) -> None:
        factory = sessions(self.settings)
        misses = 0
        while not self.halt.wait(self.settings.heartbeat_s):
            engine = engine_status()
            misses = 0 if engine.ok else misses + 1
            try:
                seen(factory, self.worker, engine=engine.version, ready=engine.ok, refusing=engine.problem)
            except Exception as exc:
                log.warning("worker row: %s", exc)
            if misses >= LOST_AFTER_MISSES:
                log.error("%s: stopping (it takes no work until the engine answers again)", engine.problem)
                self.engine_lost = True
                os.kill(os.getpid(), signal.SIGTERM)  # Celery's warm shutdown
                return


def wait_for_engine(settings: WebSettings, name: str) -> Engine:
    """Register; return once the engine answers (re-checking every GATE_EVERY_S), saying why meanwhile."""
    factory = sessions(settings)
    engine = engine_status()
    register(factory, name, engine, ready=False, refusing=engine.problem)  # ready once the gateway rule holds
    said = ""
    while not engine.ok:
        if engine.problem != said:
            log.error("worker %s refuses work: %s", name, engine.problem)
            said = engine.problem
        time.sleep(GATE_EVERY_S)
        engine = engine_status()
        seen(factory, name, engine=engine.version, ready=False, refusing=engine.problem)
    log.info("worker %s: %s answers; checking the gateway rule before consuming %s", name, engine.version, QUEUE)
    return engine


def wait_for_gateway_rule(settings: WebSettings, name: str) -> None:
    """Return once a run network's container reaches neither the broker, the database nor the app;
    until then the worker refuses work and its row says why (re-checked every GATEWAY_EVERY_S)."""
    factory = sessions(settings)
    said = ""
    while True:
        got = check_gateway(settings)
        if got.ok:
            return
        if got.problem != said:
            log.error("worker %s refuses work: %s", name, got.problem)
            said = got.problem
        seen(factory, name, ready=False, refusing=got.problem)
        time.sleep(GATEWAY_EVERY_S)


def run_worker(settings: WebSettings, name: str) -> int:
    """Run one worker in this process until it is stopped; returns its exit code."""
    wait_for_engine(settings, name)
    wait_for_gateway_rule(settings, name)
    seen(sessions(settings), name, ready=True, refusing="")
    try:
        reap(settings)  # what a worker that died here left behind, before taking new work
    except Exception as exc:
        log.warning("reaper at start: %s", exc)
    app = make_celery(settings, run_job)
    app.shiftwork_worker = name  # type: ignore[attr-defined]
    app.shiftwork_main_pid = os.getpid()  # type: ignore[attr-defined]
    watch = Watch(settings, name)
    watch.start()
    worker = app.Worker(hostname=f"shiftwork-{os.getpid()}@{name.split(':')[0]}", queues=[QUEUE],
                        pool="prefork", concurrency=1, loglevel="INFO", without_mingle=True,
                        without_gossip=True, without_heartbeat=True, optimization="fair")
    try:
        worker.start()
    finally:
        watch.halt.set()
        try:
            seen(sessions(settings), name, ready=False, busy_job=None,
                 refusing="stopped" if not watch.engine_lost else "no Docker engine: it stopped answering")
        except Exception as exc:
            log.warning("worker row: %s", exc)
    return EX_ENGINE_LOST if watch.engine_lost else int(worker.exitcode or 0)


def _die_with_parent(parent: int) -> None:
    """A supervised worker dies with its supervisor (no orphan keeps grading under its name)."""
    try:
        from billiard.util import set_pdeathsig

        set_pdeathsig(signal.SIGKILL)
    except (ImportError, OSError) as exc:
        log.debug("pdeathsig: %s", exc)
    if os.getppid() != parent:  # the supervisor died before the line above
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.queue.worker")
    parser.add_argument("--data", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--parent", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    if args.parent:
        _die_with_parent(args.parent)
    settings = build_settings(args.data)
    return run_worker(settings, args.name or default_worker_name())


if __name__ == "__main__":
    sys.exit(main())
