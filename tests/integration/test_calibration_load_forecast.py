"""`shiftwork scenarios check load-forecast`: every load-forecast scenario is fair at its window."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIFTWORK = [sys.executable, "-c", "from harness.cli import main; main()"]


@pytest.mark.slow
def test_load_forecast_scenarios_pass_calibration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "exercises").mkdir(parents=True)
    os.symlink(ROOT / "datasets", home / "datasets")
    shutil.copytree(ROOT / "exercises" / "load-forecast", home / "exercises" / "load-forecast",
                    ignore=shutil.ignore_patterns("solutions", "starter"))
    env = {**os.environ, "SHIFTWORK_HOME": str(home), "COLUMNS": "220"}
    done = subprocess.run([*SHIFTWORK, "scenarios", "check", "load-forecast"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
    # every held-back lesson is a confirmed expectation: the new shift kinds among them
    for phase in ("stuck", "offset", "gigawatts", "shifted", "heat", "tariff", "outage"):
        assert phase in done.stdout
    assert "detect ok" in done.stdout and "silent ok" in done.stdout
    # the performance expectation of a numeric target is an error test (MAE), not accuracy
    assert "mean absolute error" in done.stdout
    assert list((home / ".cache" / "calibration").glob("load-forecast-*.json"))
