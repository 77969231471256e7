"""Fresh copies of a service started ahead of time, shared by the local and docker runtimes.

The design restarts the service before every scenario; a copy warming while the previous
scenario replays turns that restart's wait into work done alongside. A runtime says how to
launch one copy (in a thread: create, start, wait for /health) and the pool keeps them, oldest
first. What a copy is (a process, a container) stays the runtime's.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

from grader.runtime import StartInfo

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Copy(Generic[T]):
    """One copy starting or started: `handle` is set by the launching thread as soon as it exists."""

    began: float
    handle: T | None = None
    info: StartInfo | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def wait(self, budget_s: float, grace_s: float) -> bool:
        """Wait until the copy is ready or failed, at most its start budget (from when it began) plus `grace_s`."""
        return self.done.wait(timeout=max(0.0, self.began + budget_s + grace_s - time.monotonic()))


class WarmPool(Generic[T]):
    """Copies kept starting; `launch(copy, budget)` runs in a thread and returns the ready copy's StartInfo."""

    def __init__(self, launch: Callable[[Copy[T], float], StartInfo], name: str = "warm-copy") -> None:
        self._launch = launch
        self._name = name
        self._copies: list[Copy[T]] = []

    def __len__(self) -> int:
        return len(self._copies)

    @property
    def copies(self) -> tuple[Copy[T], ...]:
        """The copies kept now, oldest first (a snapshot: taking one changes the pool, not this)."""
        return tuple(self._copies)

    def fill(self, copies: int, budget_s: float) -> None:
        """Start copies until `copies` are starting or ready."""
        while len(self._copies) < copies:
            copy: Copy[T] = Copy(began=time.monotonic())

            def work(c: Copy[T] = copy) -> None:
                try:
                    c.info = self._launch(c, budget_s)
                except Exception as exc:  # a speed-up only: the runtime reports it when the copy is taken
                    log.debug("%s did not start: %s", self._name, exc)
                    c.error = exc
                finally:
                    c.done.set()

            copy.thread = threading.Thread(target=work, daemon=True, name=self._name)
            self._copies.append(copy)
            copy.thread.start()

    def settle(self, timeout_s: float) -> None:
        """Wait until every copy kept is ready or failed, `timeout_s` at most in all."""
        until = time.monotonic() + timeout_s
        for c in tuple(self._copies):
            c.done.wait(timeout=max(0.0, until - time.monotonic()))

    def take(self) -> Copy[T] | None:
        """The oldest copy (maybe still starting), or None when none is kept."""
        return self._copies.pop(0) if self._copies else None

    def drain(self, join_s: float) -> list[Copy[T]]:
        """Every copy, once its launching thread is done (or `join_s` passed): nothing appears after this."""
        copies, self._copies = self._copies, []
        for c in copies:
            if c.thread is not None:
                c.thread.join(timeout=join_s)
        return copies
