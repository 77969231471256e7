"""The runtime interface every way of running a submission implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import Outcome, RuntimeFailure  # noqa: F401  (re-exported: callers import them from here)


@dataclass
class ServiceState:
    running: bool
    exit_code: int | None = None
    oom_killed: bool = False
    memory_mb: float | None = None  # current resident memory, when measurable


@dataclass
class StartInfo:
    base_url: str
    ready_s: float  # seconds from start to the first 200 on /health
    notes: list[str] = field(default_factory=list)


class Runtime(abc.ABC):
    """Build (if needed), start, restart and tear down one submission's service.

    `prepare` and `start` raise RuntimeFailure for the candidate's faults
    (build_failed, start_failed); `teardown` never raises and leaves nothing running.
    """

    name: str = "abstract"
    isolates: bool = False

    @abc.abstractmethod
    def prepare(self, submission: Path) -> None:
        """Build or install the submission. Raises RuntimeFailure('build_failed', ...)."""

    @abc.abstractmethod
    def start(self, startup_budget_s: float) -> StartInfo:
        """Start the service and wait until /health answers 200 or the budget runs out."""

    @abc.abstractmethod
    def state(self) -> ServiceState:
        """Is it still running; exit code, OOM and memory when known."""

    @abc.abstractmethod
    def restart(self, startup_budget_s: float) -> StartInfo:
        """Stop the service (SIGTERM, then kill) and start it again."""

    def warm(self, startup_budget_s: float, copies: int = 1) -> None:
        """Keep `copies` fresh copies of the service starting in the background (a speed-up; may do nothing).

        The grader calls it as the first copy starts and while each scenario runs, so that
        `fresh()` before the next scenarios costs no waiting. A warm copy sees no traffic until `fresh()` makes it current.
        """

    def settle(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until no copy is starting in the background: a timed
        measurement must not share the machine with a cold start the grader itself began."""

    def fresh(self, startup_budget_s: float) -> StartInfo:
        """Replace the service with a fresh copy from the same build: the warm one when there
        is one, else a restart. A real restart of the same copy is `restart()`."""
        return self.restart(startup_budget_s)

    @abc.abstractmethod
    def logs(self, max_bytes: int = 20_000) -> str:
        """The tail of the service's output, capped."""

    @abc.abstractmethod
    def teardown(self) -> None:
        """Stop and remove everything this runtime made. Never raises."""

    def peak_memory_mb(self) -> float | None:
        return None

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()
