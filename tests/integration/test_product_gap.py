"""The product's reason to exist: a production-grade service scores far above a demo-grade
one whose model is as good. Graded for real: subprocess services, real HTTP, held-back traffic.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from grader.grade import grade_one
from harness.solutions import materialize_solution

pytestmark = pytest.mark.slow


def _grade(name: str, tmp: Path, tag: str):
    folder = materialize_solution("support-triage", name, tmp / f"{name}-{tag}" / name, seed=7)
    report, _ = grade_one(folder, exercise="support-triage", out=tmp / f"report-{name}-{tag}",
                          runtime="local", seed=7, console=Console(stderr=True, quiet=True))
    return report


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("gap")
    return {"reference": _grade("reference", tmp, "a"), "accuracy-only": _grade("accuracy-only", tmp, "a"),
            "tmp": tmp}


def test_reference_scores_far_above_accuracy_only(graded: dict) -> None:
    ref, demo = graded["reference"], graded["accuracy-only"]
    assert ref.status == "graded" and demo.status == "graded"
    assert ref.score >= 85, ref.score
    assert demo.score <= 35, demo.score


def test_accuracy_only_is_as_accurate(graded: dict) -> None:
    ref, demo = graded["reference"].accuracy.in_distribution, graded["accuracy-only"].accuracy.in_distribution
    assert ref is not None and demo is not None
    # The gap is not bought with a better model: the demo-grade model is at most 2 points worse.
    assert demo >= ref - 0.02, (ref, demo)


def test_accuracy_only_loses_where_production_matters(graded: dict) -> None:
    dims = graded["accuracy-only"].dimensions
    assert dims["validation"].score < 30 and dims["monitoring"].score < 10


def test_grading_twice_gives_the_same_score(graded: dict) -> None:
    again = _grade("reference", graded["tmp"], "b")
    assert abs(again.score - graded["reference"].score) <= 1, (again.score, graded["reference"].score)


@pytest.mark.docker
def test_docker_runtime_keeps_the_ranking(tmp_path: Path) -> None:
    """The same promise in the hardened container runtime, and nothing of the runs is left behind."""
    import docker

    scores = {}
    for name in ("reference", "accuracy-only"):
        folder = materialize_solution("support-triage", name, tmp_path / name / name, seed=7)
        report, _ = grade_one(folder, exercise="support-triage", out=tmp_path / f"report-{name}",
                              runtime="docker", seed=7, console=Console(stderr=True, quiet=True))
        assert report.status == "graded", report.reasons
        assert report.runtime == "docker"
        scores[name] = report.score
    assert scores["reference"] >= 85 and scores["accuracy-only"] <= 35, scores
    from harness.runtime.docker import LABEL_RUN

    client = docker.from_env()
    try:
        left = [c.name for c in client.containers.list(all=True, filters={"label": LABEL_RUN})]
        nets = [n.name for n in client.networks.list(filters={"label": LABEL_RUN})]
    finally:
        client.close()
    assert not left and not nets, (left, nets)
