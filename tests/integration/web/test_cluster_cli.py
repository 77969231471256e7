"""`shiftwork grade --submissions`: local as before without a broker; with one, a database is required.
(The cohort through the queue with real workers is in test_cluster.py.)"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SHIFTWORK = Path(sys.executable).parent / "shiftwork"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_")}
    env.update(SHIFTWORK_SECRET="cli-queue-tests-secret-0123456789abcdef0123", COLUMNS="160", **extra)
    return env


def _folder(tmp_path: Path) -> Path:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "garbage.zip").write_bytes(b"not a zip archive at all" * 10)
    return subs


def test_without_a_broker_the_cohort_is_graded_here_as_before(tmp_path: Path) -> None:
    got = subprocess.run([str(SHIFTWORK), "grade", "--submissions", str(_folder(tmp_path)), "--exercise",
                          "support-triage", "--runtime", "local", "--out", str(tmp_path / "out")],
                         env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    text = got.stdout + got.stderr
    assert got.returncode == 1, text  # nothing could be graded: the local cohort's exit code
    assert "garbage: not graded:" in text and "cohort: 0 of 1 graded" in text
    assert "grading queue" not in text and not (tmp_path / "shiftwork-data").exists()
    assert (tmp_path / "out" / "cohort.csv").is_file()


def test_with_a_broker_but_no_database_it_says_what_is_missing(tmp_path: Path) -> None:
    got = subprocess.run([str(SHIFTWORK), "grade", "--submissions", str(_folder(tmp_path))],
                         env=_env(SHIFTWORK_BROKER_URL="redis://127.0.0.1:1/0"), capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    text = got.stdout + got.stderr
    assert got.returncode == 2, text
    assert "SHIFTWORK_DATABASE_URL is not" in text and "Traceback" not in text and len(text.strip().splitlines()) == 1


def test_local_runtime_cannot_go_through_the_queue(tmp_path: Path) -> None:
    got = subprocess.run([str(SHIFTWORK), "grade", "--submissions", str(_folder(tmp_path)), "--runtime", "local"],
                         env=_env(SHIFTWORK_BROKER_URL="redis://127.0.0.1:1/0",
                                  SHIFTWORK_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"),
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    text = got.stdout + got.stderr
    assert got.returncode == 2 and "--runtime local cannot go through the queue" in text, text
    assert not (tmp_path / "x.db").exists()
