"""`shiftwork scenarios check <exercise>`: every scenario of the tabular and series exercises is fair at its
window, on every calibration seed.

(support-triage, with the unfair-scenario cases, is tests/integration/test_calibration.py.)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIFTWORK = [sys.executable, "-c", "from harness.cli import main; main()"]
# every held-back lesson of each exercise must be a confirmed expectation, not an unscored one; and
# what the stable figure is (a numeric target's performance expectation is an error test)
LESSONS = {
    "credit-default": (("monthly", "gig-workers", "bureau-down", "men-default", "opposite-moves",
                        "high-school-surge"), "Stable accuracy"),
    "load-forecast": (("stuck", "offset", "gigawatts", "shifted", "heat", "tariff", "outage"),
                      "Stable mean absolute error"),
}


def home_with_checkout_calibration(tmp_path: Path, exercise: str) -> Path:
    """A SHIFTWORK_HOME holding a copy of `exercise`, its calibration already in the copy's cache.

    Calibrating takes minutes (every calibration seed); a copy of the same inputs keys alike. The
    checkout ships the report of today's inputs (calibration/, its key checked by
    tests/unit/test_calibration_shipped.py); only when it is stale is it made, in the checkout's cache.
    """
    from grader.exercise import load_exercise
    from harness.calibration import cache_key
    from harness.calibration_store import cached_report, shipped_path, shipped_report

    home = tmp_path / "home"
    (home / "exercises").mkdir(parents=True)
    os.symlink(ROOT / "datasets", home / "datasets")
    shutil.copytree(ROOT / "exercises" / exercise, home / "exercises" / exercise,
                    ignore=shutil.ignore_patterns("solutions", "starter"))
    at_root = load_exercise(exercise, root=ROOT)
    report = shipped_report(at_root) or cached_report(at_root, cache_dir=ROOT / ".cache" / "calibration")
    assert report.key == cache_key(load_exercise(exercise, root=home), windows=report.windows, seed=report.seed)
    (home / ".cache" / "calibration").mkdir(parents=True)
    name = f"{shipped_path(at_root, windows=report.windows, seed=report.seed).stem}-{report.key}.json"
    (home / ".cache" / "calibration" / name).write_text(report.model_dump_json(indent=1) + "\n")
    return home


def assert_every_seed_holds(home: Path, exercise: str) -> None:
    """Each confirmed expectation holds on each calibration seed, not only pooled."""
    from harness.calibration import ASPECTS, SEEDS, CalibrationReport, seed_holds

    [path] = (home / ".cache" / "calibration").glob(f"{exercise}-*.json")
    report = CalibrationReport.model_validate_json(path.read_text())
    assert len(report.seeds) == SEEDS and report.failures() == []
    for p in report.phases:
        assert [s.seed for s in p.seeds] == report.seeds
        for a in ASPECTS:
            want = getattr(p.expect, a)
            if want in ("detect", "silent"):
                assert all(seed_holds(want, round(s.rate(a) * s.windows), s.windows) for s in p.seeds), (p.phase, a)


@pytest.mark.slow
@pytest.mark.parametrize("exercise", sorted(LESSONS))
def test_scenarios_pass_calibration(tmp_path: Path, exercise: str) -> None:
    home = home_with_checkout_calibration(tmp_path, exercise)
    env = {**os.environ, "SHIFTWORK_HOME": str(home), "COLUMNS": "260"}
    done = subprocess.run([*SHIFTWORK, "scenarios", "check", exercise], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
    phases, figure = LESSONS[exercise]
    for phase in phases:
        assert phase in done.stdout
    assert figure in done.stdout
    assert "detect ok" in done.stdout and "silent ok" in done.stdout
    assert "worst seed" in done.stdout and "8 seeds" in done.stdout  # the table shows the weakest seed
    assert "read from cache" in done.stdout
    assert_every_seed_holds(home, exercise)
