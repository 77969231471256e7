"""One error tree for shiftwork: every exception class of the project is defined here.

- `ShiftworkError` and its children are *our* faults or the user's bad input: the CLI
  prints the one-line message and exits with `exit_code`, no traceback.
- A candidate service's faults are never raised that way: `RuntimeFailure` and
  `ReplayStopped` end (part of) a grading and become a report with a named status
  (`Outcome`).
- What the runtimes refuse or give up on (`PolicyViolation`, `DockerfileError`,
  `DockerCallTimeout`), and the web app's answers to a request (`NotFound`, `Refused`,
  `PageNotFound`), turned into a status or a page where they are caught.

Modules that raise them re-export them, so `from grader.runtime import RuntimeFailure` and
the like keep working. This module imports nothing of the project.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from grader.transcript import ScenarioRun

Outcome = Literal["graded", "build_failed", "start_failed", "crashed", "timed_out"]


class ShiftworkError(Exception):
    """Base of every error the CLI turns into a one-line message."""

    exit_code = 1


class UsageError(ShiftworkError):
    """Bad input from the person at the keyboard: unknown exercise, unwritable folder, ..."""

    exit_code = 2


class TableRefused(UsageError):
    """An author's table cannot become an exercise (no such target, one class, too few rows, ...)."""


class ConfigError(ShiftworkError):
    """A recipe, exercise.toml or scenario file is wrong (caught at load, before any container starts)."""

    exit_code = 3


class SubmissionError(ShiftworkError):
    """The submission cannot be read at all (not a folder/zip/tar.gz/git repo, bad token)."""

    exit_code = 4


class RuntimeUnavailable(ShiftworkError):
    """The requested runtime cannot work here (e.g. --runtime docker with no engine)."""

    exit_code = 5


class CalibrationFailed(ShiftworkError):
    """A scenario demands what the calibrated reference detector cannot do."""

    exit_code = 6


# -- a candidate's service ------------------------------------------------------------------

@dataclass
class RuntimeFailure(Exception):
    """The *candidate's* service failed in a way that ends (part of) the grading.

    Caught by the grader and turned into a report status; never shown as a traceback.
    """

    status: Outcome
    reason: str
    log_tail: str = ""

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


class ReplayStopped(Exception):
    """The service died or stopped answering: the grading ends here with this status."""

    def __init__(self, status: Outcome, reason: str, oom: bool = False) -> None:
        super().__init__(reason)
        self.status, self.reason, self.oom = status, reason, oom
        self.run: ScenarioRun | None = None  # the scenario being replayed, as far as it got


# -- the runtimes --------------------------------------------------------------------------

class PolicyViolation(Exception):
    """The submission asks for something the grader refuses (reported as build_failed)."""


class DockerfileError(ValueError):
    """The Dockerfile cannot be read the way Docker would read it."""


class Unresolvable(DockerfileError):
    """A word uses a variable whose value cannot be known before the build (or an unsupported form)."""


class DockerCallTimeout(Exception):
    """One call to the Docker engine did not return within its deadline (harness.runtime.docker_engine.bounded)."""


# -- the web app and the queue -----------------------------------------------------------------

class NotFound(LookupError):
    """No such invite (or job, or file) — a 404 on both front ends."""


class Refused(Exception):
    """A request the candidate (or a stranger) gets a one-line reason for, with an HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class PageNotFound(Exception):
    """A recruiter page about something that does not exist: rendered as the 404 page by the app."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class NotOurLease(Exception):
    """A worker's attempt no longer holds its job (harness.queue.lease): its result is dropped."""


class TargetRefused(UsageError):
    """A webhook URL the policy refuses (harness.notify.targets): the message is the one-line reason."""


class MailTemplateError(ConfigError):
    """An e-mail template that does not load or render (harness.notify.mail_render): the message is the
    one-line reason, naming the file; the e-mail fails with it and the admin page shows it."""


class MailNotSent(Exception):
    """One e-mail the SMTP server did not take (harness.notify.mail_smtp): a one-line reason without the
    password, and whether trying again can help (a recipient refused with 5xx cannot)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent
