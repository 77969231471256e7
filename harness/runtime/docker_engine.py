"""Talking to the Docker engine: clients, wall-clock-bounded calls, run labels and the sweep.

docker-py timeouts are per read, so every call goes through `bounded()`, a real
wall-clock deadline. Everything a run makes is labelled `shiftwork.run=<label>`;
`sweep()` removes by label what a run (or a grader that was killed) left behind.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, TypeVar

from grader.errors import DockerCallTimeout  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

LABEL_RUN = "shiftwork.run"
LABEL_ROLE = "shiftwork.role"
LABEL_CREATED = "shiftwork.created"
CALL_TIMEOUT_S = 60.0  # one docker call (create, start, inspect, ...)
SWEEP_AFTER_S = 3600.0  # leftovers older than this belong to a grader that died
LOG_TAIL_CHARS = 4000
T = TypeVar("T")


def bounded(fn: Callable[..., T], *args: Any, timeout_s: float = CALL_TIMEOUT_S, what: str = "docker call", **kwargs: Any) -> T:
    """Run fn with a wall-clock deadline (the thread is abandoned if it overruns)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"bounded:{what}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise DockerCallTimeout(f"{what} did not return within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def docker_client(timeout: int = 30) -> Any:
    import docker

    return docker.from_env(timeout=timeout)


def docker_available() -> bool:
    """Does a Docker engine answer here, within a few seconds?"""
    try:
        client = bounded(docker_client, 5, timeout_s=8, what="connect")
        bounded(client.ping, timeout_s=8, what="ping")
        client.close()
        return True
    except Exception:
        return False


def run_labels(run_label: str, role: str) -> dict[str, str]:
    """The labels of everything a run makes (the sweep finds things by them)."""
    return {LABEL_RUN: run_label, LABEL_ROLE: role, LABEL_CREATED: str(int(time.time()))}


def _age_s(labels: dict[str, str] | None, now: float) -> float:
    try:
        return now - float((labels or {}).get(LABEL_CREATED, "0"))
    except ValueError:
        return now


def sweep(client: Any, older_than_s: float = SWEEP_AFTER_S, run_label: str | None = None,
          kinds: tuple[str, ...] = ("container", "network", "image")) -> int:
    """Remove containers, networks and images labelled by shiftwork runs; returns how many.

    With run_label: that run's things, whatever their age. Without: every run's things
    older than older_than_s (a grader running now is younger). Never raises.
    """
    flt = {"label": f"{LABEL_RUN}={run_label}" if run_label else LABEL_RUN}
    now, removed = time.time(), 0
    steps: list[tuple[str, Callable[[], list[Any]], Callable[[Any], None]]] = [
        ("container", lambda: client.containers.list(all=True, filters=flt), lambda c: c.remove(force=True, v=True)),
        ("network", lambda: client.networks.list(filters=flt), lambda n: n.remove()),
        ("image", lambda: client.images.list(filters=flt), lambda i: client.images.remove(i.id, force=True)),
    ]
    for kind, lister, remover in steps:
        if kind not in kinds:
            continue
        try:
            items = bounded(lister, what=f"list {kind}s")
        except Exception as exc:
            log.warning("sweep: cannot list %ss: %s", kind, exc)
            continue
        for item in items:
            labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
            if run_label is None and _age_s(labels, now) < older_than_s:
                continue
            try:
                bounded(remover, item, what=f"remove {kind}")
                removed += 1
            except Exception as exc:
                log.debug("sweep: %s %s: %s", kind, getattr(item, "id", "?"), exc)
    return removed
