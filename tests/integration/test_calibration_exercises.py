"""`shiftwork scenarios check <exercise>`: every scenario of the tabular and series exercises is fair at its window.

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


@pytest.mark.slow
@pytest.mark.parametrize("exercise", sorted(LESSONS))
def test_scenarios_pass_calibration(tmp_path: Path, exercise: str) -> None:
    home = tmp_path / "home"
    (home / "exercises").mkdir(parents=True)
    os.symlink(ROOT / "datasets", home / "datasets")
    shutil.copytree(ROOT / "exercises" / exercise, home / "exercises" / exercise,
                    ignore=shutil.ignore_patterns("solutions", "starter"))
    env = {**os.environ, "SHIFTWORK_HOME": str(home), "COLUMNS": "220"}
    done = subprocess.run([*SHIFTWORK, "scenarios", "check", exercise], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
    phases, figure = LESSONS[exercise]
    for phase in phases:
        assert phase in done.stdout
    assert figure in done.stdout
    assert "detect ok" in done.stdout and "silent ok" in done.stdout
    assert list((home / ".cache" / "calibration").glob(f"{exercise}-*.json"))
