"""Building one untrusted submission: a capped context copy, the policy check, a deadline.

The context is a fresh, capped copy of the submission; the Dockerfile policy refuses a
remote ADD and any image that is not local before Docker sees it. The build runs with
`network_mode="none"`, memory limits and a wall-clock deadline that kills the build's
RUN container. A failed build leaves no untagged layers behind.
"""
from __future__ import annotations

import collections
import logging
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from grader.exercise import Limits
from grader.runtime import RuntimeFailure
from harness.runtime.docker_engine import LOG_TAIL_CHARS, bounded, docker_client, run_labels
from harness.runtime.policy import PolicyViolation, check_dockerfile, copy_context

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def image_exists(client: Any, name: str) -> bool:
    import docker.errors

    try:
        bounded(client.images.get, name, what="inspect image")
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError:
        return False


def build_submission(client: Any, submission: Path, base: str, limits: Limits, *, slug: str, run_label: str,
                     build_network: bool, say: Callable[[str], None]) -> str:
    """Copy, check and build the submission; the image id. RuntimeFailure("build_failed") otherwise."""
    with tempfile.TemporaryDirectory(prefix="shiftwork-ctx-") as tmp:
        ctx = Path(tmp) / "context"
        try:
            files, size = copy_context(submission, ctx, limits.context_mb * 1_000_000, limits.context_files)
        except PolicyViolation as exc:
            raise RuntimeFailure("build_failed", str(exc)) from None
        buildargs = {"BASE_IMAGE": base}
        problems = check_dockerfile((ctx / "Dockerfile").read_text(errors="replace"), buildargs,
                                    lambda name: image_exists(client, name))
        if problems:
            raise RuntimeFailure("build_failed", "refused before building: " + "; ".join(problems))
        say(f"building {submission.name} ({files} files, {size / 1e6:.1f} MB, BASE_IMAGE={base})")
        return build_image(client, ctx, buildargs, limits, slug=slug, run_label=run_label,
                           build_network=build_network, say=say)


def build_image(client: Any, ctx: Path, buildargs: dict[str, str], limits: Limits, *, slug: str, run_label: str,
                build_network: bool, say: Callable[[str], None]) -> str:
    """`docker build` of ctx within limits.build_timeout_s of wall-clock time; the image id."""
    budget = limits.build_timeout_s
    mem = limits.build_memory_mb * 2**20
    tail: collections.deque[str] = collections.deque(maxlen=60)
    state: dict[str, Any] = {"running": set(), "layers": [], "image": None, "error": None, "done": False}
    # A client of its own, with a per-read timeout longer than the whole budget: the
    # deadline below is what stops a silent build, not a read timeout mid-step.
    build_client = docker_client(timeout=int(budget) + 60)

    def read() -> None:
        try:
            stream = build_client.api.build(
                path=str(ctx), tag=f"shiftwork-candidate:{slug}", network_mode="bridge" if build_network else "none",
                pull=False, rm=True, forcerm=True, buildargs=buildargs, labels=run_labels(run_label, "image"),
                container_limits={"memory": mem, "memswap": mem}, decode=True,
            )
            for chunk in stream:
                text = chunk.get("stream") or ""
                for line in _ANSI.sub("", text).splitlines():
                    line = line.rstrip()
                    if not line:
                        continue
                    tail.append(line[:500])
                    m = re.match(r"^\s*---> Running in ([0-9a-f]{12,64})", line)
                    if m:
                        state["running"].add(m.group(1))
                    m = re.match(r"^\s*---> ([0-9a-f]{12,64})$", line)
                    if m:
                        state["layers"].append(m.group(1))
                if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                    state["image"] = chunk["aux"]["ID"]
                if "error" in chunk:
                    state["error"] = str(chunk["error"]).strip()
        except Exception as exc:  # includes the connection closed by the deadline
            state["error"] = state["error"] or f"build stream broke: {exc}"
        finally:
            state["done"] = True

    t0 = time.monotonic()
    reader = threading.Thread(target=read, name=f"build:{slug}", daemon=True)
    reader.start()
    reader.join(budget)
    timed_out = reader.is_alive()
    if timed_out:
        # Killing the RUN step's container ends the legacy builder's step at once;
        # closing our connection makes dockerd cancel the rest of the build.
        for cid in list(state["running"]):
            try:
                bounded(client.api.remove_container, cid, force=True, what="remove build container")
            except Exception as exc:
                log.debug("build container %s: %s", cid, exc)
        reader.join(10)
        try:
            build_client.close()
        except Exception:
            pass
        reader.join(5)
    else:
        build_client.close()
    elapsed = time.monotonic() - t0
    log_tail = "\n".join(tail)[-LOG_TAIL_CHARS:]
    if timed_out or state["error"] or not state["image"]:
        remove_layers(client, state["layers"])
        if timed_out:
            reason = f"build did not finish within {budget:g} s (cancelled at the deadline)"
        else:
            reason = f"docker build failed: {(state['error'] or 'no image produced').splitlines()[0][:300]}"
        raise RuntimeFailure("build_failed", reason, log_tail=log_tail)
    say(f"built in {elapsed:.0f} s")
    return state["image"]


def remove_layers(client: Any, layers: list[str]) -> None:
    """Drop the untagged layers a failed build left (never a tagged image, e.g. the base)."""
    for layer in reversed(layers):
        try:
            image = bounded(client.images.get, layer, what="inspect layer")
            if image.attrs.get("RepoTags"):
                continue
            bounded(client.images.remove, layer, noprune=False, what="remove layer")
        except Exception as exc:  # shared with another build's cache, or already gone
            log.debug("layer %s: %s", layer, exc)
