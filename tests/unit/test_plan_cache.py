"""The plan cache on disk: keyed by every input of a plan, a hit equals a fresh plan, a bad file is rebuilt."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.exercise import load_exercise

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "support-triage"
ONLY = ["stable-messy"]  # one scenario: the mechanism is under test, not the full held-back set


def _copy(dest: Path) -> Path:
    shutil.copytree(ROOT / "exercises" / EXERCISE, dest / "exercises" / EXERCISE,
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    return dest


def _same_plan(a: Any, b: Any) -> None:
    assert a.seed == b.seed and a.scenarios == b.scenarios and a.scored == b.scored
    assert a.traffic == b.traffic and a.baseline_predictions == b.baseline_predictions
    assert (a.classes, a.fields, a.baseline_name, a.baseline_accuracy) == (b.classes, b.fields, b.baseline_name,
                                                                           b.baseline_accuracy)
    assert [type(c) for c in a.checks] == [type(c) for c in b.checks] and a.checks


def test_the_key_changes_with_a_scenario_the_seed_or_the_selection_not_with_a_solution_or_the_place(tmp_path: Path) -> None:
    from harness.plan_cache import plan_key

    one, two = _copy(tmp_path / "one"), _copy(tmp_path / "two")
    ex = load_exercise(EXERCISE, root=one)
    key = plan_key(ex, 7)
    assert plan_key(load_exercise(EXERCISE, root=two), 7) == key  # same inputs elsewhere: same key
    assert plan_key(ex, 8) != key
    assert plan_key(ex, 7, ONLY) != key and plan_key(ex, 7, ONLY) == plan_key(ex, 7, list(reversed(ONLY)))
    solution = next(p for p in sorted((one / "exercises" / EXERCISE / "solutions").rglob("*.py")))
    solution.write_text(solution.read_text() + "\n# a solution is never planned from\n")
    assert plan_key(ex, 7) == key
    scenario = one / "exercises" / EXERCISE / "scenarios" / "stable-messy.toml"
    scenario.write_text(scenario.read_text().replace("mess = 3.0", "mess = 2.5"))
    assert plan_key(ex, 7) != key


def test_a_hit_equals_a_fresh_plan_and_a_changed_input_or_a_bad_file_plans_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.grading as grading
    import harness.planning as planning

    cache = tmp_path / "plans"
    ex = load_exercise(EXERCISE)
    calls: list[int] = []
    real = planning.plan_grading

    def counted(exercise: Any, seed: int, console: Any = None, only: Any = None) -> Any:
        calls.append(seed)
        return real(exercise, seed, console, only=only)

    monkeypatch.setattr(planning, "plan_grading", counted)
    fresh = grading.cached_plan(ex, 7, cache_dir=cache, only=ONLY)
    [stored] = cache.glob("*.pkl")
    hit = grading.cached_plan(ex, 7, cache_dir=cache, only=ONLY)
    assert calls == [7] and hit.exercise is ex and hit is not fresh
    _same_plan(hit, fresh)
    assert [s.name for s in hit.scenarios] == ONLY

    grading.cached_plan(ex, 8, cache_dir=cache, only=ONLY)  # another seed: planned, kept beside the first
    assert calls == [7, 8] and len(list(cache.glob("*.pkl"))) == 2

    stored.write_bytes(stored.read_bytes()[:100])  # truncated, as by a crash without the atomic rename
    again = grading.cached_plan(ex, 7, cache_dir=cache, only=ONLY)
    assert calls == [7, 8, 7]
    _same_plan(again, fresh)
    stored.write_bytes(b"not a pickle at all")
    grading.cached_plan(ex, 7, cache_dir=cache, only=ONLY)
    assert calls == [7, 8, 7, 7] and not list(cache.glob("*.tmp")) and not list(cache.glob(".*.tmp"))

    # an edited scenario file is another plan: planned again, and the older file of it removed
    home = _copy(tmp_path / "home")
    shutil.copytree(ROOT / "datasets", home / "datasets", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("SHIFTWORK_HOME", str(home))
    # the checkout's calibration: the edited copy would otherwise re-simulate for a minute
    monkeypatch.setattr(planning, "scored_phases", lambda exercise: fresh.scored)
    copy = load_exercise(EXERCISE)
    grading.cached_plan(copy, 7, cache_dir=cache, only=ONLY)
    assert calls == [7, 8, 7, 7]  # the same contents elsewhere: the checkout's plan is a hit
    scenario = home / "exercises" / EXERCISE / "scenarios" / "stable-messy.toml"
    scenario.write_text(scenario.read_text().replace("mess = 3.0", "mess = 2.5"))
    changed = grading.cached_plan(load_exercise(EXERCISE), 7, cache_dir=cache, only=ONLY)
    assert calls == [7, 8, 7, 7, 7]
    assert changed.traffic != fresh.traffic
    assert len(list(cache.glob("*.pkl"))) == 2  # the seed-7 plan of the old inputs was replaced, seed 8 kept


def test_an_unwritable_cache_folder_only_costs_a_replan(tmp_path: Path) -> None:
    from harness.grading import cached_plan

    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    plan = cached_plan(load_exercise(EXERCISE), 7, cache_dir=blocker / "plans", only=ONLY)
    assert [s.name for s in plan.scenarios] == ONLY and plan.traffic["stable-messy"].phases


def test_the_cache_folder_is_resolved_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.plan_cache import plan_cache_dir

    monkeypatch.delenv("SHIFTWORK_PLAN_CACHE", raising=False)
    monkeypatch.setenv("SHIFTWORK_CACHE", str(tmp_path / "c"))
    assert plan_cache_dir() == tmp_path / "c" / "plans"
    assert plan_cache_dir(tmp_path / "worker") == tmp_path / "worker"
    monkeypatch.setenv("SHIFTWORK_PLAN_CACHE", str(tmp_path / "p"))
    assert plan_cache_dir() == plan_cache_dir(tmp_path / "worker") == tmp_path / "p"


def test_grade_one_keeps_the_plan_of_a_chosen_seed_and_never_of_a_random_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusing_runtime: Any) -> None:
    import harness.grading as grading
    import harness.planning as planning
    from rich.console import Console

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "Dockerfile").write_text("FROM python:3.11-slim\nCMD [\"python\", \"-c\", \"pass\"]\n")
    seen: list[int] = []
    real = planning.plan_grading
    # one scenario's plan stands for the full one: what is kept, and when, is under test
    monkeypatch.setattr(planning, "plan_grading",
                        lambda ex, seed, console=None, only=None: seen.append(seed) or real(ex, seed, console, only=ONLY))
    cache = tmp_path / "plans"

    def grade(seed: int | None, n: int) -> Any:
        report, _ = grading.grade_one(sub, exercise=EXERCISE, out=tmp_path / f"out{n}", seed=seed, plan_dir=cache,
                                      runtime_obj=refusing_runtime, console=Console(quiet=True))
        assert report.status == "build_failed"
        return report

    grade(1234, 1)
    grade(1234, 2)  # read from the cache: planned once
    assert seen == [1234] and len(list(cache.glob(f"{EXERCISE}-s1234-all-*.pkl"))) == 1
    grade(None, 3)  # a fresh random seed: planned, not kept
    assert len(seen) == 2 and seen[1] != 1234 and len(list(cache.glob("*.pkl"))) == 1
