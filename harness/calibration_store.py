"""Where calibration reports live: shipped with the exercise version, else cached, else simulated.

harness.calibration simulates (and its own file is part of every report's key); this module
only finds, stores and ships reports and turns one into what the grader scores, so editing
it never invalidates a shipped report. A report is read from, in order:

1. calibration/<exercise>-w<windows>-s<seed>.json in the checkout (`make calibration`),
   when its key equals today's `cache_key` (recipe, scenarios, data engine, calibration code);
2. <$SHIFTWORK_CACHE or .cache>/calibration/, keyed the same way;
3. a fresh simulation, written to (2), one process at a time per exercise (a file lock).
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from grader.checks.base import Scored
from grader.exercise import Exercise, repo_root
from harness.calibration import ASPECTS, SEEDS, WINDOWS, CalibrationReport, cache_key, calibrate, field_truth

log = logging.getLogger(__name__)

# Shipped reports, one per exercise version, beside exercises/ (shipped_path)
SHIPPED_FOLDER = "calibration"


def _read_cached(path: Path) -> CalibrationReport | None:
    if not path.is_file():
        return None
    try:
        report = CalibrationReport.model_validate_json(path.read_text())
    except ValueError:
        log.warning("ignoring unreadable calibration cache %s", path)
        return None
    report.cached = True
    return report


@contextmanager
def _one_at_a_time(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` (where the platform and folder allow): graders and test
    sessions that need the same report wait for the one computing it instead of each spending
    minutes on the same simulation."""
    try:
        import fcntl

        lock.parent.mkdir(parents=True, exist_ok=True)
        fh = lock.open("a")
    except (ImportError, OSError):  # no flock, or a read-only checkout: simulate side by side
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cache_folder(cache_dir: Path | None = None) -> Path:
    """`cache_dir`, else <$SHIFTWORK_CACHE or the checkout's .cache>/calibration (read when called)."""
    if cache_dir is not None:
        return cache_dir
    return Path(os.environ.get("SHIFTWORK_CACHE") or repo_root() / ".cache") / "calibration"


def _stem(exercise: Exercise, windows: int, seed: int, seeds: int) -> str:
    return f"{exercise.id}-w{windows}-s{seed}" + (f"-x{seeds}" if seeds != SEEDS else "")


def shipped_path(exercise: Exercise, *, windows: int = WINDOWS, seed: int = 7, seeds: int = SEEDS) -> Path:
    """Where the checkout ships an exercise version's calibration (calibration/ beside exercises/).

    Held back like the scenarios it describes: the folder is the grader's, never a bundle's."""
    return repo_root() / SHIPPED_FOLDER / f"{_stem(exercise, windows, seed, seeds)}.json"


def shipped_report(exercise: Exercise, *, windows: int = WINDOWS, seed: int = 7, seeds: int = SEEDS,
                   key: str | None = None) -> CalibrationReport | None:
    """The shipped calibration when it was made from exactly today's inputs (`key`, else computed), else None."""
    report = _read_cached(shipped_path(exercise, windows=windows, seed=seed, seeds=seeds))
    if report is None or report.key != (key or cache_key(exercise, windows=windows, seed=seed, seeds=seeds)):
        return None
    return report


def cached_report(exercise: Exercise, *, windows: int = WINDOWS, seed: int = 7, seeds: int = SEEDS,
                  cache_dir: Path | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> CalibrationReport:
    """The shipped report if current, else the cached one, else a fresh simulation (then cached).

    A fresh machine or a worker's new data folder reads the shipped report: no candidate's
    grading waits minutes for a calibration of the exercise version they were given. With an
    explicit `cache_dir` only that folder is read (tools and tests that bring their own)."""
    key = cache_key(exercise, windows=windows, seed=seed, seeds=seeds)  # hashes the dataset: once
    report = shipped_report(exercise, windows=windows, seed=seed, seeds=seeds, key=key) if cache_dir is None else None
    if report is not None:
        return report
    folder = cache_folder(cache_dir)
    stem = _stem(exercise, windows, seed, seeds)
    path = folder / f"{stem}-{key}.json"
    report = _read_cached(path)
    if report is not None:
        return report
    with _one_at_a_time(folder / f"{stem}.lock"):
        report = _read_cached(path)  # made by whoever held the lock before us
        if report is not None:
            return report
        report = calibrate(exercise, windows=windows, seed=seed, seeds=seeds, progress=progress)
        try:
            _write(path, report)
            for stale in folder.glob(f"{stem}-*.json"):
                # Same settings, older inputs or code: never read again, so do not let them pile up.
                if stale != path and stale.stat().st_mtime < path.stat().st_mtime - 1:
                    stale.unlink(missing_ok=True)
        except OSError as exc:  # a read-only checkout still grades; it just recalibrates next time
            log.warning("cannot cache calibration at %s: %s", path, exc)
    return report


def _write(path: Path, report: CalibrationReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # graders may calibrate side by side
    tmp.write_text(report.model_dump_json(indent=1) + "\n")
    tmp.replace(path)


def ship(exercise: Exercise, *, windows: int = WINDOWS, seed: int = 7, seeds: int = SEEDS,
         progress: Callable[[int, int, str], None] | None = None) -> tuple[CalibrationReport, Path]:
    """Write the exercise version's calibration where the checkout ships it (`make calibration`)."""
    report = cached_report(exercise, windows=windows, seed=seed, seeds=seeds, progress=progress)
    path = shipped_path(exercise, windows=windows, seed=seed, seeds=seeds)
    _write(path, report)
    return report, path


def scored_phases(exercise: Exercise, *, windows: int = WINDOWS, seed: int = 7, seeds: int = SEEDS,
                  cache_dir: Path | None = None) -> Scored:
    """Phases whose expectation the reference confirmed on every calibration seed; only these may be scored."""
    report = cached_report(exercise, windows=windows, seed=seed, seeds=seeds, cache_dir=cache_dir)
    scored = Scored()
    for p in report.phases:
        for a in ASPECTS:
            v = p.verdicts[a]
            if v in ("must detect", "must stay silent"):
                getattr(scored, a)[(p.scenario, p.phase)] = "detect" if v == "must detect" else "silent"
        if scored.drift.get((p.scenario, p.phase)) == "detect":
            scored.attribution[(p.scenario, p.phase)] = field_truth(p)
        if p.failures():
            continue  # a phase that fails calibration scores no slice either
        for g, v in p.slice_verdicts.items():
            if v in ("must detect", "must stay silent"):
                field, value = g.split("=", 1)
                scored.slices[(p.scenario, p.phase, field, value)] = "detect" if v == "must detect" else "silent"
    return scored
