"""Turn an exercise's starter or one of its solutions into a runnable submission folder.

Solutions are committed without data (train.csv is generated, never stored); the grader's
demo and tests call `materialize_solution` to get a folder a candidate could have sent:
the service code plus data/train.csv from the data engine. Only the named folder is
copied, so nothing held back (scenarios, other solutions, heldout vocabulary) leaks in.
"""
from __future__ import annotations

import importlib
import logging
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from grader.errors import UsageError
from grader.exercise import exercises_dir, load_exercise
from harness.data.engine import generate_training, load_recipe

log = logging.getLogger(__name__)

STARTER = "starter"
# Build and run leftovers that must not travel with a submission.
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "model", "data", ".venv")


def solution_names(exercise_id: str, root: Path | None = None) -> list[str]:
    folder = exercises_dir(root) / exercise_id / "solutions"
    names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return [STARTER, *names]


def solution_source(exercise_id: str, name: str, root: Path | None = None) -> Path:
    """The committed folder for `name` ("starter" or a folder under solutions/)."""
    base = exercises_dir(root) / exercise_id
    src = base / STARTER if name == STARTER else base / "solutions" / name
    if not name or "/" in name or name.startswith(".") or not src.is_dir():
        known = ", ".join(solution_names(exercise_id, root)) or "none"
        raise UsageError(f"exercise {exercise_id!r} has no solution {name!r} (known: {known})")
    return src


def write_training_csv(exercise_id: str, path: Path, seed: int = 7, root: Path | None = None) -> Path:
    """Write the exercise's training data (what a candidate gets) to `path`."""
    exercise = load_exercise(exercise_id, root)
    recipe = load_recipe(exercise.dataset, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_training(recipe, seed).to_csv(path)
    return path


def materialize_solution(exercise_id: str, name: str, dest: Path, seed: int = 7,
                         root: Path | None = None) -> Path:
    """Copy the starter or solution `name` to `dest` and add data/train.csv (seed `seed`).

    `dest` may exist (files are overwritten) but must not be inside the source folder.
    Returns `dest`, ready to build or run (`python serve.py`).
    """
    src = solution_source(exercise_id, name, root).resolve()
    dest = Path(dest).resolve()
    if dest == src or src in dest.parents:
        raise UsageError(f"destination {dest} is inside the solution folder {src}")
    try:
        shutil.copytree(src, dest, ignore=_IGNORE, dirs_exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the solution to {dest}: {exc}") from exc
    write_training_csv(exercise_id, dest / "data" / "train.csv", seed=seed, root=root)
    log.info("materialized %s/%s into %s (seed %d)", exercise_id, name, dest, seed)
    return dest


@contextmanager
def imported_service(folder: Path, module: str) -> Iterator[ModuleType]:
    """Import `module` from a service folder in this process (for TestClient tests), then forget it.

    Services use plain top-level names (`app`, `service`, `triage`); everything imported
    from `folder` is dropped from sys.modules afterwards, so two services can be tested in
    one process one after the other.
    """
    folder = Path(folder).resolve()
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(module)
    finally:
        sys.path.remove(str(folder))
        for name, mod in list(sys.modules.items()):
            origin = getattr(mod, "__file__", None) or ""
            if origin and Path(origin).resolve().is_relative_to(folder):
                del sys.modules[name]
