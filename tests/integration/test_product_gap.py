"""The product's reason to exist: a production-grade service scores far above a demo-grade
one whose model is as good. Graded for real: subprocess services, real HTTP, held-back traffic.

Two demos stand against the reference: `accuracy-only` (a good model, no validation, no
monitoring; it answers 500 to messy batches) and `robust-demo` (the same model behind a
pipeline that never crashes: it coerces whatever arrives and answers `ok`, never alarms,
never falls back) — the honest form of the claim. Each solution is graded once per session
(tests/integration/conftest.py `gradings`); the score table is printed at the end.
"""
from __future__ import annotations

import logging

import pytest

from _gradings import Gradings, format_table, score_row

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

DEMOS = ("accuracy-only", "robust-demo")
REFERENCE_MIN = 85
DEMO_MAX = 35
ACCURACY_SLACK = 0.02  # the demos' model may be at most 2 points less accurate in distribution


@pytest.fixture(scope="module")
def graded(gradings: Gradings) -> dict:
    out = {name: gradings.solution(name) for name in ("reference", *DEMOS)}
    log.warning("product gap (%s runtime, full plan, seed 7):\n%s", gradings.runtime,
                format_table([score_row(name, r) for name, r in out.items()]))
    return out


def test_reference_scores_far_above_accuracy_only(graded: dict) -> None:
    ref, demo = graded["reference"], graded["accuracy-only"]
    assert ref.status == "graded" and demo.status == "graded"
    assert ref.score >= REFERENCE_MIN, ref.score
    assert demo.score <= DEMO_MAX, demo.score


def test_reference_scores_far_above_the_robust_demo(graded: dict) -> None:
    ref, demo = graded["reference"], graded["robust-demo"]
    assert demo.status == "graded", demo.reasons
    dims = {d: round(s.score, 1) for d, s in demo.dimensions.items()}
    assert ref.score >= REFERENCE_MIN, ref.score
    assert demo.score <= DEMO_MAX, (demo.score, dims)


@pytest.mark.parametrize("demo", DEMOS)
def test_the_demos_are_as_accurate(graded: dict, demo: str) -> None:
    ref, got = graded["reference"].accuracy.in_distribution, graded[demo].accuracy.in_distribution
    assert ref is not None and got is not None
    # The gap is not bought with a better model: the demo-grade model is at most 2 points worse.
    assert got >= ref - ACCURACY_SLACK, (ref, got)


def test_accuracy_only_loses_where_production_matters(graded: dict) -> None:
    dims = graded["accuracy-only"].dimensions
    assert dims["validation"].score < 30 and dims["monitoring"].score < 10


def test_the_robust_demo_never_breaks_but_earns_no_habit(graded: dict) -> None:
    report = graded["robust-demo"]
    checks = {c.id: c for c in report.checks}
    assert checks["no_server_errors"].score == 1.0, checks["no_server_errors"].evidence
    assert report.dimensions["monitoring"].score < 10, report.dimensions["monitoring"].score


# -- credit-default: the same promise on a tabular exercise with a protected group ------------------
CREDIT = "credit-default"


@pytest.fixture(scope="module")
def graded_credit(gradings: Gradings) -> dict:
    out = {name: gradings.solution(name, exercise=CREDIT) for name in ("reference", *DEMOS)}
    log.warning("product gap, %s (%s runtime, full plan, seed 7):\n%s", CREDIT, gradings.runtime,
                format_table([score_row(f"{CREDIT}/{name}", r) for name, r in out.items()]))
    return out


@pytest.mark.parametrize("demo", DEMOS)
def test_credit_default_reference_scores_far_above_the_demos(graded_credit: dict, demo: str) -> None:
    ref, got = graded_credit["reference"], graded_credit[demo]
    assert ref.status == "graded" and got.status == "graded", (ref.reasons, got.reasons)
    dims = {d: round(s.score, 1) for d, s in got.dimensions.items()}
    assert ref.score >= REFERENCE_MIN, ref.score
    assert got.score <= DEMO_MAX, (got.score, dims)


@pytest.mark.parametrize("demo", DEMOS)
def test_credit_default_demos_are_as_accurate(graded_credit: dict, demo: str) -> None:
    ref, got = graded_credit["reference"].accuracy.in_distribution, graded_credit[demo].accuracy.in_distribution
    assert ref is not None and got is not None
    assert got >= ref - ACCURACY_SLACK, (ref, got)


def test_credit_default_demos_earn_no_monitoring(graded_credit: dict) -> None:
    for demo in DEMOS:
        assert graded_credit[demo].dimensions["monitoring"].score < 10, demo
    checks = {c.id: c for c in graded_credit["robust-demo"].checks}
    assert checks["no_server_errors"].score == 1.0, checks["no_server_errors"].evidence


def test_credit_default_reference_watches_the_protected_group(graded_credit: dict) -> None:
    checks = {c.id: c for c in graded_credit["reference"].checks}
    if "slice_alarm" not in checks:
        pytest.skip("the slice check is not in exercises/credit-default/exercise.toml yet")
    assert checks["slice_alarm"].score >= 0.8, checks["slice_alarm"].evidence
    for demo in DEMOS:
        assert {c.id: c for c in graded_credit[demo].checks}["slice_alarm"].score == 0, demo


@pytest.mark.docker
def test_docker_runtime_keeps_the_ranking(gradings: Gradings) -> None:
    """The same promise in the hardened container runtime, and nothing of the runs is left behind."""
    import docker

    reports = {name: gradings.solution(name, runtime="docker") for name in ("reference", *DEMOS)}
    for name, report in reports.items():
        assert report.status == "graded", (name, report.reasons)
        assert report.runtime == "docker"
    scores = {name: r.score for name, r in reports.items()}
    log.warning("product gap (docker runtime, full plan, seed 7):\n%s",
                format_table([score_row(f"{n} (docker)", r) for n, r in reports.items()]))
    assert scores["reference"] >= REFERENCE_MIN, scores
    for demo in DEMOS:
        assert scores[demo] <= DEMO_MAX, scores
    ref_acc = reports["reference"].accuracy.in_distribution
    assert reports["robust-demo"].accuracy.in_distribution >= ref_acc - ACCURACY_SLACK, (
        ref_acc, reports["robust-demo"].accuracy.in_distribution)
    from harness.runtime.docker import LABEL_RUN

    client = docker.from_env()
    try:
        # only this session's runs: other gradings may share the engine at the same time
        left = [c.name for c in client.containers.list(all=True, filters={"label": LABEL_RUN})
                if gradings.token in c.name]
        nets = [n.name for n in client.networks.list(filters={"label": LABEL_RUN}) if gradings.token in n.name]
    finally:
        client.close()
    assert not left and not nets, (left, nets)


@pytest.mark.docker
def test_docker_runtime_keeps_the_credit_default_ranking(gradings: Gradings) -> None:
    """credit-default's promises in the hardened container runtime too (its images build offline)."""
    reports = {name: gradings.solution(name, runtime="docker", exercise=CREDIT) for name in ("reference", *DEMOS)}
    for name, report in reports.items():
        assert report.status == "graded" and report.runtime == "docker", (name, report.reasons)
    scores = {name: r.score for name, r in reports.items()}
    log.warning("credit-default product gap (docker runtime, full plan, seed 7):\n%s",
                format_table([score_row(f"{CREDIT}/{n} (docker)", r) for n, r in reports.items()]))
    assert scores["reference"] >= REFERENCE_MIN, scores
    ref_acc = reports["reference"].accuracy.in_distribution
    for demo in DEMOS:
        assert scores[demo] <= DEMO_MAX, scores
        assert reports[demo].accuracy.in_distribution >= ref_acc - ACCURACY_SLACK, (demo, ref_acc)
