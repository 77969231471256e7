"""The local runtime: the submission as a plain subprocess on 127.0.0.1. It isolates NOTHING.

For candidates checking their own code and for machines without a Docker engine. The
start command is the Dockerfile's CMD, run with the grader's Python from a temporary
copy of the submission, in its own session so the whole process tree can be killed.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.client import ServiceClient
from grader.exercise import Limits
from grader.runtime import Runtime, RuntimeFailure, ServiceState, StartInfo
from harness.runtime.dockerfile import DockerfileInfo, local_argv, parse_dockerfile, python_run_step
from harness.runtime.proctree import session_pids, signal_pids, tree_rss_mb
from harness.runtime.threads import thread_env
from harness.runtime.warm import Copy, WarmPool

log = logging.getLogger(__name__)

NOT_ISOLATED = ("local runtime: the submission runs as a plain subprocess with your user's rights; "
                "it is NOT isolated (no network, memory or filesystem limits). Use it only for code you trust.")
LOG_CAP = 1_000_000  # bytes of service output kept on disk (the tail)
GRACE_S = 3.0


class _LogFile:
    """Service output, capped on disk: past the cap the oldest half is dropped."""

    def __init__(self, path: Path, cap: int = LOG_CAP) -> None:
        self.path, self.cap, self.truncated = path, cap, False
        self._lock = threading.Lock()
        path.write_bytes(b"")

    def pump(self, stream: Any) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                with self.path.open("ab") as fh:
                    fh.write(chunk)
                if self.path.stat().st_size > self.cap:
                    keep = self.path.read_bytes()[-self.cap // 2:]
                    self.path.write_bytes(keep)
                    self.truncated = True

    def tail(self, max_bytes: int) -> str:
        with self._lock:
            try:
                data = self.path.read_bytes()[-max_bytes:]
            except OSError:
                return ""
        head = "[log truncated]\n" if self.truncated or len(data) == max_bytes else ""
        return head + data.decode("utf-8", "replace")


@dataclass
class _Process:
    """A copy of the service as a process: what a warm copy hands over (see LocalRuntime.warm)."""

    proc: subprocess.Popen[bytes]
    log: _LogFile
    pump: threading.Thread
    base_url: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRuntime(Runtime):
    name = "local"
    isolates = False

    def __init__(self, exercise: Any = None, console: Any = None, run_label: str = "") -> None:
        self.exercise, self.console, self.run_label = exercise, console, run_label
        self.notes: list[str] = [NOT_ISOLATED]
        self._tmp: Path | None = None
        self._app: Path | None = None
        self._info: DockerfileInfo | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: _LogFile | None = None
        self._pump: threading.Thread | None = None
        self._sampler: threading.Thread | None = None
        self._sampling = threading.Event()
        self._peak_mb: float | None = None
        self._known_pids: dict[int, int] = {}  # pid -> start time, for the kill
        self._final_log = ""
        self._spares: WarmPool[_Process] = WarmPool(self._launch_copy)
        self._copies = 0

    # -- prepare -----------------------------------------------------------------------
    def prepare(self, submission: Path) -> None:
        log.warning(NOT_ISOLATED)
        if self._tmp is not None:  # prepared before: start from a clean copy
            self.teardown()
        self._tmp = Path(tempfile.mkdtemp(prefix="shiftwork-local-"))
        self._app = self._tmp / "app"
        shutil.copytree(submission, self._app, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        (self._tmp / "home").mkdir()
        self._log = _LogFile(self._tmp / "service.log")
        dockerfile = self._app / "Dockerfile"
        if not dockerfile.is_file():
            raise RuntimeFailure("start_failed", "the submission has no Dockerfile, so there is no start command")
        info = parse_dockerfile(dockerfile.read_text(errors="replace"))
        if not info.argv():
            raise RuntimeFailure("start_failed", "the Dockerfile has no CMD or ENTRYPOINT")
        self._info = info
        self._replay_python_steps(info)

    def _replay_python_steps(self, info: DockerfileInfo) -> None:
        """Run plain `RUN python ...` steps (e.g. training) the image would have run; skip the rest."""
        timeout = float(getattr(getattr(self.exercise, "limits", None), "build_timeout_s", 600.0))
        for step in info.runs:
            argv = python_run_step(step)
            if argv is None:
                log.info("local runtime skips build step: RUN %s", step[:120])
                continue
            try:
                done = subprocess.run(argv, cwd=self._cwd(), env=self._env(0), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      timeout=timeout, start_new_session=True)
            except subprocess.TimeoutExpired:
                raise RuntimeFailure("build_failed", f"build step `RUN {step[:80]}` ran past {timeout:g} s")
            if done.returncode != 0:
                tail = done.stdout[-4000:].decode("utf-8", "replace")
                raise RuntimeFailure("build_failed", f"build step `RUN {step[:80]}` exited with {done.returncode}",
                                     log_tail=tail)

    def _cwd(self) -> Path:
        assert self._app is not None and self._info is not None
        sub = self._info.app_subdir()
        if sub and (self._app / sub).is_dir():
            return self._app / sub
        return self._app

    def _env(self, port: int) -> dict[str, str]:
        # A clean environment: the grader's secret and credentials must not reach the service.
        assert self._tmp is not None and self._info is not None
        # Paths inside the image's WORKDIR (e.g. MODEL_DIR=/app/model) point into the local copy instead.
        workdir, cwd = self._info.workdir.rstrip("/"), str(self._cwd())
        env = {k: cwd + v[len(workdir):] if workdir and (v == workdir or v.startswith(workdir + "/")) else v
               for k, v in self._info.env.items()}
        env.update({
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self._tmp / "home"), "TMPDIR": str(self._tmp),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "HOST": "127.0.0.1", "PORT": str(port),
        })
        return env

    def _service_env(self, port: int) -> dict[str, str]:
        # The caps docker gives the service (not its build steps), so that a local self-check
        # times the service the way grading will.
        cpus = getattr(getattr(self.exercise, "limits", None), "cpus", Limits().cpus)
        return {**self._env(port), **thread_env(cpus)}

    # -- start / stop ------------------------------------------------------------------
    def _spawn(self) -> tuple[subprocess.Popen[bytes], _LogFile, threading.Thread, str]:
        """Start one copy of the service on a free loopback port, its output pumped to its own log."""
        assert self._info is not None and self._tmp is not None
        port = free_port()
        argv = local_argv(self._info.argv() or [], "127.0.0.1", port)
        log.info("local runtime starts %s in %s", argv, self._cwd())
        self._copies += 1
        out = _LogFile(self._tmp / f"service-{self._copies}.log")
        try:
            proc = subprocess.Popen(argv, cwd=self._cwd(), env=self._service_env(port), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise RuntimeFailure("start_failed", f"cannot run {argv[0]!r}: {exc.strerror or exc}")
        pump = threading.Thread(target=out.pump, args=(proc.stdout,), daemon=True)
        pump.start()
        return proc, out, pump, f"http://127.0.0.1:{port}"

    def start(self, startup_budget_s: float) -> StartInfo:
        if self._info is None or self._log is None:
            raise RuntimeError("prepare() must succeed before start()")
        if self._proc is not None and self._proc.poll() is None:
            self._stop()  # never two copies of the service serving at once
        began = time.monotonic()
        self._proc, self._log, self._pump, base_url = self._spawn()
        self._start_sampler()
        _wait_ready(self._proc, self._log, self._pump, base_url, began, startup_budget_s)
        return StartInfo(base_url=base_url, ready_s=time.monotonic() - began, notes=list(self.notes))

    # -- a fresh copy started ahead of time ----------------------------------------------
    def warm(self, startup_budget_s: float, copies: int = 1) -> None:
        """Start fresh copies now, in the background, so `fresh()` need not wait for a cold start.

        `copies` are kept starting: a scenario often replays in less time than a cold start takes.
        """
        if self._info is not None:
            self._spares.fill(copies, startup_budget_s)

    def _launch_copy(self, copy: Copy[_Process], startup_budget_s: float) -> StartInfo:
        proc, out, pump, base_url = self._spawn()
        copy.handle = _Process(proc, out, pump, base_url)
        _wait_ready(proc, out, pump, base_url, copy.began, startup_budget_s)
        return StartInfo(base_url=base_url, ready_s=time.monotonic() - copy.began, notes=list(self.notes))

    def settle(self, timeout_s: float) -> None:
        self._spares.settle(timeout_s)

    def fresh(self, startup_budget_s: float) -> StartInfo:
        """Replace the service with a fresh copy: the warm one if there is one, else a restart."""
        spare = self._spares.take()
        if spare is None:
            return self.restart(startup_budget_s)
        spare.wait(startup_budget_s, grace_s=5)
        copy = spare.handle
        if spare.info is None or copy is None:
            if copy is not None:
                _kill_session(copy.proc, {}, copy.pump)
            if isinstance(spare.error, RuntimeFailure):
                raise spare.error
            raise RuntimeFailure("start_failed", f"not ready after {startup_budget_s:g} s",
                                 log_tail=copy.log.tail(4000) if copy is not None else "")
        self._stop()
        self._proc, self._log, self._pump = copy.proc, copy.log, copy.pump
        self._known_pids = {}
        self._start_sampler()
        return spare.info

    def _pump_join(self) -> None:
        if self._pump is not None:
            self._pump.join(timeout=1.0)

    def _start_sampler(self) -> None:
        self._sampling.clear()

        def sample() -> None:
            while not self._sampling.wait(0.5):
                self._sample_once()

        self._sample_once()
        self._sampler = threading.Thread(target=sample, daemon=True)
        self._sampler.start()

    def _sample_once(self) -> float | None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        pids = session_pids(proc.pid)
        self._known_pids.update(pids)
        mb = tree_rss_mb(pids)
        if mb is not None and (self._peak_mb is None or mb > self._peak_mb):
            self._peak_mb = mb
        return mb

    def _stop(self) -> None:
        """SIGTERM the whole session, a grace period, then SIGKILL whatever is left."""
        self._sampling.set()
        proc = self._proc
        if proc is None:
            return
        _kill_session(proc, self._known_pids, self._pump)

    def restart(self, startup_budget_s: float) -> StartInfo:
        self._stop()
        return self.start(startup_budget_s)

    def state(self) -> ServiceState:
        proc = self._proc
        if proc is None:
            return ServiceState(running=False)
        code = proc.poll()
        if code is None:
            return ServiceState(running=True, memory_mb=self._sample_once())
        return ServiceState(running=False, exit_code=code)

    def peak_memory_mb(self) -> float | None:
        return self._peak_mb

    def logs(self, max_bytes: int = 20_000) -> str:
        if self._log is not None:
            return self._log.tail(max_bytes)
        return self._final_log[-max_bytes:]

    def teardown(self) -> None:
        try:
            self._stop()
            for spare in self._spares.drain(join_s=5.0):
                if spare.handle is not None:
                    _kill_session(spare.handle.proc, {}, spare.handle.pump)
        except Exception:  # teardown never raises
            log.exception("local runtime: stopping the service failed")
        if self._log is not None:
            self._final_log = self._log.tail(LOG_CAP)
            self._log = None
        self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _wait_ready(proc: subprocess.Popen[bytes], out: _LogFile, pump: threading.Thread, base_url: str,
                began: float, budget: float) -> None:
    """Poll GET /health until it answers {"status": "ok"}; RuntimeFailure if the process dies or time runs out."""
    deadline = began + budget
    last = "no answer yet"
    with ServiceClient(base_url, timeout_s=2.0, max_bytes=64_000, max_connections=1) as client:
        while True:
            code = proc.poll()
            if code is not None:
                pump.join(timeout=1.0)
                raise RuntimeFailure("start_failed", f"the service exited with code {code} before it was ready",
                                     log_tail=out.tail(4000))
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeFailure("start_failed", f"not ready after {budget:g} s (GET /health: {last})",
                                     log_tail=out.tail(4000))
            reply = client.get("/health", timeout_s=min(2.0, left))
            if reply.ok and isinstance(reply.data, dict) and reply.data.get("status") == "ok":
                return
            last = reply.detail or f"HTTP {reply.status_code} {reply.excerpt(80)!r}"
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _kill_session(proc: subprocess.Popen[bytes], known: dict[int, int], pump: threading.Thread | None = None) -> None:
    """SIGTERM a service's whole session, a grace period, then SIGKILL whatever is left."""
    pids = {**known, **session_pids(proc.pid)}
    if proc.poll() is None:
        signal_pids(proc.pid, pids, signal.SIGTERM)
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    # Children may outlive (or ignore) the TERM: kill every member of the session.
    signal_pids(proc.pid, {**pids, **session_pids(proc.pid)}, signal.SIGKILL)
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        log.error("process %d did not die after SIGKILL", proc.pid)
    deadline = time.monotonic() + 2.0
    while session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pump is not None:
        pump.join(timeout=1.0)  # drain what it printed last before the pipe closes
    if proc.stdout is not None:
        proc.stdout.close()
