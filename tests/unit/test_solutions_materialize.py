"""materialize_solution: a runnable submission folder with generated training data, nothing held back."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from grader.errors import UsageError
from harness.solutions import materialize_solution, solution_names


def test_lists_starter_and_solutions() -> None:
    names = solution_names("support-triage")
    assert names[0] == "starter" and {"reference", "accuracy-only"} <= set(names)


def test_writes_code_and_training_data_only(tmp_path: Path) -> None:
    dest = materialize_solution("support-triage", "reference", tmp_path / "sub")
    assert dest == (tmp_path / "sub").resolve()
    for required in ("Dockerfile", "requirements.txt", "serve.py", "train.py", "data/train.csv"):
        assert (dest / required).is_file(), required
    first = (dest / "Dockerfile").read_text().splitlines()[:2]
    assert first == ["ARG BASE_IMAGE=python:3.11-slim", "FROM ${BASE_IMAGE}"]
    with (dest / "data" / "train.csv").open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[0] == "id" and header[-1] == "queue" and "order_value" in header
    names = {p.name for p in dest.rglob("*")}
    assert not names & {"scenarios", "heldout.toml", "solutions", "__pycache__", "model"}
    assert not any(p.suffix == ".toml" for p in dest.rglob("*"))


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = materialize_solution("support-triage", "starter", tmp_path / "a", seed=5)
    b = materialize_solution("support-triage", "starter", tmp_path / "b", seed=5)
    assert (a / "data/train.csv").read_bytes() == (b / "data/train.csv").read_bytes()


@pytest.mark.parametrize("name", ["nope", "../scenarios", ""])
def test_unknown_solution_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        materialize_solution("support-triage", name, tmp_path / "x")


def test_requirements_pin_only_runtime_versions(repo_root: Path) -> None:
    allowed = set((repo_root / "exercises/support-triage/runtime-requirements.txt").read_text().split())
    for name in ("starter", "solutions/reference", "solutions/accuracy-only"):
        lines = (repo_root / "exercises/support-triage" / name / "requirements.txt").read_text().splitlines()
        pins = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        assert pins and set(pins) <= allowed, name


def test_grading_a_shipped_solution_folder_names_the_command_that_makes_it_gradable(tmp_path) -> None:
    from grader.errors import UsageError
    from harness.grading import grade_one

    shipped = Path(__file__).resolve().parents[2] / "exercises" / "support-triage" / "solutions" / "reference"
    with pytest.raises(UsageError, match=r"shiftwork solution support-triage reference --out DIR"):
        grade_one(shipped, exercise="support-triage", out=tmp_path / "out", runtime="local")


def test_the_solution_command_writes_a_gradable_folder(tmp_path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    done = CliRunner().invoke(app, ["solution", "support-triage", "robust-demo", "--out", str(tmp_path / "rd")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "rd" / "data" / "train.csv").is_file() and (tmp_path / "rd" / "Dockerfile").is_file()
