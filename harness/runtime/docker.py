"""The docker runtime: build and run one untrusted submission with no way out.

Build: a capped copy of the submission, a Dockerfile policy check (no remote ADD, no
image that is not local), `network_mode="none"`, memory limits and a wall-clock
deadline that kills the build's RUN container. Run: a bridge network made for this run
with `internal=True` and inter-container traffic off; the grader reaches the service at
its address on that network. cap_drop ALL, no-new-privileges, nobody:nogroup, read-only
root with a small /tmp, memory = swap, CPU, pids, ulimits, a capped json log, an init,
and native thread pools capped at the CPU limit (harness/runtime/threads.py).

docker-py timeouts are per read, so every call here goes through `bounded()`, a real
wall-clock deadline. Everything made is labelled `shiftwork.run=<label>`; teardown
removes it by handle and then by label, and `sweep()` clears what killed graders left.

The build lives in docker_build.py; bounded calls, labels and the sweep in docker_engine.py.
This module runs the service: network, locked-down container, readiness, state, teardown.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

from grader.errors import RuntimeUnavailable
from grader.exercise import Exercise
from grader.runtime import Runtime, RuntimeFailure, ServiceState, StartInfo
from harness.runtime.docker_build import build_submission
from harness.runtime.docker_engine import (  # noqa: F401  (re-exported: callers import them from here)
    CALL_TIMEOUT_S,
    LABEL_CREATED,
    LABEL_ROLE,
    LABEL_RUN,
    LOG_TAIL_CHARS,
    SWEEP_AFTER_S,
    DockerCallTimeout,
    bounded,
    docker_available,
    docker_client,
    run_labels,
    sweep,
)
from harness.runtime.images import base_image_for_build
from harness.runtime.threads import thread_env
from harness.runtime.warm import Copy, WarmPool

log = logging.getLogger(__name__)

PORT = 8000
STOP_TIMEOUT_S = 3  # SIGTERM grace on restart before SIGKILL
# A copy warming up ahead of its scenario only gets CPU the service being replayed leaves idle
# (shares are relative weights, used only under contention): otherwise its cold start slows
# every answer of the scenario being measured. It gets the normal weight when swapped in.
CPU_SHARES, SPARE_CPU_SHARES = 1024, 32
_swept = False


def _hex_addr(addr_hex: str) -> str:
    raw = bytes.fromhex(addr_hex)
    if len(raw) == 4:
        return ".".join(str(b) for b in raw[::-1])  # /proc/net/tcp: little-endian
    words = [raw[i:i + 4][::-1].hex() for i in range(0, 16, 4)]
    if words[:3] == ["00000000", "00000000", "0000ffff"]:
        return ".".join(str(b) for b in bytes.fromhex(words[3]))
    return "::1" if raw == bytes(15) + b"\1" else ("::" if raw == bytes(16) else ":".join(words))


def listening_hint(pid: int, port: int) -> str:
    """What the container listens on, read from the host's /proc (no traffic); '' if unknown."""
    found: set[tuple[str, int]] = set()
    for name in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:] if pid else []
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 3 and cols[3] == "0A":  # LISTEN
                addr_hex, port_hex = cols[1].split(":")
                addr = _hex_addr(addr_hex)
                if addr != "127.0.0.11":  # Docker's embedded DNS, not the candidate's
                    found.add((addr, int(port_hex, 16)))
    if not found:
        return "nothing listens on any TCP port" if pid else ""
    where = ", ".join(f"{a}:{p}" for a, p in sorted(found))
    if any(p == port and a not in ("127.0.0.1", "::1") for a, p in found):
        return f"it listens on {where} but /health did not answer 200"
    return f"it listens on {where}, not on 0.0.0.0:{port}"


def _safe_name(label: str) -> str:
    return re.sub(r"[^a-z0-9_.-]", "-", label.lower()).strip("-.")[:60] or "run"


class DockerRuntime(Runtime):
    name = "docker"
    isolates = True

    def __init__(self, exercise: Exercise, console: Any = None, run_label: str | None = None, *,
                 base_image: str | None = None, build_network: bool = False, keep_image: bool = False) -> None:
        self.exercise = exercise
        self.limits = exercise.limits
        self.console = console
        self.run_label = run_label or f"sw-{uuid.uuid4().hex[:12]}"
        self.slug = f"{_safe_name(self.run_label)}-{uuid.uuid4().hex[:6]}"
        self.base_image = base_image
        self.build_network = build_network
        self.keep_image = keep_image
        self.image_id: str | None = None
        self.container: Any = None
        self.network: Any = None
        self.base_url: str | None = None
        self._client: Any = None
        self._peak_mb: float | None = None
        self._last_mb: float | None = None  # the current copy's latest memory sample
        self._sampling: threading.Thread | None = None
        self._spares: WarmPool[Any] = WarmPool(self._launch_copy, name="warm-container")
        self._copies = 0
        self._copy_lock = threading.Lock()
        self._closing = False  # set by teardown: no warm copy starts after it
        self._background: list[threading.Thread] = []  # containers being removed

    # -- plumbing -------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = bounded(docker_client, what="connect")
                bounded(self._client.ping, timeout_s=10, what="ping")
            except Exception as exc:
                self._client = None
                raise RuntimeUnavailable(f"no Docker engine answers: {exc}") from exc
        return self._client

    def _say(self, msg: str) -> None:
        log.info(msg)
        if self.console is not None:
            self.console.print(msg, highlight=False)

    # -- build ----------------------------------------------------------------------------
    def prepare(self, submission: Path) -> None:
        global _swept
        self._closing = False  # a runtime prepared again after a teardown starts copies again
        if not _swept:  # once per process: clear what graders killed mid-run left behind
            _swept = True
            n = sweep(self.client, older_than_s=SWEEP_AFTER_S)
            if n:
                self._say(f"removed {n} leftovers of earlier grading runs")
        submission = Path(submission)
        if not (submission / "Dockerfile").is_file():
            raise RuntimeFailure("build_failed", "no Dockerfile at the top of the submission")
        base = self.base_image
        if base is None:
            base = base_image_for_build(self.build_network, client=self.client)
        if base is None:
            raise RuntimeUnavailable("no base image here: neither python:3.11-slim nor shiftwork/base:py311 "
                                     "is local (run `make base-image`, or `docker pull python:3.11-slim`)")
        self.image_id = build_submission(self.client, submission, base, self.limits, slug=self.slug,
                                         run_label=self.run_label, build_network=self.build_network, say=self._say)
        image = bounded(self.client.images.get, self.image_id, what="inspect image")
        size_mb = image.attrs.get("Size", 0) / 1e6
        if size_mb > self.limits.image_mb:
            self._remove_image()
            raise RuntimeFailure("build_failed", f"image is {size_mb:.0f} MB, over the {self.limits.image_mb} MB limit")

    def _remove_image(self) -> None:
        if self.image_id and not self.keep_image:
            try:
                bounded(self.client.images.remove, self.image_id, force=True, noprune=False, what="remove image")
            except Exception as exc:
                log.debug("image %s: %s", self.image_id, exc)
            self.image_id = None

    # -- run ------------------------------------------------------------------------------
    def _ensure_network(self) -> None:
        if self.network is None:
            self.network = bounded(
                self.client.networks.create, f"shiftwork-{self.slug}", driver="bridge", internal=True,
                check_duplicate=True, options={"com.docker.network.bridge.enable_icc": "false"},
                labels=run_labels(self.run_label, "network"), what="create network",
            )

    def _new_container(self, cpu_shares: int = CPU_SHARES) -> Any:
        """One locked-down copy of the service on the run's internal network (not started)."""
        import docker.types

        lim = self.limits
        mb = 2**20
        self._copies += 1
        name = f"shiftwork-{self.slug}" + (f"-{self._copies}" if self._copies > 1 else "")
        return bounded(
            self.client.containers.create, self.image_id, name=name, detach=True,
            network=self.network.name, hostname="candidate",
            cap_drop=["ALL"], security_opt=["no-new-privileges"], user="65534:65534",
            read_only=True, tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={lim.tmpfs_mb}m"},
            mem_limit=lim.memory_mb * mb, memswap_limit=lim.memory_mb * mb,
            nano_cpus=int(lim.cpus * 1e9), cpu_shares=cpu_shares, pids_limit=lim.pids,
            ulimits=[
                docker.types.Ulimit(name="nofile", soft=lim.nofile, hard=lim.nofile),
                docker.types.Ulimit(name="core", soft=0, hard=0),
                docker.types.Ulimit(name="fsize", soft=max(lim.tmpfs_mb, 64) * mb, hard=max(lim.tmpfs_mb, 64) * mb),
            ],
            log_config=docker.types.LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
            init=True, environment={"PORT": str(PORT), "HOME": "/tmp", **thread_env(lim.cpus)},
            labels=run_labels(self.run_label, "service"),
            what="create container",
        )

    def start(self, startup_budget_s: float) -> StartInfo:
        if self.image_id is None:
            raise RuntimeError("start() before a successful prepare()")
        if self.container is None:
            self._ensure_network()
            with self._copy_lock:
                self.container = self._new_container()
        bounded(self.container.start, what="start container")
        return self._wait_ready(startup_budget_s)

    def _attrs(self, container: Any = None) -> dict[str, Any]:
        c = container or self.container
        bounded(c.reload, what="inspect container")
        return c.attrs

    def _wait_ready(self, budget_s: float, container: Any = None, began: float | None = None) -> StartInfo:
        """Until /health answers 200 on `container` (the current one by default); sets base_url for the current."""
        c = container or self.container
        t0 = time.monotonic() if began is None else began
        deadline = t0 + budget_s
        base_url = None
        if c is self.container:
            self.base_url = None
        while True:
            attrs = self._attrs(c)
            st = attrs["State"]
            if not st.get("Running"):
                self._raise_exited(st, before_ready=True, container=c)
            if base_url is None:
                ip = (attrs["NetworkSettings"]["Networks"].get(self.network.name) or {}).get("IPAddress")
                if ip:
                    base_url = f"http://{ip}:{PORT}"
                    if c is self.container:
                        self.base_url = base_url
            if base_url and self._health_ok(min(2.0, max(0.2, deadline - time.monotonic())), base_url):
                return StartInfo(base_url=base_url, ready_s=time.monotonic() - t0,
                                 notes=["docker: internal network, read-only root, non-root user"])
            if time.monotonic() >= deadline:
                hint = listening_hint(st.get("Pid") or 0, PORT)
                raise RuntimeFailure(
                    "start_failed",
                    f"no 200 from GET /health on port {PORT} within {budget_s:g} s"
                    + (f" ({hint})" if hint else " (the service must listen on 0.0.0.0:$PORT, PORT=8000)"),
                    log_tail=self.logs(LOG_TAIL_CHARS, container=c),
                )
            time.sleep(0.25)

    def _health_ok(self, timeout_s: float, base_url: str) -> bool:
        def probe() -> bool:
            with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as http:
                with http.stream("GET", f"{base_url}/health") as resp:
                    return resp.status_code == 200  # the body is never read: it may be endless

        try:
            return bounded(probe, timeout_s=timeout_s + 1, what="health probe")
        except Exception:
            return False

    def _raise_exited(self, st: dict[str, Any], before_ready: bool, container: Any = None) -> None:
        code = st.get("ExitCode")
        tail = self.logs(LOG_TAIL_CHARS, container=container)
        if st.get("OOMKilled"):
            raise RuntimeFailure("crashed", f"killed for using more than its {self.limits.memory_mb} MB memory limit "
                                            f"(exit code {code})", log_tail=tail)
        when = "before /health answered" if before_ready else "while running"
        raise RuntimeFailure("start_failed" if before_ready else "crashed", f"the service exited with code {code} {when}",
                             log_tail=tail)

    def state(self) -> ServiceState:
        if self.container is None:
            return ServiceState(running=False)
        try:
            st = self._attrs()["State"]
        except Exception as exc:
            log.debug("state: %s", exc)
            return ServiceState(running=False)
        if st.get("Running"):
            self._sample_in_background()
        return ServiceState(running=bool(st.get("Running")), exit_code=None if st.get("Running") else st.get("ExitCode"),
                            oom_killed=bool(st.get("OOMKilled")), memory_mb=self._last_mb)

    def _sample_in_background(self) -> None:
        """A memory sample without waiting for it: the engine answers a stats call only at its next
        one-second collection tick, and a state query must not hold the replay for that."""
        if self._sampling is not None and self._sampling.is_alive():
            return
        container = self.container
        self._sampling = threading.Thread(target=lambda: self._sample_memory(container), daemon=True,
                                          name="memory-sample")
        self._background.append(self._sampling)
        self._sampling.start()

    def _sample_memory(self, container: Any = None) -> float | None:
        c = container or self.container
        try:
            stats = bounded(c.stats, stream=False, one_shot=True, timeout_s=10, what="stats")
        except Exception as exc:
            log.debug("stats: %s", exc)
            return None
        ms = stats.get("memory_stats") or {}
        usage = ms.get("usage")
        if usage is None:
            return None
        inner = ms.get("stats") or {}
        cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
        current = max(0.0, (usage - cache) / 2**20)
        peak = max(current, (ms.get("max_usage") or 0) / 2**20)  # max_usage: cgroup v1 only
        self._peak_mb = max(self._peak_mb or 0.0, peak)
        if c is self.container:
            self._last_mb = current
        return current

    def peak_memory_mb(self) -> float | None:
        if self._sampling is not None and self._sampling.is_alive():
            self._sampling.join(timeout=12)  # a sample of the current copy is on its way: that one
        elif self.container is not None:
            self._sample_memory()
        return self._peak_mb

    def restart(self, startup_budget_s: float) -> StartInfo:
        if self.container is None:
            return self.start(startup_budget_s)
        try:
            bounded(self.container.stop, timeout=STOP_TIMEOUT_S, timeout_s=STOP_TIMEOUT_S + 15, what="stop container")
        except Exception as exc:
            log.debug("stop: %s", exc)
        if self._attrs()["State"].get("Running"):
            bounded(self.container.kill, what="kill container")
        bounded(self.container.start, what="start container")
        return self._wait_ready(startup_budget_s)

    # -- a fresh copy started ahead of time ----------------------------------------------
    def warm(self, startup_budget_s: float, copies: int = 1) -> None:
        """Create and start fresh containers now; a thread waits for each one's /health.

        `copies` are kept starting: a scenario often replays in less time than a cold start takes.
        """
        if self.image_id is None or copies <= len(self._spares):
            return
        self._ensure_network()
        self._spares.fill(copies, startup_budget_s)

    def _launch_copy(self, copy: Copy[Any], startup_budget_s: float) -> StartInfo:
        with self._copy_lock:
            if self._closing:  # teardown has begun: a container made now would outlive its sweep
                raise RuntimeFailure("start_failed", "the grading is over")
            copy.handle = self._new_container(cpu_shares=SPARE_CPU_SHARES)
        bounded(copy.handle.start, what="start container")
        return self._wait_ready(startup_budget_s, container=copy.handle, began=copy.began)

    def settle(self, timeout_s: float) -> None:
        self._spares.settle(timeout_s)

    def fresh(self, startup_budget_s: float) -> StartInfo:
        spare = self._spares.take()
        if spare is None:
            return self.restart(startup_budget_s)
        if spare.handle is not None:
            try:  # from now on it is the service being measured
                bounded(spare.handle.update, cpu_shares=CPU_SHARES, what="update container")
            except Exception as exc:
                log.debug("raising the fresh copy's CPU weight: %s", exc)
        spare.wait(startup_budget_s, grace_s=20)
        old = self.container
        if spare.handle is not None:
            self.container = spare.handle
        self._retire(old)
        if spare.info is None:
            err = spare.error
            if isinstance(err, RuntimeFailure):
                raise err
            raise RuntimeFailure("start_failed", f"the fresh copy did not become ready: {err or 'no answer'}",
                                 log_tail=self.logs(LOG_TAIL_CHARS))
        self.base_url = spare.info.base_url
        return spare.info

    def _retire(self, container: Any) -> None:
        """Remove a replaced container in the background (its memory sampled first)."""
        if container is None:
            return

        def work() -> None:
            try:
                self._sample_memory(container)
                bounded(lambda: container.remove(force=True, v=True), what="remove container")
            except Exception as exc:
                log.debug("remove container: %s", exc)

        t = threading.Thread(target=work, daemon=True, name="retire-container")
        self._background.append(t)
        t.start()

    def logs(self, max_bytes: int = 20_000, container: Any = None) -> str:
        c = container or self.container
        if c is None:
            return ""
        try:
            raw = bounded(c.logs, stdout=True, stderr=True, tail=400, timeout_s=15, what="logs")
        except Exception as exc:
            return f"(logs unavailable: {exc})"
        return raw[-max_bytes:].decode("utf-8", errors="replace")

    def teardown(self) -> None:
        if self._client is None:
            return
        steps: list[tuple[str, Callable[[], Any]]] = []
        # No warm copy is created from here on; one being created now finishes first (it holds the lock), so
        # every container that exists is known below: nothing may appear after the sweep.
        with self._copy_lock:
            self._closing = True
        spares = self._spares.drain(join_s=CALL_TIMEOUT_S * 2)
        for t in self._background:
            t.join(timeout=CALL_TIMEOUT_S * 2)
        self._background = []
        for spare in spares:
            if spare.handle is not None:
                steps.append(("remove warm container", lambda c=spare.handle: c.remove(force=True, v=True)))
        if self.container is not None:
            steps.append(("remove container", lambda: self.container.remove(force=True, v=True)))
        if self.network is not None:
            steps.append(("remove network", lambda: self.network.remove()))
        for what, fn in steps:
            try:
                bounded(fn, what=what)
            except Exception as exc:
                log.warning("teardown: %s: %s", what, exc)
        self.container = self.network = None
        self._remove_image()
        kinds = ("container", "network") if self.keep_image else ("container", "network", "image")
        sweep(self._client, run_label=self.run_label, kinds=kinds)
