"""Turn what the grader was given (folder, .zip, .tar.gz, git URL) into a folder, safely.

Archives come from candidates: members with absolute paths, `..`, links pointing out,
devices, or too many/too large files are refused before anything is written outside
the scratch folder.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import SubmissionError, UsageError

log = logging.getLogger(__name__)

MAX_BYTES = 200 * 1024 * 1024
MAX_FILES = 5000
GIT_TIMEOUT_S = 120.0
_GIT_URL = re.compile(r"^(https?://|ssh://|git://|file://|git@[^:]+:)")
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


class ExerciseMeta(BaseModel):
    """`.exercise.json`, written into every bundle by `shiftwork package`."""

    model_config = ConfigDict(extra="allow")
    exercise: str
    version: str
    candidate: str
    token: str


@dataclass
class Submission:
    folder: Path
    name: str
    meta: ExerciseMeta | None = None
    flags: list[str] = field(default_factory=list)  # reasons the report must carry (e.g. bad token)
    _scratch: Path | None = None

    def cleanup(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> "Submission":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def submission_name(spec: str) -> str:
    """A folder-safe name for reports: the folder, archive stem or repository name."""
    base = spec.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    for suffix in (*_ARCHIVES, ".git"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-")
    return clean or "submission"


def is_git(spec: str) -> bool:
    if _GIT_URL.match(spec):
        return True
    path = Path(spec)
    return spec.endswith(".git") and path.is_dir() and (path / "HEAD").is_file()


def resolve_submission(spec: str | Path, *, allow_bad_token: bool = False,
                       max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES) -> Submission:
    """Resolve into a folder (use as a context manager: scratch folders are removed on exit)."""
    text = str(spec)
    name = submission_name(text)
    scratch: Path | None = None
    try:
        if is_git(text):
            scratch = Path(tempfile.mkdtemp(prefix="shiftwork-sub-"))
            folder = _clone(text, scratch / name)
        else:
            path = Path(text)
            if path.is_dir():
                folder = path
            elif path.is_file() and text.lower().endswith(_ARCHIVES):
                scratch = Path(tempfile.mkdtemp(prefix="shiftwork-sub-"))
                folder = _extract(path, scratch / "x", max_bytes, max_files)
            elif path.exists():
                raise SubmissionError(f"{text}: not a folder, .zip, .tar.gz/.tgz or git repository")
            else:
                raise UsageError(f"submission not found: {text}")
        sub = Submission(folder=folder.resolve(), name=name, _scratch=scratch)
        _read_meta(sub, allow_bad_token)
        return sub
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise


def _clone(url: str, dest: Path) -> Path:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    cmd = ["git", "-c", "protocol.file.allow=always", "clone", "--quiet", "--depth", "1", "--", url, str(dest)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, env=env,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SubmissionError("git is not installed, so a git URL cannot be graded")
    except subprocess.TimeoutExpired:
        raise SubmissionError(f"git clone {url} took longer than {GIT_TIMEOUT_S:g} s")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise SubmissionError(f"git clone {url} failed: {last}")
    return dest


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        raise SubmissionError(f"archive member {name!r} would be written outside the submission folder")
    return path


def _extract(archive: Path, dest: Path, max_bytes: int, max_files: int) -> Path:
    dest.mkdir(parents=True)
    low = archive.name.lower()
    try:
        if low.endswith(".zip"):
            _extract_zip(archive, dest, max_bytes, max_files)
        else:
            _extract_tar(archive, dest, max_bytes, max_files)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise SubmissionError(f"{archive.name}: cannot read the archive: {exc}") from exc
    entries = [p for p in dest.iterdir() if p.name not in ("__MACOSX",)]
    # An archive of one folder (the usual `zip -r sub.zip sub/`): grade that folder.
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest


def _extract_zip(archive: Path, dest: Path, max_bytes: int, max_files: int) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > max_files:
            raise SubmissionError(f"{archive.name}: {len(infos)} entries, more than the {max_files} allowed")
        total = 0
        for info in infos:
            rel = _safe_member(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(f"{archive.name}: member {info.filename!r} is a symbolic link")
            target = dest / rel
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # Count what is actually decompressed: header sizes can lie (zip bombs).
            with zf.open(info) as src, target.open("wb") as out:
                while chunk := src.read(1 << 20):
                    total += len(chunk)
                    if total > max_bytes:
                        raise SubmissionError(f"{archive.name}: unpacks to more than {max_bytes // 2**20} MB")
                    out.write(chunk)


def _extract_tar(archive: Path, dest: Path, max_bytes: int, max_files: int) -> None:
    with tarfile.open(archive) as tf:
        members = []
        total = 0
        for member in tf:
            members.append(member)
            if len(members) > max_files:
                raise SubmissionError(f"{archive.name}: more than the {max_files} entries allowed")
            _safe_member(member.name)
            if member.isdev() or member.isfifo():
                raise SubmissionError(f"{archive.name}: member {member.name!r} is a device or fifo")
            total += max(0, member.size)
            if total > max_bytes:
                raise SubmissionError(f"{archive.name}: unpacks to more than {max_bytes // 2**20} MB")
        try:
            # The "data" filter refuses links that point outside and strips unsafe modes.
            tf.extractall(dest, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise SubmissionError(f"{archive.name}: unsafe member: {exc}") from exc


def _read_meta(sub: Submission, allow_bad_token: bool) -> None:
    path = sub.folder / ".exercise.json"
    if not path.is_file():
        return
    try:
        raw = json.loads(path.read_text()[:100_000])
        sub.meta = ExerciseMeta.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        problem = f".exercise.json is unreadable ({str(exc).splitlines()[0][:120]})"
        if not allow_bad_token:
            raise SubmissionError(f"{sub.name}: {problem}; use --allow-bad-token to grade it anyway")
        sub.flags.append(f"{problem}: the candidate could not be verified")
        return
    from harness.secret import load_secret, verify_token

    m = sub.meta
    if not verify_token(load_secret(), m.exercise, m.version, m.candidate, m.token):
        problem = (f"the bundle token does not match exercise {m.exercise!r} version {m.version!r} "
                   f"candidate {m.candidate!r} (edited .exercise.json, or another grader's secret)")
        if not allow_bad_token:
            raise SubmissionError(f"{sub.name}: {problem}; use --allow-bad-token to grade it anyway")
        sub.flags.append(f"flagged: {problem}")
        log.warning("%s: %s", sub.name, problem)
