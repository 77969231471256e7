"""`shiftwork data`: files written, per-candidate seeds, one-line errors for bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness.data.engine import generate_training, load_recipe
from grader.truth import ScenarioTraffic
from harness.datacmd import write_data
from grader.errors import UsageError
from harness.secret import derive_seed

QUIET = Console(file=open("/dev/null", "w"))


def test_writes_training_data_and_dictionary(tmp_path: Path):
    write_data("support-triage", seed=5, out=tmp_path / "d", candidate=None, heldout=False, console=QUIET)
    csv = (tmp_path / "d" / "train.csv").read_text()
    assert csv == generate_training(load_recipe("support-triage"), 5).csv_text()
    assert csv.splitlines()[0].endswith(",queue")
    assert "## Fields" in (tmp_path / "d" / "data_dictionary.md").read_text()
    assert not (tmp_path / "d" / "heldout").exists()


def test_candidate_seed_is_derived(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SHIFTWORK_SECRET", "test-secret")
    write_data("support-triage", seed=5, out=tmp_path, candidate="ada", heldout=False, console=QUIET)
    seed = derive_seed(b"test-secret", "support-triage", "ada")
    assert (tmp_path / "train.csv").read_text() == generate_training(load_recipe("support-triage"), seed).csv_text()


def test_heldout_writes_one_traffic_file_per_scenario(tmp_path: Path):
    write_data("support-triage", seed=5, out=tmp_path, candidate=None, heldout=True, console=QUIET)
    files = sorted(p.stem for p in (tmp_path / "heldout").glob("*.json"))
    assert len(files) == 8 and "policy-change" in files
    st = ScenarioTraffic.model_validate(json.loads((tmp_path / "heldout" / "outage.json").read_text()))
    assert st.scenario == "outage" and st.phases[1].truth.quality_fields


@pytest.mark.parametrize("exercise, out, match", [
    ("no-such-exercise", None, "unknown exercise"),
    ("support-triage", "file", "not a folder|cannot create"),
])
def test_bad_input_is_a_usage_error(tmp_path: Path, exercise, out, match):
    target = tmp_path / "out"
    if out == "file":
        target.write_text("x")
    with pytest.raises(UsageError, match=match):
        write_data(exercise, seed=1, out=target, candidate=None, heldout=False, console=QUIET)


def test_cli_prints_one_line_without_traceback(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", "data", "nope",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown exercise" in proc.stderr and "Traceback" not in proc.stderr
