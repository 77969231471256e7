"""A second recipe of another shape grades end to end: tiny-sensors (numeric sensors, one note, binary label).

The grader is generic when a dataset it was not written for — other field names, the id
on the wire as `id`, a binary label — goes through planning (traffic, calibration,
baselines), replay and every check without a special case. Graded with the do-nothing
stub (our own stdlib service, local runtime) so the score is known: nothing but what
running fast and small earns.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from grader.exercise import load_exercise
from harness.grading import grade_one, plan_grading

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("tiny-home")
    shutil.copytree(ROOT / "datasets" / "tiny-sensors", home / "datasets" / "tiny-sensors")
    shutil.copytree(FIXTURES / "exercises" / "tiny-sensors", home / "exercises" / "tiny-sensors")
    return home


def test_tiny_sensors_plans_and_grades_end_to_end(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIFTWORK_HOME", str(home))
    ex = load_exercise("tiny-sensors")
    plan = plan_grading(ex, 7, Console(quiet=True))
    # calibration scored the offset as must-detect and the stable phase as must-stay-silent
    assert plan.scored.drift == {("warm-site", "stable"): "silent", ("warm-site", "hot"): "detect"}
    records = [r for p in plan.traffic["warm-site"].phases for r in p.records]
    assert all("id" in r for r in records) and not any("reading_id" in r for r in records)
    assert "reading_at" in plan.fields and "status" not in plan.fields
    sub = shutil.copytree(FIXTURES / "services" / "trivial", tmp_path / "sub",
                          ignore=shutil.ignore_patterns("__pycache__", "trivial.json"))
    (sub / "trivial.json").write_text(json.dumps({"mode": "do_nothing", "fields": plan.fields, "label": "ok"}))
    report, _ = grade_one(sub, out=tmp_path / "report", runtime="local", plan=plan, console=Console(quiet=True))
    assert report.status == "graded", report.reasons
    checks = {c.id: c for c in report.checks}
    assert checks["no_server_errors"].score == 1.0 and checks["drift_alarm_delay"].not_measured is None
    # a constant answer and no alarm: only running fast and small earns anything
    assert {d: v.score for d, v in report.dimensions.items() if d != "operations"} == {
        "validation": 0.0, "monitoring": 0.0, "degradation": 0.0, "accuracy": 0.0}
    assert "a plain TF-IDF + logistic regression on note" in checks["in_distribution_accuracy"].evidence
