"""Grading plans kept on disk: one file per (exercise, seed, scenario selection) and inputs.

Planning (held-back traffic, calibration, baseline predictions) is deterministic for an
exercise and a seed, and takes seconds to a minute, so a regrading of the same candidate
(a cohort run again, a worker retrying a job) reads the plan instead. The key hashes
everything the plan is made from (harness.sources: the exercise folder, the dataset, the code
that generates, calibrates and predicts, the numeric libraries' versions), the seed and the
selection. Files are written atomically
(several workers may plan side by side) and read defensively: a corrupt, foreign or
stale file is ignored and the plan made again.

Files are pickles, not JSON: wire records are kept exactly as sent (NaN, -0.0, lone
surrogates, int vs float), which a JSON round trip would not preserve. The folder is the
grader's own (like .cache/calibration); nothing a candidate sends is ever written there.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from grader.checks import resolve
from grader.exercise import Exercise, repo_root
from grader.grade import GradePlan
from harness.sources import digest

log = logging.getLogger(__name__)

# Bump when a plan's meaning changes in a way the hashed files do not show.
PLAN_CACHE_VERSION = 1
MAX_PLANS = 32  # per folder (a plan is ~10 MB); the least recently used go first


@dataclasses.dataclass(frozen=True)
class StoredPlan:
    key: str
    plan: GradePlan  # `checks` emptied: check objects are re-resolved from the registry on load


def plan_cache_dir(default: Path | None = None) -> Path:
    """$SHIFTWORK_PLAN_CACHE, else `default` (a worker's data folder), else <$SHIFTWORK_CACHE or .cache>/plans.

    Read when called, never at import: the CLI and the workers resolve it per grading.
    """
    env = os.environ.get("SHIFTWORK_PLAN_CACHE")
    if env:
        return Path(env)
    if default is not None:
        return default
    return Path(os.environ.get("SHIFTWORK_CACHE") or repo_root() / ".cache") / "plans"


def _selection(only: Iterable[str] | None) -> str:
    return "all" if only is None else "only-" + hashlib.sha256("\0".join(sorted(set(only))).encode()).hexdigest()[:8]


def plan_key(exercise: Exercise, seed: int, only: Iterable[str] | None = None) -> str:
    """Hash of everything the plan of (exercise, seed, only) is made from (harness.sources)."""
    return digest(f"v{PLAN_CACHE_VERSION}|{exercise.id}|{seed}|{_selection(only)}|{sys.version}", exercise, "plan")


def _stem(exercise: Exercise, seed: int, only: Iterable[str] | None) -> str:
    return f"{exercise.id}-s{seed}-{_selection(only)}"


def load_plan(folder: Path, exercise: Exercise, seed: int, only: Iterable[str] | None = None,
              key: str | None = None) -> GradePlan | None:
    """The cached plan with this key, bound to `exercise` and its freshly resolved checks; None on a miss."""
    key = key or plan_key(exercise, seed, only)
    path = folder / f"{_stem(exercise, seed, only)}-{key}.pkl"
    try:
        with path.open("rb") as fh:
            stored = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # truncated, foreign or from other code: make the plan again
        log.warning("ignoring unreadable plan cache %s: %s", path, exc)
        return None
    if not isinstance(stored, StoredPlan) or stored.key != key or stored.plan.seed != seed:
        log.warning("ignoring plan cache %s: it holds another plan", path)
        return None
    try:
        os.utime(path)  # least recently used goes first when the folder is pruned
    except OSError:
        pass
    log.info("plan of %s seed %s read from %s", exercise.id, seed, path)
    return dataclasses.replace(stored.plan, exercise=exercise, checks=resolve([c.id for c in exercise.checks]))


def store_plan(folder: Path, plan: GradePlan, only: Iterable[str] | None = None, key: str | None = None) -> None:
    """Write the plan atomically (temp file + rename); a folder that cannot be written only costs a re-plan."""
    key = key or plan_key(plan.exercise, plan.seed, only)
    stem = _stem(plan.exercise, plan.seed, only)
    path = folder / f"{stem}-{key}.pkl"
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{stem}-", suffix=".tmp", delete=False) as fh:
            tmp = Path(fh.name)
            pickle.dump(StoredPlan(key=key, plan=dataclasses.replace(plan, checks=[])), fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot cache the plan at %s: %s", path, exc)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        return
    _prune(folder, stem, path)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed by another process meanwhile
        return 0.0


def _prune(folder: Path, stem: str, kept: Path) -> None:
    """Drop the same plan made from older inputs, then the least recently used beyond MAX_PLANS."""
    plans = sorted(folder.glob("*.pkl"), key=_mtime, reverse=True)
    stale = [p for p in plans if p != kept and p.name.startswith(f"{stem}-") and len(p.name) == len(kept.name)]
    for p in stale + [p for p in plans if p not in stale][MAX_PLANS:]:
        try:
            p.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("cannot prune %s: %s", p, exc)
