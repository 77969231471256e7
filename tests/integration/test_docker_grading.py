"""Whole gradings of hostile submissions in Docker: a report.json with the named status, fast.

A tiny hand-made scenario and small budgets keep each grading to seconds; what is
tested is that the grader survives the submission, says why in the report, and leaves
nothing labelled with the run behind.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from grader.truth import PhaseTraffic, PhaseTruth, RecordTruth, ScenarioTraffic
from grader.exercise import Budgets, load_exercise
from grader.scenario import Phase, Scenario

pytestmark = pytest.mark.docker

CLASSES = ["billing", "technical", "account", "shipping", "refunds"]


def tiny_traffic() -> tuple[Scenario, ScenarioTraffic]:
    phases = [Phase(name="stable", records=8), Phase(name="shifted", records=4)]
    sc = Scenario(name="tiny", batch_size=4, label_delay=1, window=10, phases=phases)
    out, index = [], 0
    for ph in phases:
        recs, truths = [], []
        for i in range(ph.records):
            rid = f"r-{index + i:03d}"
            recs.append({"id": rid, "subject": "refund please", "body": "I was charged twice", "channel": "email",
                         "customer_tier": "free", "product": "web-store", "language": "en",
                         "created_at": "2026-03-14T10:22:05Z", "account_age_days": 10, "prior_tickets": 0,
                         "order_value": 20.0})
            truths.append(RecordTruth(id=rid, scenario="tiny", phase=ph.name, index=index + i, kind="clean",
                                      label="refunds"))
        out.append(PhaseTraffic(truth=PhaseTruth(scenario="tiny", name=ph.name, kind=ph.kind, start=index,
                                                 end=index + ph.records), records=recs, truths=truths))
        index += ph.records
    return sc, ScenarioTraffic(scenario="tiny", seed=1, phases=out)


@pytest.fixture(scope="module")
def base_image() -> str:
    from harness.runtime.images import DEFAULT_BASE_IMAGE, base_image_for_build, ensure_base_image

    return base_image_for_build() or ensure_base_image(DEFAULT_BASE_IMAGE, "support-triage")


@pytest.fixture(scope="module")
def plan() -> Any:
    from grader.checks import Scored, resolve
    from grader.grade import GradePlan

    ex = load_exercise("support-triage")
    ex = ex.model_copy(update={"limits": ex.limits.model_copy(update={"memory_mb": 128, "build_timeout_s": 60})})
    sc, traffic = tiny_traffic()
    return GradePlan(exercise=ex, seed=1, scenarios=[sc], traffic={"tiny": traffic}, scored=Scored(),
                     classes=CLASSES, checks=resolve([c.id for c in ex.checks]))


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from harness.runtime.docker import docker_client

    c = docker_client()
    yield c
    c.close()


@pytest.mark.parametrize("name,status,needle", [
    ("build-fails", "build_failed", "returned a non-zero code: 3"),
    ("add-url", "build_failed", "ADD from a URL is not allowed"),
    ("exits-at-once", "start_failed", "exited with code 0"),
    ("eats-memory", "crashed", "memory limit"),
    ("crash-on-request", "crashed", "exit code 3"),
    ("hang-requests", "timed_out", "no complete answer within 1 s"),
])
def test_hostile_submission_gets_a_report_with_its_status(
        tmp_path: Path, hostile: Any, plan: Any, base_image: str, client: Any, name: str, status: str,
        needle: str) -> None:
    from harness.grading import grade_one
    from harness.runtime.docker import DockerRuntime

    label = f"test-grade-{uuid.uuid4().hex[:8]}"
    rt = DockerRuntime(plan.exercise, run_label=label, base_image=base_image)
    budgets = Budgets(startup_s=8, request_timeout_s=1, grading_timeout_s=60)
    t0 = time.monotonic()
    _, out = grade_one(hostile(name), plan=plan, budgets=budgets, runtime_obj=rt, out=tmp_path / "report")
    elapsed = time.monotonic() - t0
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == status
    assert any(needle in r for r in report["reasons"]), report["reasons"]
    assert report["score"] < 50
    assert elapsed < budgets.grading_timeout_s + 60  # bounded: generous, the point is "it ends"
    flt = {"label": f"shiftwork.run={label}"}
    assert client.containers.list(all=True, filters=flt) == []
    assert client.networks.list(filters=flt) == []
    assert client.images.list(filters=flt) == []
