"""A candidate's first `make check`: from an unzipped bundle with no venv to the first check result.

Packages the exercise's bundle from this checkout, unzips it to an empty folder and runs
`make check` as a candidate does (the bundle's Makefile makes .venv, installs the shiftwork
wheel it ships, base distribution only, with requirements.txt, then runs the public
self-check with `--runtime auto`). Timed: until the first line naming a check appears, and
until make exits. pip reads this machine's package index and cache as a candidate's would.

Run: `make bench`, or `python benchmarks/bench_bundle_check.py [RUNS] [EXERCISE]` (default 2,
support-triage; medians printed). Figures are printed, never asserted.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "support-triage"


def _bundle(tmp: Path, exercise: str, k: int) -> Path:
    sw = str(Path(sys.executable).parent / "shiftwork")
    env = {**os.environ, "SHIFTWORK_SECRET": "bench-secret-" + "x" * 24}
    out = tmp / f"pkg-{k}"
    subprocess.run([sw, "package", exercise, "--candidate", f"bench{k}", "--out", str(out)], env=env, check=True,
                   capture_output=True, cwd=ROOT)
    archive = next(out.glob("*.zip"))
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp / f"unzipped-{k}")
    return next((tmp / f"unzipped-{k}").iterdir())


def one_run(tmp: Path, exercise: str, k: int, checks: list[str]) -> dict[str, float]:
    bundle = _bundle(tmp, exercise, k)
    env = {key: v for key, v in os.environ.items() if not key.startswith("SHIFTWORK_")}
    env["COLUMNS"] = "200"
    began = time.perf_counter()
    first = None
    proc = subprocess.Popen(["make", "check", f"PY={sys.executable}"], cwd=bundle, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if first is None and any(c in line for c in checks):
            first = time.perf_counter() - began
    code = proc.wait()
    total = time.perf_counter() - began
    if code != 0:
        raise RuntimeError("make check failed:\n" + "".join(lines[-30:]))
    return {"first_result": first if first is not None else float("nan"), "make_check": total}


def run(runs: int = 2, exercise: str = EXERCISE) -> dict[str, list[float]]:
    from grader.exercise import load_exercise

    checks = [c.id for c in load_exercise(exercise).checks]
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="shiftwork-bench-check-") as tmp:
        for k in range(runs):
            for key, v in one_run(Path(tmp), exercise, k, checks).items():
                out.setdefault(key, []).append(v)
    return out


def _print(results: dict[str, list[float]], exercise: str = EXERCISE) -> None:
    print(f"a candidate's first `make check` of {exercise} from an empty venv (base install, --runtime auto), "
          f"{len(results['make_check'])} runs (median; all runs)")
    for key, vals in results.items():
        print(f"  {key:14s} {statistics.median(vals):8.2f} s   " + ", ".join(f"{v:.2f}" for v in vals))


@pytest.mark.slow
def test_first_make_check_from_an_empty_venv(capsys: pytest.CaptureFixture[str]) -> None:
    results = run(2)
    with capsys.disabled():
        print()
        _print(results)
    assert all(v > 0 for v in results["make_check"])


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    ex = sys.argv[2] if len(sys.argv) > 2 else EXERCISE
    _print(run(n, ex), ex)
