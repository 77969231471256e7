"""Resolving submissions: folders, archives (safely), git repositories, and the bundle token."""
from __future__ import annotations

import io
import json
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.submission import resolve_submission, submission_name
from grader.errors import SubmissionError, UsageError
from harness.secret import sign_token

SECRET = "test-secret"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIFTWORK_SECRET", SECRET)


def make_folder(path: Path, token: str | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "Dockerfile").write_text('CMD ["python", "serve.py"]\n')
    (path / "serve.py").write_text("print('hi')\n")
    if token is not None:
        meta = {"exercise": "support-triage", "version": "1.0.0", "candidate": "ada", "token": token}
        (path / ".exercise.json").write_text(json.dumps(meta))
    return path


def good_token() -> str:
    return sign_token(SECRET.encode(), "support-triage", "1.0.0", "ada")


@pytest.mark.parametrize("spec, name", [
    ("/x/sub-1/", "sub-1"), ("/x/alice.tar.gz", "alice"), ("bob.zip", "bob"),
    ("https://git.example/team/carol.git", "carol"), ("git@host:team/dan.git", "dan"), ("/x/we ird!.tgz", "we-ird"),
])
def test_names(spec: str, name: str) -> None:
    assert submission_name(spec) == name


def test_folder_with_a_valid_token(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "sub", good_token())
    with resolve_submission(folder) as sub:
        assert sub.folder == folder.resolve()
        assert sub.meta is not None and sub.meta.candidate == "ada"
        assert sub.flags == []
    assert folder.exists()  # a folder given by the user is never removed


def test_bad_token_is_refused_unless_allowed(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "sub", "0" * 64)
    with pytest.raises(SubmissionError, match="token"):
        resolve_submission(folder)
    with resolve_submission(folder, allow_bad_token=True) as sub:
        assert sub.flags and "token" in sub.flags[0]


def test_unreadable_exercise_json(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "sub")
    (folder / ".exercise.json").write_text("{not json")
    with pytest.raises(SubmissionError, match="exercise.json"):
        resolve_submission(folder)


def test_zip_of_one_folder_is_unwrapped_and_cleaned_up(tmp_path: Path) -> None:
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/Dockerfile", 'CMD ["python", "serve.py"]\n')
        zf.writestr("alice/serve.py", "print('hi')\n")
    with resolve_submission(archive) as sub:
        assert sub.name == "alice"
        assert (sub.folder / "Dockerfile").is_file()
        scratch = sub._scratch
    assert scratch is not None and not scratch.exists()


def test_tar_gz(tmp_path: Path) -> None:
    src = make_folder(tmp_path / "bob")
    archive = tmp_path / "bob.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname=".")
    with resolve_submission(archive) as sub:
        assert (sub.folder / "serve.py").read_text() == "print('hi')\n"


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_zip_traversal_is_refused(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, "x")
    with pytest.raises(SubmissionError, match="outside"):
        resolve_submission(archive)
    assert not (tmp_path / "evil.py").exists()


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("secret")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(SubmissionError, match="symbolic link"):
        resolve_submission(archive)


def test_tar_symlink_out_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("secret")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(SubmissionError, match="is a link"):
        resolve_submission(archive)


def test_size_and_count_caps(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * 3_000_000)
    with pytest.raises(SubmissionError, match="more than"):
        resolve_submission(archive, max_bytes=1_000_000)
    many = tmp_path / "many.tar"
    with tarfile.open(many, "w") as tf:
        for i in range(20):
            info = tarfile.TarInfo(f"f{i}")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(SubmissionError, match="entries"):
        resolve_submission(many, max_files=10)


def test_git_repository_by_file_url(tmp_path: Path) -> None:
    repo = make_folder(tmp_path / "carol")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for cmd in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    # A local repository can name the grader's own files: only cloned when asked for by name.
    with pytest.raises(SubmissionError, match="--allow-local-git"):
        resolve_submission(f"file://{repo}")
    with resolve_submission(f"file://{repo}", allow_local_git=True) as sub:
        assert sub.name == "carol"
        assert (sub.folder / "serve.py").is_file()
        assert not (sub.folder / ".git" / "hooks").exists() or not any((sub.folder / ".git" / "hooks").iterdir())
    with pytest.raises(SubmissionError, match="git clone"):
        resolve_submission(f"file://{tmp_path}/nothing-here.git", allow_local_git=True)


def test_missing_and_unknown_inputs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        resolve_submission(tmp_path / "nope")
    odd = tmp_path / "notes.txt"
    odd.write_text("hi")
    with pytest.raises(SubmissionError, match="not a folder"):
        resolve_submission(odd)


def test_peek_meta_reads_exercise_json_of_a_folder_or_archive_with_the_grading_caps(tmp_path: Path) -> None:
    """The queue's cohort command names each entry's exercise and candidate before uploading it:
    with the same reader grading uses (a regular file, its first 64 KB), never extracting anything."""
    from harness.submission import peek_meta

    folder = make_folder(tmp_path / "sub", good_token())
    meta = json.loads((folder / ".exercise.json").read_text())
    assert peek_meta(folder).candidate == "ada"
    good_zip = tmp_path / "good.zip"
    with zipfile.ZipFile(good_zip, "w") as zf:  # as `shiftwork package` zips a bundle: in its one folder
        zf.writestr("support-triage-ada/.exercise.json", json.dumps(meta))
    good_tar = tmp_path / "good.tar.gz"
    with tarfile.open(good_tar, "w:gz") as tf:
        data = json.dumps(meta).encode()
        info = tarfile.TarInfo("./.exercise.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    assert peek_meta(good_zip).candidate == "ada" and peek_meta(good_tar).candidate == "ada"
    # a symlink in an archive, an oversized file, a folder's symlink, garbage: nothing
    link_zip = tmp_path / "link.zip"
    with zipfile.ZipFile(link_zip, "w") as zf:
        zi = zipfile.ZipInfo(".exercise.json")
        zi.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(zi, "/etc/passwd")
    link_tar = tmp_path / "link.tar"
    with tarfile.open(link_tar, "w") as tf:
        li = tarfile.TarInfo(".exercise.json")
        li.type, li.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(li)
    big = make_folder(tmp_path / "big")
    (big / ".exercise.json").write_text(json.dumps({**meta, "pad": "x" * 70_000}))
    linked = make_folder(tmp_path / "linked")
    (linked / ".exercise.json").symlink_to(folder / ".exercise.json")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really")
    for path in (link_zip, link_tar, big, linked, junk, make_folder(tmp_path / "none")):
        assert peek_meta(path) is None, path
