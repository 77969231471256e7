"""Shared fixtures. Docker tests fail (not skip) when SHIFTWORK_REQUIRE_DOCKER=1 and no engine answers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture
def _require_docker() -> None:
    pytest.fail("SHIFTWORK_REQUIRE_DOCKER=1 but no Docker engine answers")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
