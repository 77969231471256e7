"""Bundle building blocks: input checks, starter allowlist, deterministic git repo and zip, the wheel."""
from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness import bundle
from grader.errors import UsageError


@pytest.mark.parametrize("cand", ["jane-doe", "c42", "A.b_c-9", "x" * 64])
def test_safe_candidate_ids_pass(cand: str) -> None:
    assert bundle.validate_candidate(cand) == cand


@pytest.mark.parametrize("cand", ["../etc", "a/b", "jane doe", "-rf", ".hidden", "a..b", "x" * 65, "é", "a@b.c"])
def test_unsafe_candidate_ids_fail(cand: str) -> None:
    with pytest.raises(UsageError, match="unsafe candidate id"):
        bundle.validate_candidate(cand)


@pytest.mark.parametrize("cand", ["", "   "])
def test_empty_candidate_id_fails(cand: str) -> None:
    with pytest.raises(UsageError, match="empty"):
        bundle.validate_candidate(cand)


def test_package_rejects_unknown_exercise(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown exercise"):
        bundle.package_command("no-such-exercise", candidate="c1", out=tmp_path, console=Console(quiet=True))


def test_package_rejects_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="cannot write to"):
        bundle.package_command("support-triage", candidate="c1", out=blocker / "sub", console=Console(quiet=True))


def test_messages_are_one_line(tmp_path: Path) -> None:
    for call in (lambda: bundle.validate_candidate("a b"), lambda: bundle.validate_candidate("")):
        with pytest.raises(UsageError) as info:
            call()
        assert "\n" not in str(info.value)


def _starter(tmp_path: Path) -> Path:
    root = tmp_path / "starter"
    files = {
        "Dockerfile": "FROM python:3.11-slim\nCMD [\"uvicorn\", \"app.main:app\"]\n",
        "requirements.txt": "fastapi\n", "contract/openapi.json": "{}", "app/main.py": "app = None\n",
        "app/sub/util.py": "", "train.py": "", "tests/test_app.py": "", "service/x/y.py": "",
        # not allowlisted: must never be shipped
        "secrets.txt": "CANARY", "app/model.pkl": "CANARY", "app/__pycache__/main.cpython-311.pyc": "CANARY",
        "notes/solution.md": "CANARY", ".env": "CANARY", "contract/extra.json": "CANARY",
        "solutions/reference/main.py": "CANARY", "data/train.csv": "CANARY", "app/.venv/x.py": "CANARY",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_starter_files_take_only_the_allowlist(tmp_path: Path) -> None:
    picked = bundle.starter_files(_starter(tmp_path))
    assert sorted(picked) == ["Dockerfile", "app/main.py", "app/sub/util.py", "contract/openapi.json",
                              "requirements.txt", "service/x/y.py", "tests/test_app.py", "train.py"]
    assert all(b"CANARY" not in v for v in picked.values())


def test_starter_without_dockerfile_is_a_usage_error(tmp_path: Path) -> None:
    root = _starter(tmp_path)
    (root / "Dockerfile").unlink()
    with pytest.raises(UsageError, match="no Dockerfile"):
        bundle.starter_files(root)


def _make_repo(folder: Path) -> Path:
    bundle.write_tree(folder, {"README.md": b"hi\n", "app/main.py": b"x = 1\n", "data/train.csv": b"a,b\n1,2\n"})
    bundle.git_commit(folder, "subject\n\nbody\n")
    return folder


def test_git_repo_has_one_fixed_commit_and_identical_bytes(tmp_path: Path) -> None:
    a, b = _make_repo(tmp_path / "a"), _make_repo(tmp_path / "b")
    log = subprocess.run(["git", "-C", str(a), "log", "--format=%H|%an|%ae|%aI|%cn|%cI"], capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()
    assert len(log) == 1
    sha, name, email, adate, cname, cdate = log[0].split("|")
    assert (name, email, cname) == ("shiftwork", "shiftwork@localhost", "shiftwork")
    assert adate == cdate == "2026-01-01T00:00:00+00:00"
    head_b = subprocess.run(["git", "-C", str(b), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert head_b == sha
    bundle.write_zip(a, tmp_path / "a.zip", top="x")
    bundle.write_zip(b, tmp_path / "b.zip", top="x")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    status = subprocess.run(["git", "-C", str(a), "status", "--porcelain"], capture_output=True, text=True).stdout
    assert status == ""


def test_zip_holds_the_repo_under_one_folder(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path / "r")
    bundle.write_zip(repo, tmp_path / "r.zip", top="ex-c1")
    with zipfile.ZipFile(tmp_path / "r.zip") as zf:
        names = zf.namelist()
        assert all(n.startswith("ex-c1/") for n in names)
        assert "ex-c1/app/main.py" in names and "ex-c1/.git/HEAD" in names
        zf.extractall(tmp_path / "unz")
    status = subprocess.run(["git", "-C", str(tmp_path / "unz" / "ex-c1"), "status", "--porcelain"],
                            capture_output=True, text=True)
    assert status.returncode == 0 and status.stdout == ""


def test_wheel_holds_only_harness_and_grader_and_builds_identically(shiftwork_wheel: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # the session's wheel (a real build of a snapshot) against a second real build of the same snapshot
    name, data = shiftwork_wheel.name, shiftwork_wheel.data
    monkeypatch.setattr(bundle, "_WHEEL_CACHE", {})
    assert bundle.build_wheel(shiftwork_wheel.source) == (name, data)
    assert name.startswith("shiftwork-") and name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert "harness/selfcheck.py" in names and "grader/contract.py" in names
        # package data too: the bundle's self-check writes its report with the grader's templates
        assert "grader/report/templates/report.md.j2" in names and "harness/templates/bundle/Makefile.j2" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert not [n for n in names if n.startswith(("exercises/", "datasets/", "tests/"))]
        meta = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: pandas==2.3.3" in meta  # deps are pinned, so `make check` installs known versions


def test_allowlist_globs_respect_path_segments() -> None:
    assert bundle.allowed("serve.py", "*.py") and not bundle.allowed("solutions/x.py", "*.py")
    assert bundle.allowed("service/main.py", "service/**/*.py") and bundle.allowed("service/a/b.py", "service/**/*.py")
    assert not bundle.allowed("service/model.pkl", "service/**/*.py")


def test_dockerignore_keeps_the_starter_lines_and_adds_bundle_folders() -> None:
    text = bundle.dockerignore("__pycache__/\n.venv/\n")
    lines = text.splitlines()
    assert lines[:2] == ["__pycache__/", ".venv/"]
    assert {"tools", "selfcheck", ".git"} <= set(lines) and lines.count(".venv") == 0
    assert "tools" in bundle.dockerignore(None).splitlines()


def test_the_secret_is_refused_as_content() -> None:
    secret = b"s3cret-value-that-is-long-enough"
    bundle._refuse_secret({"a.txt": b"fine"}, secret)
    with pytest.raises(bundle.ShiftworkError, match="grader secret appears in b.txt"):
        bundle._refuse_secret({"a.txt": b"fine", "b.txt": b"x" + secret}, secret)


def test_package_will_not_replace_a_folder_that_is_not_a_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIFTWORK_SECRET", "test-secret")
    victim = tmp_path / "support-triage-c1"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="is not a bundle"):
        bundle.package_command("support-triage", candidate="c1", out=tmp_path, console=Console(quiet=True))
    assert (victim / "precious.txt").read_text() == "keep me"
