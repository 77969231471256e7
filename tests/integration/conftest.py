"""Hostile fixtures as build contexts: a fixture folder plus the shared server module.

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
