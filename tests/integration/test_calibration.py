"""`shiftwork scenarios check`: the shipped scenarios are fair; a too-weak one is refused."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIFTWORK = [sys.executable, "-c", "from harness.cli import main; main()"]

WEAK = """
name = "too-weak"
description = "A shift far too small for a 500-record window, yet marked must-detect."
batch_size = 100
window = 500

[[phases]]
name = "stable"
records = 1000
expect = { drift = "silent" }

[[phases]]
name = "tiny-shift"
records = 1000
shifts = [{ kind = "covariate", field = "account_age_days", scale = 1.01 }]
expect = { drift = "detect" }
"""


PUBLIC = """
name = "self-check"
public = true
window = 500

[[phases]]
name = "stable"
records = 600
expect = { drift = "silent" }
"""


def _home(tmp_path: Path, scenarios: dict[str, str] | None = None) -> Path:
    """A SHIFTWORK_HOME with the real datasets and a copy of support-triage (optionally other scenarios)."""
    home = tmp_path / "home"
    (home / "exercises").mkdir(parents=True)
    os.symlink(ROOT / "datasets", home / "datasets")
    ex = home / "exercises" / "support-triage"
    shutil.copytree(ROOT / "exercises" / "support-triage", ex, ignore=shutil.ignore_patterns("solutions", "starter"))
    if scenarios is not None:
        for name, text in scenarios.items():
            (ex / "scenarios" / name).write_text(text)
        toml = (ex / "exercise.toml").read_text()
        listed = ", ".join(f'"{n}"' for n in scenarios)
        toml = re.sub(r"scenarios = \[[^\]]*\]", f"scenarios = [{listed}]", toml, count=1)
        (ex / "exercise.toml").write_text(toml)
        (ex / "public" / "self-check.toml").write_text(PUBLIC)
    return home


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHIFTWORK_HOME": str(home), "COLUMNS": "260"}
    return subprocess.run([*SHIFTWORK, "scenarios", "check", "support-triage", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_support_triage_scenarios_pass_calibration(tmp_path: Path) -> None:
    from tests.integration.test_calibration_exercises import assert_every_seed_holds, home_with_checkout_calibration

    home = home_with_checkout_calibration(tmp_path, "support-triage")
    done = _run(home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
    for phase in ("crm-outage", "refunds-to-billing", "launch", "renamed", "phone-surge"):
        assert phase in done.stdout
    assert "detect ok" in done.stdout and "silent ok" in done.stdout
    assert "worst seed" in done.stdout and "read from cache" in done.stdout
    # fair on every calibration seed, not only pooled
    assert_every_seed_holds(home, "support-triage")


@pytest.mark.slow
def test_too_weak_scenario_fails_calibration_naming_the_phase(tmp_path: Path) -> None:
    home = _home(tmp_path, {"too-weak.toml": WEAK})
    done = _run(home, "--windows", "20")
    assert done.returncode == 6, done.stdout[-3000:] + done.stderr[-3000:]
    message = " ".join(done.stderr.split())  # rich wraps long lines
    assert "too-weak/tiny-shift: drift expected detect, reference rate 0.0" in message
    assert "Traceback" not in done.stderr


def test_scored_phases_keep_only_confirmed_expectations(tmp_path: Path) -> None:
    from harness.calibration import CalibrationReport, PhaseCalibration, verdict
    from harness.calibration_store import scored_phases
    from grader.truth import PhaseExpect

    assert verdict("detect", 0.95) == "must detect" and verdict("detect", 0.9) == "FAIL"
    assert verdict("silent", 0.05) == "must stay silent" and verdict("silent", 0.1) == "FAIL"
    assert verdict("unscored", 1.0) == "reported" and verdict("detect", None) == "FAIL"

    from harness.calibration import cache_key
    from grader.exercise import load_exercise

    home = _home(tmp_path, {"too-weak.toml": WEAK})
    ex = load_exercise("support-triage", root=home)
    key = cache_key(ex, windows=3, seed=1)

    def phase(name: str, expect: PhaseExpect, drift: float, quality: float, perf: float | None) -> PhaseCalibration:
        rates = {"drift": drift, "quality": quality, "performance": perf}
        return PhaseCalibration(scenario="too-weak", phase=name, window=500, windows=3, drift_rate=drift,
                                quality_rate=quality, performance_rate=perf, evidently_rate=None, expect=expect,
                                verdicts={a: verdict(getattr(expect, a), rates[a]) for a in rates})

    report = CalibrationReport(exercise=ex.id, key=key, windows=3, seed=1, reference="test", stable_accuracy=0.8,
                               seconds=0.0, phases=[
                                   phase("stable", PhaseExpect(drift="silent", quality="silent"), 0.0, 0.1, 0.0),
                                   phase("tiny-shift", PhaseExpect(drift="detect", performance="detect"), 0.4, 0.0, 1.0),
                               ])
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"support-triage-w3-s1-{key}.json").write_text(report.model_dump_json())
    scored = scored_phases(ex, windows=3, seed=1, cache_dir=cache)  # read from the cache, not simulated
    assert scored.drift == {("too-weak", "stable"): "silent"}
    assert scored.quality == {}
    assert scored.performance == {("too-weak", "tiny-shift"): "detect"}
    assert report.failures() == [
        "too-weak/stable: quality expected silent, reference rate 0.10",
        "too-weak/tiny-shift: drift expected detect, reference rate 0.40",
    ]
