"""Every exercise ships its calibration, made from exactly today's inputs (issue 24: fast from the first grading).

A fresh machine, a new worker's data folder or a CI clone reads calibration/<exercise>-….json
instead of simulating for minutes inside the first candidate's grading. The shipped report
counts only while its key (a hash of the recipe, scenarios, data engine and calibration code)
matches: edit any of them and this fails until `make calibration` ships a new one.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.exercise import list_exercises, load_exercise
from harness import calibration, calibration_store


@pytest.mark.parametrize("exercise", list_exercises())
def test_the_shipped_calibration_is_current(exercise: str) -> None:
    ex = load_exercise(exercise)
    path = calibration_store.shipped_path(ex)
    assert path.is_file(), f"{path} is missing: run `make calibration`"
    shipped = json.loads(path.read_text())["key"]
    assert shipped == calibration.cache_key(ex, windows=calibration.WINDOWS, seed=7), (
        f"{path.name} was made from other inputs than today's (a scenario, recipe, the data engine or the "
        "calibration code changed): run `make calibration` and commit calibration/")
    assert calibration_store.shipped_report(ex) is not None


def test_a_current_shipped_report_is_read_without_simulating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = load_exercise(list_exercises()[0])
    monkeypatch.setattr(calibration_store, "calibrate", lambda *a, **k: pytest.fail("simulated despite a shipped report"))
    monkeypatch.setenv("SHIFTWORK_CACHE", str(tmp_path / "empty"))
    report = calibration_store.cached_report(ex)
    assert report.exercise == ex.id and report.cached
    assert not (tmp_path / "empty").exists()  # nothing simulated, nothing cached


def test_a_stale_shipped_report_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = load_exercise(list_exercises()[0])
    home = tmp_path / "home"
    home.mkdir()
    for name in ("exercises", "datasets"):
        (home / name).symlink_to(calibration_store.repo_root() / name)
    stale = json.loads(calibration_store.shipped_path(ex).read_text())
    stale["key"] = "0" * 24
    monkeypatch.setenv("SHIFTWORK_HOME", str(home))
    (home / calibration_store.SHIPPED_FOLDER).mkdir()
    calibration_store.shipped_path(ex).write_text(json.dumps(stale))
    assert calibration_store.shipped_report(ex) is None
    simulated = []
    monkeypatch.setattr(calibration_store, "calibrate", lambda exercise, **k: simulated.append(exercise.id) or
                        calibration.CalibrationReport.model_validate({**stale, "key": calibration.cache_key(
                            exercise, windows=calibration.WINDOWS, seed=7)}))
    monkeypatch.setenv("SHIFTWORK_CACHE", str(tmp_path / "cache"))
    calibration_store.cached_report(ex)
    assert simulated == [ex.id]
    assert list((tmp_path / "cache" / "calibration").glob(f"{ex.id}-*.json"))  # honours SHIFTWORK_CACHE
