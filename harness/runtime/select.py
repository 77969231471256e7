"""Pick the runtime a grading (or a self-check) uses: docker, local, or auto."""
from __future__ import annotations

import logging
from typing import Any

from grader.errors import RuntimeUnavailable, UsageError
from grader.runtime import Runtime
from harness.runtime.docker import DockerRuntime
from harness.runtime.docker_engine import docker_available
from harness.runtime.images import ready_base_image
from harness.runtime.local import LocalRuntime

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "docker", "local")


def _docker_answers() -> bool:
    try:
        return bool(docker_available())  # False too when the docker SDK is not installed
    except Exception:
        log.debug("docker_available() failed", exc_info=True)
        return False


NO_BASE_IMAGE = ("no base image here and python:3.11-slim cannot be pulled: falling back to the local runtime, "
                 "which does NOT isolate the submission")
NO_SANDBOX = ("--runtime auto: no Docker engine answers, and an untrusted submission is never run unsandboxed "
              "unless asked for by name: start dockerd, or pass --runtime local (NOT isolated)")


def require_sandbox(name: str) -> None:
    """For grading: `auto` must find an engine (only an explicit `local` runs a submission unsandboxed)."""
    if name not in RUNTIMES:
        raise UsageError(f"unknown runtime {name!r} (choose one of {', '.join(RUNTIMES)})")
    if name == "auto" and not _docker_answers():
        raise RuntimeUnavailable(NO_SANDBOX)


def choose_runtime(name: str, exercise: Any, console: Any = None, run_label: str = "",
                   fallback: bool = True) -> Runtime:
    """`docker` fails with RuntimeUnavailable when no engine answers; `auto` falls back to local, loudly,
    unless `fallback` is False (grading untrusted submissions), when it fails like `docker`."""
    if name not in RUNTIMES:
        raise UsageError(f"unknown runtime {name!r} (choose one of {', '.join(RUNTIMES)})")
    if name in ("docker", "auto") and _docker_answers():
        if name == "auto" and fallback and not ready_base_image(console=console):
            log.warning(NO_BASE_IMAGE)
            return LocalRuntime(exercise, console, run_label)
        return DockerRuntime(exercise, console, run_label)
    if name == "docker":
        raise RuntimeUnavailable("--runtime docker: no Docker engine answers (start dockerd, or use --runtime local)")
    if name == "auto" and not fallback:
        raise RuntimeUnavailable(NO_SANDBOX)
    if name == "auto":
        msg = "no Docker engine answers: falling back to the local runtime, which does NOT isolate the submission"
        log.warning(msg)
    return LocalRuntime(exercise, console, run_label)
