"""The gateway rule, checked by every worker before it takes work: candidates' containers must not
reach the broker, the database or the app.

A run network is an `internal` bridge (harness.runtime.docker), but internal only stops
forwarding: the container still has the host as its gateway, and every address local to
the host (the gateway itself, any other interface's address) answers from that bridge.
So a broker bound to the worker's LAN address, or to 0.0.0.0, is one connect() away from
a candidate's service. Nothing on paper says whether that holds on this machine, so the
worker asks the engine: it makes a network the way a run does, starts a throwaway
container on it from the build base image (locked down as a service is), and tries each
target's host:port and the gateway at each target's port. Any connection that opens
means refusal, with the address named.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.runtime.docker_engine import bounded, docker_client, run_labels, sweep
from harness.runtime.images import base_image_for_build
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
CONTAINER_WAIT_S = 60.0
APP_URL_ENV = "SHIFTWORK_APP_URL"  # the web app's address as workers see it (default: the settings' public URL)

# Run inside the probe container: print, as JSON, which of the given (what, host, port) open.
_PROBE = """
import json, socket, sys
targets = json.loads(sys.argv[1])
gw = sys.argv[2]
out = []
for what, host, port in targets:
    for h in ([host] if host else []) + [gw]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(%(timeout)s)
        try:
            s.connect((h, port))
            out.append([what, h, port])
        except OSError:
            pass
        finally:
            s.close()
print(json.dumps(out))
""" % {"timeout": PROBE_TIMEOUT_S}


@dataclass(frozen=True)
class Target:
    what: str  # "broker", "database", "app"
    host: str  # "" when only the gateway at this port matters (the service is on loopback)
    port: int


@dataclass(frozen=True)
class GatewayCheck:
    problem: str  # "" when no container reached any target
    checked: tuple[Target, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problem


def _loopback(host: str) -> bool:
    try:
        return host in ("localhost", "") or socket.inet_aton(host)[0] == 127
    except OSError:
        return False


def _target(what: str, url: str, default_port: int) -> Target | None:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or default_port
    except ValueError:
        return None
    if not host or parts.scheme.startswith(("sqlite", "filesystem")) or "+socket" in parts.scheme:
        return None
    if not _loopback(host):
        try:  # the container has no resolver for our names: probe the address
            host = socket.gethostbyname(host)
        except OSError:
            pass
    return Target(what, "" if _loopback(host) else host, port)


def targets(settings: WebSettings, env: dict[str, str] | None = None) -> list[Target]:
    """What this worker talks to over TCP: the broker, the database, the app (when its URL is known)."""
    env = dict(os.environ) if env is None else env
    app_url = env.get(APP_URL_ENV) or settings.public_url
    found = [_target("broker", settings.broker_url, 6379), _target("database", settings.database_url, 5432),
             _target("app", app_url, 443 if app_url.startswith("https") else 80) if app_url else None]
    return [t for t in found if t is not None]


def check_gateway(settings: WebSettings, client: Any = None, env: dict[str, str] | None = None) -> GatewayCheck:
    """Start a container on a run-style network and try every target from it; GatewayCheck.problem says
    which ones it reached (or why it could not tell, which is also a refusal)."""
    wanted = targets(settings, env)
    if not wanted:
        return GatewayCheck("")  # the embedded broker and SQLite: nothing on the network to reach

    own = client is None
    client = client or bounded(docker_client, 30, timeout_s=10, what="connect")
    label = f"sw-gatecheck-{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        image = base_image_for_build(client=client)
        if image is None:
            return GatewayCheck("cannot check the gateway rule: no base image to start a probe container")
        net = bounded(client.networks.create, label, driver="bridge", internal=True, check_duplicate=True,
                      options={"com.docker.network.bridge.enable_icc": "false"},
                      labels=run_labels(label, "network"), what="create network")
        bounded(net.reload, what="inspect network")
        gateway = next((c.get("Gateway") for c in (net.attrs.get("IPAM") or {}).get("Config") or []
                        if c.get("Gateway")), "")
        if not gateway:
            return GatewayCheck("cannot check the gateway rule: the run network has no gateway address")
        payload = json.dumps([[t.what, t.host, t.port] for t in wanted])
        box = bounded(client.containers.create, image, ["python", "-c", _PROBE, payload, gateway], detach=True,
                      network=label, cap_drop=["ALL"], security_opt=["no-new-privileges"], user="65534:65534",
                      read_only=True, mem_limit=64 * 2**20, pids_limit=32, environment={"HOME": "/tmp"},
                      labels=run_labels(label, "service"), what="create probe container")
        bounded(box.start, what="start probe container")
        code = bounded(box.wait, timeout=CONTAINER_WAIT_S, timeout_s=CONTAINER_WAIT_S + 10, what="probe")
        out = bounded(box.logs, stdout=True, stderr=True, what="probe logs").decode(errors="replace").strip()
        if (code or {}).get("StatusCode") != 0:
            return GatewayCheck(f"cannot check the gateway rule: the probe container failed: {out[-300:]}")
        reached = json.loads(out.splitlines()[-1])
    except Exception as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        return GatewayCheck(f"cannot check the gateway rule: {text}")
    finally:
        try:
            sweep(client, run_label=label, kinds=("container", "network"))
        except Exception as exc:
            log.warning("gateway probe %s: %s", label, exc)
        if own:
            client.close()
    if reached:
        named = ", ".join(f"the {what} at {host}:{port}" for what, host, port in reached)
        return GatewayCheck(f"candidates' containers can reach {named} from a run network: bind those services "
                            "where a run network cannot reach them (another machine, loopback, or firewall "
                            "the Docker bridges)", tuple(wanted))
    log.info("gateway rule holds: a run network reaches none of %s (gateway %s)",
             ", ".join(f"{t.what} {t.host or gateway}:{t.port}" for t in wanted), gateway)
    return GatewayCheck("", tuple(wanted))
