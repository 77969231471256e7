"""Supervising worker processes: `serve`'s embedded worker and the foreground `shiftwork worker`.

The grading worker always runs as a child process: a grading cannot block the web app,
and killing the child is what a crash looks like (its lease runs out, the reaper requeues
the job). A supervisor thread starts it again whenever it exits; the child is told to die
with that thread (PR_SET_PDEATHSIG), so stopping or killing the parent leaves no worker
grading on its own. `serve` also runs the reaper beside it.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from harness.queue.reaper import ReaperThread
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)

STEADY_S = 60.0  # a child that ran this long was healthy: restart it at once
MAX_BACKOFF_S = 30.0


def worker_env(settings: WebSettings) -> dict[str, str]:
    """The child's environment: this one, plus what build_settings needs to rebuild the same settings."""
    env = dict(os.environ)
    env.update(SHIFTWORK_DATABASE_URL=settings.database_url, SHIFTWORK_BROKER_URL=settings.broker_url,
               SHIFTWORK_LEASE_S=repr(settings.lease_s), SHIFTWORK_HEARTBEAT_S=repr(settings.heartbeat_s),
               PYTHONUNBUFFERED="1")
    if settings.public_url:  # the grading.finished event links the invite's page
        env["SHIFTWORK_PUBLIC_URL"] = settings.public_url
    if settings.storage_dir is not None:
        env["SHIFTWORK_STORAGE_DIR"] = str(settings.storage_dir)
    return env


class Supervisor(threading.Thread):
    """Keeps one worker process running under `name`, restarting it (with backoff) whenever it exits."""

    def __init__(self, settings: WebSettings, name: str, log_path: Path | None = None) -> None:
        super().__init__(name=f"shiftwork-supervisor-{name}", daemon=True)
        self.settings, self.worker_name, self.log_path = settings, name, log_path
        self.halt = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exits: list[int] = []
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _spawn(self, out: IO[bytes] | None) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "harness.queue.worker", "--data", str(self.settings.data_dir),
               "--name", self.worker_name, "--parent", str(os.getpid())]
        return subprocess.Popen(cmd, env=worker_env(self.settings), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT if out is not None else None)

    def run(self) -> None:
        backoff = 1.0
        out = self.log_path.open("ab") if self.log_path is not None else None
        try:
            while not self.halt.is_set():
                began = time.monotonic()
                with self._lock:
                    if self.halt.is_set():
                        break
                    self.proc = self._spawn(out)
                    self.starts += 1
                code = self.proc.wait()
                self.exits.append(code)
                if self.halt.is_set():
                    break
                backoff = 1.0 if time.monotonic() - began > STEADY_S else min(backoff * 2, MAX_BACKOFF_S)
                log.warning("worker %s exited with code %s; starting it again in %.0f s",
                            self.worker_name, code, backoff)
                self.halt.wait(backoff)
        finally:
            if out is not None:
                out.close()

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL after grace_s: a grading cut short is requeued
        when its lease runs out."""
        with self._lock:
            self.halt.set()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=10)


class EmbeddedWorker:
    """What start_embedded_worker returns: the supervised worker and the reaper, stopped together."""

    def __init__(self, supervisor: Supervisor, reaper: ReaperThread | None) -> None:
        self.supervisor, self.reaper = supervisor, reaper

    @property
    def pid(self) -> int | None:
        """The worker process's pid now (it changes when the worker is restarted)."""
        return self.supervisor.pid

    @property
    def name(self) -> str:
        return self.supervisor.worker_name

    def stop(self, grace_s: float = 20.0) -> None:
        if self.reaper is not None:
            self.reaper.stop()
        self.supervisor.stop(grace_s)


def default_name(suffix: str = "") -> str:
    return f"{socket.gethostname()}:{os.getpid()}{suffix}"


def start_embedded_worker(settings: WebSettings, *, name: str | None = None, reaper: bool = True,
                          log_path: Path | None = None) -> EmbeddedWorker:
    """`serve`'s grading worker (a supervised child process) and reaper thread. Its output goes to
    data_dir/logs/worker.log unless log_path says otherwise."""
    path = log_path or settings.folder("logs") / "worker.log"
    sup = Supervisor(settings, name or default_name(), path)
    sup.start()
    reap = ReaperThread(settings) if reaper else None
    if reap is not None:
        reap.start()
    log.info("embedded worker %s started (log: %s)", sup.worker_name, path)
    return EmbeddedWorker(sup, reap)


def run_foreground(settings: WebSettings, name: str | None = None) -> int:
    """`shiftwork worker`: one supervised worker, its output on this terminal, until SIGINT or SIGTERM.

    It reaps too: with workers on several machines and `serve --no-worker`, a dead worker's
    job must come back without waiting for some worker to restart."""
    sup = Supervisor(settings, name or default_name())
    reaper = ReaperThread(settings)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sup.start()
        reaper.start()
        while not stopping.wait(1.0):
            if not sup.is_alive():
                break
    finally:
        reaper.stop()
        sup.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
