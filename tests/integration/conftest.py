"""Hostile fixtures as build contexts, and gradings shared by the whole session.

Hostile fixtures: a fixture folder plus the shared server module.

tests/fixtures/hostile/<name>/ keeps only what makes it hostile; the well-behaved HTTP
server they share lives once in tests/fixtures/hostile/_common/. A build context must be
self-contained, so each fixture is copied to a temporary folder with the common files.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

HOSTILE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile"
HOSTILE_COMMON = HOSTILE / "_common"


def hostile_context(name: str, dest: Path) -> Path:
    """Copy fixture `name` into dest/name with the common module next to its Dockerfile."""
    ctx = dest / name
    shutil.copytree(HOSTILE / name, ctx, ignore=shutil.ignore_patterns("__pycache__"))
    for path in sorted(HOSTILE_COMMON.glob("*.py")):
        shutil.copyfile(path, ctx / path.name)
    return ctx


@pytest.fixture
def hostile(tmp_path: Path) -> Callable[[str], Path]:
    """hostile(name) -> a ready build context for tests/fixtures/hostile/<name>."""
    return lambda name: hostile_context(name, tmp_path / "hostile")


# -- Shared gradings (see _gradings.py) ------------------------------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from _gradings import EXERCISE, SEED, Gradings  # noqa: E402
from _session import gradings_dir, shared_tmp  # noqa: E402
from filelock import FileLock  # noqa: E402


@pytest.fixture(scope="session")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> Gradings:
    return Gradings(tmp_path_factory.mktemp("gradings"), gradings_dir(tmp_path_factory))


@pytest.fixture(scope="session")
def full_plan(gradings: Gradings) -> Any:
    """The full held-back support-triage plan at seed 7 (every scenario), generated once."""
    return gradings.plan


@pytest.fixture(scope="session")
def trained_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference solution with data/train.csv (seed 7) and its model trained once, for wrappers."""
    from harness.solutions import materialize_solution

    # one folder for every xdist worker: its path is part of the keys of the gradings that wrap it
    folder = shared_tmp(tmp_path_factory) / "trained" / "reference"
    with FileLock(f"{folder.parent}.lock"):
        if not (folder / "model" / "model.joblib").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            materialize_solution(EXERCISE, "reference", folder, seed=SEED)
            done = subprocess.run([sys.executable, "train.py"], cwd=folder, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (folder / "model" / "model.joblib").is_file()
    return folder
