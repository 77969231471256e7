"""The local runtime runs services with the grader's Python: every pin an exercise's runtime
allows must be a dependency of shiftwork itself, at the same version (a clean CI once
failed on exactly this)."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[name.strip().lower()] = version.strip()
    return out


@pytest.mark.parametrize("req", sorted(ROOT.glob("exercises/*/runtime-requirements.txt")), ids=lambda p: p.parent.name)
def test_runtime_pins_are_project_dependencies(req: Path) -> None:
    project = _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    runtime = _pins(req.read_text().splitlines())
    assert runtime, "no pins found"
    wrong = {n: v for n, v in runtime.items() if project.get(n) != v}
    assert not wrong, f"pin these in pyproject.toml too: {wrong}"
