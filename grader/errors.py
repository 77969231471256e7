"""One error tree for shiftwork.

`ShiftworkError` and its children are *our* faults or the user's bad input: the CLI
prints the one-line message and exits with `exit_code`, no traceback. A candidate
service's faults are never raised this way: they become scored results with a named
status (see grader.outcome.Outcome).
"""
from __future__ import annotations


class ShiftworkError(Exception):
    """Base of every error the CLI turns into a one-line message."""

    exit_code = 1


class UsageError(ShiftworkError):
    """Bad input from the person at the keyboard: unknown exercise, unwritable folder, ..."""

    exit_code = 2


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
