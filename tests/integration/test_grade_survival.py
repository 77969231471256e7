"""grade_one survives misbehaving services: every case writes a report with a named status and reason."""
from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

from grader.checks import Scored, resolve
from grader.grade import GradePlan
from harness.grading import grade_one
from harness.data.engine import generate_scenario, load_recipe
from grader.exercise import Budgets, load_exercise
from harness.runtime.local import LocalRuntime
from harness.runtime.proctree import session_pids
from grader.scenario import Phase, Scenario

_spec = importlib.util.spec_from_file_location("lrt", Path(__file__).with_name("test_local_runtime.py"))
_lrt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_lrt)  # type: ignore[union-attr]
stub_submission = _lrt.stub_submission

BUDGETS = Budgets(startup_s=4, p95_ms=500, request_timeout_s=1.0, max_response_bytes=1_000_000,
                  grading_timeout_s=60)


@pytest.fixture(scope="module")
def plan() -> GradePlan:
    ex = load_exercise("support-triage")
    recipe = load_recipe(ex.dataset)
    scenarios = [
        Scenario(name="mini", batch_size=50, label_delay=1, window=100, phases=[Phase(name="stable", records=150)]),
        Scenario(name="mini-ops", batch_size=50, label_delay=1, window=100, phases=[
            Phase(name="stable", records=100), Phase(name="load", kind="load", records=100, requests=4, concurrency=2),
            Phase(name="restart", kind="restart", records=50)]),
    ]
    return GradePlan(exercise=ex, seed=7, scenarios=scenarios,
                     traffic={s.name: generate_scenario(recipe, s, 7) for s in scenarios},
                     scored=Scored(), classes=list(recipe.classes), checks=resolve([c.id for c in ex.checks]))


def grade(tmp_path: Path, plan: GradePlan, mode: str):
    sub = stub_submission(tmp_path / mode, mode)
    rt = LocalRuntime(plan.exercise)
    start = time.monotonic()
    report, out = grade_one(sub, out=tmp_path / "out", plan=plan, budgets=BUDGETS, runtime_obj=rt)
    took = time.monotonic() - start
    saved = json.loads((out / "report.json").read_text())
    assert saved["status"] == report.status
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert rt._proc is None and rt._tmp is None  # torn down
    return report, saved, took


def test_good_service_is_graded(tmp_path: Path, plan: GradePlan) -> None:
    report, saved, _ = grade(tmp_path, plan, "good")
    assert report.status == "graded", report.reasons
    assert saved["report_version"] == 1
    assert saved["timings_s"]["replay"] > 0 and "startup" in saved["timings_s"]
    assert any("NOT isolated" in n for n in saved.get("notes", []))
    ops = {c["id"]: c for c in saved["checks"] if c["dimension"] == "operations"}
    assert ops["restart_recovery"]["score"] == 1.0
    assert ops["latency_p95"]["not_measured"] is None


@pytest.mark.parametrize("mode, status, reason", [
    ("never_ready", "start_failed", "not ready after 4 s"),
    ("exit", "start_failed", "exited with code 3"),
    ("hang", "timed_out", "3 requests in a row"),
    ("crash", "crashed", "died with exit code 1"),
])
def test_broken_services_get_a_report_with_a_named_status(tmp_path: Path, plan: GradePlan, mode: str, status: str,
                                                          reason: str) -> None:
    report, saved, took = grade(tmp_path, plan, mode)
    assert report.status == status
    assert any(reason in r for r in report.reasons), report.reasons
    if status == "start_failed":
        assert report.score == 0
        assert all(d["score"] == 0 for d in saved["dimensions"].values())
        assert all(c["not_measured"] for c in saved["checks"])
    assert took < 45  # bounded by the small budgets, not by the service


@pytest.mark.parametrize("mode", ["garbage", "huge"])
def test_garbage_and_huge_answers_are_graded_badly_not_fatally(tmp_path: Path, plan: GradePlan, mode: str) -> None:
    report, saved, _ = grade(tmp_path, plan, mode)
    assert report.status == "graded"
    assert saved["dimensions"]["validation"]["score"] < 30
    assert report.score < 40
    if mode == "huge":
        transcript = json.loads((tmp_path / "out" / "transcript.json").read_text())
        assert {e["error"] for r in transcript["runs"] for e in r["exchanges"]} == {"too_large"}


@pytest.mark.slow
def test_no_process_survives_a_stubborn_service(tmp_path: Path, plan: GradePlan) -> None:
    sub = stub_submission(tmp_path / "stubborn", "ignore_term")
    rt = LocalRuntime(plan.exercise)
    seen: list[int] = []
    real_spawn = rt._spawn

    def spawn():  # every copy of the service the runtime starts, warm ones included
        made = real_spawn()
        seen.append(made[0].pid)
        return made

    rt._spawn = spawn  # type: ignore[method-assign]
    report, _ = grade_one(sub, out=tmp_path / "out", plan=plan, budgets=BUDGETS, runtime_obj=rt)
    assert report.status == "graded"
    # first start, the fresh (warm) copy for the second scenario, the restart phase
    assert len(seen) == 3
    assert all(not session_pids(pid) for pid in seen)


def test_cohort_grades_every_entry_and_writes_a_table(tmp_path: Path, plan: GradePlan,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.cohort as cohort_mod
    import harness.grading as grade_mod
    from rich.console import Console

    real = grade_mod.grade_one

    def small(entry, **kw):  # the real grade_one, with the small plan and budgets of this module
        kw.update(plan=plan, budgets=BUDGETS, runtime_obj=LocalRuntime(plan.exercise))
        return real(entry, **kw)

    monkeypatch.setattr(grade_mod, "grade_one", small)
    subs = tmp_path / "subs"
    stub_submission(subs / "alice", "good")
    stub_submission(subs / "bob", "exit")
    (subs / "carol.zip").write_text("not a zip")
    (subs / ".hidden").mkdir()
    out = tmp_path / "cohort"
    code = cohort_mod.grade_command(submission=None, submissions=subs, exercise="support-triage", out=out,
                                   runtime="local", seed=None, allow_bad_token=False, console=Console(quiet=True))
    assert code == 0
    rows = (out / "cohort.csv").read_text().splitlines()
    assert rows[0].startswith("submission,status,score,validation")
    by_name = {r.split(",")[0]: r.split(",")[1] for r in rows[1:]}
    assert by_name == {"alice": "graded", "bob": "start_failed", "carol": "not_graded"}
    assert (out / "alice" / "report.json").is_file() and (out / "bob" / "report.json").is_file()
    assert "| alice | graded |" in (out / "cohort.md").read_text()


def test_grade_command_needs_exactly_one_target(tmp_path: Path) -> None:
    from rich.console import Console

    from harness.cohort import grade_command
    from grader.errors import UsageError

    for sub, subs in ((None, None), ("x", tmp_path)):
        with pytest.raises(UsageError):
            grade_command(submission=sub, submissions=subs, exercise=None, out=None, runtime="local", seed=None,
                          allow_bad_token=False, console=Console(quiet=True))
