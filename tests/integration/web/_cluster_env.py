"""Several grading workers as separate hosts: network namespaces, a dedicated redis-server, PostgreSQL.

Topology (all made here, removed after):

    root namespace (the app: this test process)   redis-server 127.0.0.1:<port>, PostgreSQL 127.0.0.1:5432
        │  forwards (sockets listening inside the hub namespace, connecting out in the root one)
    hub namespace: bridge br0 10.213.N.1/24   ← where workers find the broker and the database
        ├─ veth ─ worker namespace 1: 10.213.N.11   `shiftwork worker --data W1`
        └─ veth ─ worker namespace 2: 10.213.N.12   `shiftwork worker --data W2`

The broker and database addresses live in the hub namespace, not on the host: a candidate's
container on a run network reaches every address of the host's own namespace through its
gateway, so an address there would fail the workers' gateway check (and rightly so). The
workers reach the Docker engine through /var/run/docker.sock, a unix socket, which network
namespaces do not separate. Each worker has its own working folder; uploads and reports are
on the storage root they share with the app (SHIFTWORK_STORAGE_DIR).

Without `ip netns` (not root, no iproute2) the workers run as plain processes on 127.0.0.1.
"""
from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from _queue_env import pipe

SHIFTWORK = Path(sys.executable).parent / "shiftwork"
CLONE_NEWNET = 0x40000000
REDIS_ENV = "SHIFTWORK_REQUIRE_REDIS"


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=check)


def netns_available() -> str:
    """'' when network namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2)"
    name = f"swprobe{os.getpid() % 100000}"
    got = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=30)
    if got.returncode != 0:
        return f"ip netns add: {got.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
    return ""


def _in_netns(ns: str, fn: Any) -> Any:
    """Run fn() on a fresh thread switched into namespace `ns` (setns moves only the calling thread);
    sockets it makes stay in that namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, Any] = {}

    def run() -> None:
        fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns {ns}: {os.strerror(err)}")
        finally:
            os.close(fd)
        box["value"] = fn()

    def guarded() -> None:
        try:
            run()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    t = threading.Thread(target=guarded, daemon=True)
    t.start()
    t.join(30)
    if "error" in box:
        raise box["error"]
    return box["value"]


class Forward:
    """TCP from (listen_host, port) in namespace `ns` (None: this one) to 127.0.0.1:target_port here."""

    def __init__(self, ns: str | None, listen_host: str, port: int, target_port: int) -> None:
        self.target_port = target_port
        self.conns: list[socket.socket] = []
        self._lock = threading.Lock()

        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((listen_host, port))
            s.listen(128)
            return s

        self.server = _in_netns(ns, make) if ns else make()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                a, _ = self.server.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                b.settimeout(None)
            except OSError:
                a.close()  # the server behind is down: the client sees its connection closed
                continue
            with self._lock:
                self.conns += [a, b]
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=pipe, args=(src, dst), daemon=True).start()

    def close(self) -> None:
        self.server.close()
        with self._lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
            self.conns = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own (never the shared one on 6379), stoppable and restartable."""

    def __init__(self, folder: Path, bind: str = "127.0.0.1", port: int | None = None) -> None:
        self.folder, self.bind, self.port = folder, bind, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://{self.bind}:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            miss = pytest.fail if os.environ.get(REDIS_ENV) == "1" else pytest.skip
            miss("no redis-server on this machine (apt-get install redis-server)")
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen([exe, "--bind", self.bind, "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "no"],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                redis.Redis(host=self.bind, port=self.port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                assert self.proc.poll() is None, (self.folder / "redis.log").read_text()[-2000:]
                time.sleep(0.2)
        raise AssertionError(f"redis-server on {self.bind}:{self.port} did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def client(self) -> Any:
        import redis

        return redis.Redis(host=self.bind, port=self.port, socket_connect_timeout=2)


@dataclass
class Topology:
    """The hub namespace and one namespace per worker (or nothing at all, on 127.0.0.1)."""

    tag: str
    use_netns: bool
    subnet: int = 0
    workers: list[str] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)

    @property
    def hub(self) -> str:
        return f"{self.tag}hub"

    @property
    def hub_addr(self) -> str:
        return f"10.213.{self.subnet}.1" if self.use_netns else "127.0.0.1"

    @property
    def engine_net(self) -> str:
        return f"10.215.{self.subnet}.0/24"

    def _engine_rules(self, op: str) -> None:
        """The engine links may reach run networks' containers (the grader talks HTTP to its service), and
        get their answers; a container still cannot open a connection towards any worker or the hub."""
        rules = [["-s", self.engine_net, "-o", "br-+", "-j", "ACCEPT"],
                 ["-d", self.engine_net, "-i", "br-+", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                  "-j", "ACCEPT"]]
        for rule in rules:
            subprocess.run(["iptables", op, "DOCKER-USER", *(["1"] if op == "-I" else []), *rule],
                           capture_output=True, text=True, timeout=30, check=op == "-I")

    def create(self) -> None:
        if not self.use_netns:
            return
        used = _ip("-4", "-o", "addr").stdout
        free = [n for n in range(20, 250) if f" 10.213.{n}." not in used and f" 10.215.{n}." not in used]
        self.subnet = random.choice(free)
        self._engine_rules("-I")
        _ip("netns", "add", self.hub)
        _ip("link", "set", "lo", "up", ns=self.hub)
        _ip("link", "add", "br0", "type", "bridge", ns=self.hub)
        _ip("addr", "add", f"{self.hub_addr}/24", "dev", "br0", ns=self.hub)
        _ip("link", "set", "br0", "up", ns=self.hub)

    def add_worker_host(self) -> tuple[str | None, str]:
        """A namespace for one more worker, wired to the hub; (namespace, its address)."""
        if not self.use_netns:
            return None, "127.0.0.1"
        i = len(self.workers) + 1
        ns, here, there, addr = f"{self.tag}w{i}", f"{self.tag}h{i}", f"{self.tag}n{i}", f"10.213.{self.subnet}.{10 + i}"
        _ip("netns", "add", ns)
        self.workers.append(ns)
        _ip("link", "add", here, "type", "veth", "peer", "name", there)
        _ip("link", "set", here, "netns", self.hub)
        _ip("link", "set", there, "netns", ns)
        _ip("link", "set", here, "master", "br0", ns=self.hub)
        _ip("link", "set", here, "up", ns=self.hub)
        _ip("addr", "add", f"{addr}/24", "dev", there, ns=ns)
        _ip("link", "set", there, "up", ns=ns)
        _ip("link", "set", "lo", "up", ns=ns)
        # The engine link: this "host" runs its candidates' containers on the Docker engine, whose bridges
        # live in the root namespace; the grader reaches its service there, nothing else goes this way.
        root_end, ns_end = f"{self.tag}e{i}", f"{self.tag}f{i}"
        a, b = f"10.215.{self.subnet}.{4 * i + 1}", f"10.215.{self.subnet}.{4 * i + 2}"
        _ip("link", "add", root_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", ns)
        _ip("addr", "add", f"{a}/30", "dev", root_end)
        _ip("link", "set", root_end, "up")
        _ip("addr", "add", f"{b}/30", "dev", ns_end, ns=ns)
        _ip("link", "set", ns_end, "up", ns=ns)
        for pool in ("172.16.0.0/12", "192.168.0.0/16"):  # Docker's default address pools
            _ip("route", "add", pool, "via", a, ns=ns)
        return ns, addr

    def expose(self, port: int) -> int:
        """Make 127.0.0.1:port of this namespace reachable at hub_addr:port; returns the port to use."""
        if not self.use_netns:
            return port
        self.forwards.append(Forward(self.hub, self.hub_addr, port, port))
        return port

    def destroy(self) -> None:
        for f in self.forwards:
            f.close()
        self.forwards = []
        if not self.use_netns:
            return
        for ns in [*self.workers, self.hub]:  # deleting a namespace deletes its veth ends and bridge
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.workers = []
        self._engine_rules("-D")


def new_topology() -> Topology:
    why = netns_available()
    if why:
        print(f"network namespaces unavailable ({why}): workers run as processes on 127.0.0.1")
    return Topology(tag=f"sw{random.randrange(16**4):04x}", use_netns=not why)


@dataclass
class ClusterWorker:
    name: str
    ns: str | None
    data: Path
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [str(SHIFTWORK), "worker", "--data", str(self.data), "--name", self.name]
        if self.ns:
            cmd = ["ip", "netns", "exec", self.ns, *cmd]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self) -> None:
        """The whole worker, at once: the supervisor, its worker process and the grading child."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""


def worker_env(*, broker: str, database: str, storage: Path, secret: str, scenarios: str, lease_s: float,
               heartbeat_s: float, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_") or k.startswith("SHIFTWORK_REQUIRE")}
    env.update(SHIFTWORK_BROKER_URL=broker, SHIFTWORK_DATABASE_URL=database, SHIFTWORK_STORAGE_DIR=str(storage),
               SHIFTWORK_SECRET=secret, SHIFTWORK_GRADE_SCENARIOS=scenarios, SHIFTWORK_LEASE_S=str(lease_s),
               SHIFTWORK_HEARTBEAT_S=str(heartbeat_s), PYTHONUNBUFFERED="1", **extra)
    return env


def short_tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="swc-", dir="/tmp"))
