"""Turn what the grader was given (folder, .zip, .tar.gz, git URL) into a folder, safely.

Everything here comes from candidates and is treated as hostile:

- Archives are unpacked by our own member-by-member code that writes only regular files
  and folders. `tarfile`'s `filter="data"` is not relied on: it is bypassable on the
  Python this project pins (before 3.11.13, CVE-2025-4517). Links, devices and fifos are
  refused; member names, header sizes (PAX and GNU long names are pre-scanned before
  `tarfile` parses them: its PAX parser is slow on large headers), the raw archive, the
  unpacked bytes, the file count and the wall time are capped.
- Git URLs are cloned without a checkout, with no hooks, no symlinks and no local
  transport (unless the grader allows it by name); the tree is checked against the same
  caps before it is checked out, and again on disk afterwards. Credentials in a URL
  never appear in a message.
- `.exercise.json` is read only when it is a regular file, and only its first 64 KB.
"""
from __future__ import annotations

import bz2
import gzip
import json
import logging
import lzma
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import SubmissionError, UsageError
from harness.secret import load_secret, verify_token

log = logging.getLogger(__name__)

MAX_BYTES = 200 * 1024 * 1024        # unpacked / checked-out bytes
MAX_FILES = 5000
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024  # the archive file itself, before unpacking
MAX_NAME = 1024                       # characters in one member path
MAX_PART = 255                        # characters in one path component (what file systems allow)
MAX_HEADER = 16 * 1024                # bytes in one PAX or GNU long-name header
EXTRACT_TIMEOUT_S = 60.0
GIT_TIMEOUT_S = 120.0
META_MAX = 64 * 1024
NOT_VERIFIED = "candidate not verified"

_REMOTE_GIT = re.compile(r"^(https?://|ssh://|git://|[A-Za-z0-9._-]+@[^:/]+:)")
_FILE_GIT = re.compile(r"^file://", re.IGNORECASE)
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_META_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
               tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


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
    # True only when .exercise.json is a regular file whose token verifies with this grader's secret:
    # only then may the candidate id choose the traffic seed.
    verified: bool = False
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


def redact(text: str) -> str:
    """`https://user:pass@host/x` -> `https://***@host/x`, wherever it appears in text."""
    return _CREDENTIALS.sub("***@", text)


def submission_name(spec: str) -> str:
    """A folder-safe name for reports: the folder, archive stem or repository name."""
    base = redact(spec).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    for suffix in (*_ARCHIVES, ".git"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-")
    return clean[:100] or "submission"


def _is_local_git(spec: str) -> bool:
    if _FILE_GIT.match(spec):
        return True
    path = Path(spec)
    try:
        return spec.endswith(".git") and path.is_dir() and (path / "HEAD").is_file()
    except OSError:
        return False


def is_git(spec: str) -> bool:
    return bool(_REMOTE_GIT.match(spec)) or _is_local_git(spec)


def resolve_submission(spec: str | Path, *, allow_bad_token: bool = False, allow_local_git: bool = False,
                       max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES,
                       max_archive_bytes: int = MAX_ARCHIVE_BYTES,
                       timeout_s: float = EXTRACT_TIMEOUT_S) -> Submission:
    """Resolve into a folder (use as a context manager: scratch folders are removed on exit)."""
    text = str(spec)
    shown = redact(text)
    if "\x00" in text:
        raise UsageError("the submission path contains a NUL character")
    name = submission_name(text)
    scratch: Path | None = None
    try:
        if is_git(text):
            if _is_local_git(text) and not allow_local_git:
                raise SubmissionError(f"{shown}: local git repositories are not cloned unless the grader passes "
                                      "--allow-local-git (a local path can name the grader's own files)")
            scratch = Path(tempfile.mkdtemp(prefix="shiftwork-sub-"))
            folder = _clone(text, scratch, name, max_bytes=max_bytes, max_files=max_files,
                            allow_local=allow_local_git, timeout_s=GIT_TIMEOUT_S)
        else:
            path = Path(text)
            if path.is_dir():
                folder = path
            elif path.is_file() and text.lower().endswith(_ARCHIVES):
                scratch = Path(tempfile.mkdtemp(prefix="shiftwork-sub-"))
                folder = _extract(path, scratch / "x", max_bytes, max_files, max_archive_bytes, timeout_s)
            elif path.exists():
                raise SubmissionError(f"{shown}: not a folder, .zip, .tar.gz/.tgz or git repository")
            else:
                raise UsageError(f"submission not found: {shown}")
        sub = Submission(folder=folder.resolve(), name=name, _scratch=scratch)
        _read_meta(sub, allow_bad_token)
        return sub
    except RecursionError as exc:
        raise SubmissionError(f"{name}: the submission is nested too deeply to read") from exc
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise


# -- member checks shared by archives and git trees ----------------------------------------
def _safe_member(name: str, where: str = "archive member") -> PurePosixPath:
    """A relative path with no way out of the destination, within the name caps."""
    if "\x00" in name:
        raise SubmissionError(f"{where} {_show(name)} has a NUL character in its name")
    if len(name) > MAX_NAME:
        raise SubmissionError(f"{where} name of {len(name)} characters is longer than the {MAX_NAME} allowed")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        raise SubmissionError(f"{where} {_show(name)} would be written outside the submission folder")
    if any(len(part) > MAX_PART for part in path.parts):
        raise SubmissionError(f"{where} {_show(name)} has a path component longer than {MAX_PART} characters")
    return path


def _show(name: str) -> str:
    """A candidate-chosen name, short and on one line (repr escapes control characters)."""
    return repr(name[:120] + ("…" if len(name) > 120 else ""))


class _Budget:
    """Running totals against the caps, and the wall-clock deadline."""

    def __init__(self, label: str, max_bytes: int, max_files: int, timeout_s: float) -> None:
        self.label, self.max_bytes, self.max_files, self.timeout_s = label, max_bytes, max_files, timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.bytes = self.files = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SubmissionError(f"{self.label}: unpacking took longer than {self.timeout_s:g} s")

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise SubmissionError(f"{self.label}: more than the {self.max_files} entries allowed")

    def add_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.max_bytes:
            raise SubmissionError(f"{self.label}: unpacks to more than {self.max_bytes / 2**20:g} MB")


def _make_dirs(dest: Path, rel: PurePosixPath) -> Path:
    """Create dest/rel folder by folder, refusing anything on the way that is not a real folder."""
    current = dest
    for part in rel.parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):  # only we write here, but never trust that
            raise SubmissionError(f"archive path {_show(str(rel))} runs through a file")
    return current


def _write_file(dest: Path, rel: PurePosixPath, src: IO[bytes], budget: _Budget, executable: bool) -> None:
    parent = _make_dirs(dest, rel.parent) if rel.parent != PurePosixPath(".") else dest
    target = parent / rel.name
    # O_NOFOLLOW: never write through a link, whatever is already there.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o755 if executable else 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(1 << 20):
            budget.add_bytes(len(chunk))
            budget.tick()
            out.write(chunk)


def _extract(archive: Path, dest: Path, max_bytes: int, max_files: int, max_archive_bytes: int,
             timeout_s: float) -> Path:
    size = archive.stat().st_size
    if size > max_archive_bytes:
        raise SubmissionError(f"{archive.name}: the archive is {size / 2**20:.0f} MB, more than the "
                              f"{max_archive_bytes / 2**20:g} MB allowed")
    dest.mkdir(parents=True)
    budget = _Budget(submission_name(archive.name), max_bytes, max_files, timeout_s)
    low = archive.name.lower()
    try:
        if low.endswith(".zip"):
            _extract_zip(archive, dest, budget)
        else:
            _extract_tar(archive, dest, budget)
    except SubmissionError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, OSError, ValueError,
            UnicodeError, lzma.LZMAError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: zipfile's "encrypted, password required"; ValueError: odd header fields.
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise SubmissionError(f"{archive.name}: cannot read the archive: {detail}") from exc
    entries = [p for p in dest.iterdir() if p.name not in ("__MACOSX",)]
    # An archive of one folder (the usual `zip -r sub.zip sub/`): grade that folder.
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > budget.max_files:
            raise SubmissionError(f"{archive.name}: {len(infos)} entries, more than the {budget.max_files} allowed")
        for info in infos:
            budget.tick()
            rel = _safe_member(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(f"{archive.name}: member {_show(info.filename)} is a symbolic link")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: written without a type
                raise SubmissionError(f"{archive.name}: member {_show(info.filename)} is not a file or folder")
            if info.is_dir():
                _make_dirs(dest, rel)
                continue
            budget.add_file()
            if rel == PurePosixPath("."):
                continue
            # Count what is actually decompressed: header sizes can lie (zip bombs).
            with zf.open(info) as src:
                _write_file(dest, rel, src, budget, executable=bool(mode & 0o111))


def _decompressed(archive: Path) -> IO[bytes]:
    """The tar stream inside a .tar, .tar.gz (or bz2/xz, told by the magic bytes)."""
    with archive.open("rb") as fh:
        magic = fh.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(archive, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(archive, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(archive, "rb")
    return archive.open("rb")


def _header_size(block: bytes) -> int:
    raw = block[124:136]
    if raw[:1] and raw[0] & 0x80:  # GNU base-256
        return int.from_bytes(raw[1:], "big")
    text = raw.split(b"\x00", 1)[0].strip(b" \x00")
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise SubmissionError("the archive has a tar header with an unreadable size field") from None


def _prescan_tar(archive: Path, budget: _Budget) -> None:
    """Walk the raw 512-byte headers before `tarfile` parses them: cap header sizes and counts.

    tarfile's PAX parser is slow on large headers (quadratic; seconds for a few hundred
    bytes of crafted input, gigabytes of memory for a few hundred KB), so no header
    bigger than MAX_HEADER reaches it, and the whole decompressed stream is capped.
    """
    limit = budget.max_bytes + (budget.max_files * 4 + 16) * (MAX_HEADER + 1024)
    headers = 0
    read = 0
    with _decompressed(archive) as stream:
        while True:
            budget.tick()
            block = stream.read(512)
            read += len(block)
            if len(block) < 512 or block == b"\x00" * 512:
                return  # end of archive (tarfile itself reports a truncated one)
            headers += 1
            if headers > budget.max_files * 4 + 16:
                raise SubmissionError(f"{budget.label}: more tar headers than {budget.max_files} entries need")
            size = _header_size(block)
            kind = block[156:157]
            if kind in _META_TYPES and size > MAX_HEADER:
                raise SubmissionError(f"{budget.label}: a tar extended header of {size} bytes is larger than "
                                      f"the {MAX_HEADER} allowed")
            padded = (size + 511) // 512 * 512
            if read + padded > limit:
                raise SubmissionError(f"{budget.label}: unpacks to more than {budget.max_bytes / 2**20:g} MB")
            left = padded
            while left:
                budget.tick()
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    return
                left -= len(chunk)
                read += len(chunk)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    _prescan_tar(archive, budget)
    with _decompressed(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tf:
        for member in tf:
            budget.tick()
            rel = _safe_member(member.name)
            if member.issym() or member.islnk():
                raise SubmissionError(f"{archive.name}: member {_show(member.name)} is a link "
                                      "(links are not allowed in submissions)")
            if member.isdir():
                _make_dirs(dest, rel)
                continue
            if member.type not in _REGULAR:
                raise SubmissionError(f"{archive.name}: member {_show(member.name)} is not a regular file or folder")
            budget.add_file()
            if member.size > budget.max_bytes:
                raise SubmissionError(f"{archive.name}: unpacks to more than {budget.max_bytes / 2**20:g} MB")
            if rel == PurePosixPath("."):
                continue
            src = tf.extractfile(member)
            if src is None:
                continue
            with src:
                _write_file(dest, rel, src, budget, executable=bool(member.mode & 0o111))


# -- git -------------------------------------------------------------------------------------
def _git_env(home: Path) -> dict[str, str]:
    """Nothing of the grader's own git or ssh setup, no prompts, no LFS downloads."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes",
    }


def _git_base(allow_local: bool) -> list[str]:
    return ["git", "-c", "core.symlinks=false", "-c", "core.hooksPath=" + os.devnull,
            "-c", "core.fsmonitor=false", "-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never",
            "-c", f"protocol.file.allow={'always' if allow_local else 'never'}",
            "-c", "submodule.recurse=false", "-c", "transfer.fsckObjects=true"]


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _run_git(argv: list[str], env: dict[str, str], shown: str, *, deadline: float, watch: Path | None = None,
             max_bytes: int = 0) -> str:
    """Run git with a wall-clock deadline (and a cap on what it writes under `watch`); its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errf:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=errf, env=env,
                                    start_new_session=True)
        except FileNotFoundError:
            raise SubmissionError("git is not installed, so a git URL cannot be graded") from None
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise SubmissionError(f"git {argv[len(_git_base(False))]} {shown} took longer than "
                                          f"{GIT_TIMEOUT_S:g} s")
                if watch is not None and max_bytes and _dir_bytes(watch) > max_bytes:
                    raise SubmissionError(f"{shown}: the repository is larger than {max_bytes / 2**20:g} MB")
                time.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        errf.seek(0)
        stdout = out.read(8 * 2**20 + 1)
        stderr = errf.read(64_000).decode("utf-8", "replace")
    if proc.returncode != 0:
        last = (stderr.strip().splitlines() or ["unknown error"])[-1]
        raise SubmissionError(f"git {argv[len(_git_base(False))]} {shown} failed: {redact(last)[:300]}")
    return stdout.decode("utf-8", "surrogateescape")


def _clone(url: str, scratch: Path, name: str, *, max_bytes: int, max_files: int, allow_local: bool,
           timeout_s: float) -> Path:
    shown = redact(url)
    if not _FILE_GIT.match(url) and _is_local_git(url):
        url = Path(url).resolve().as_uri()  # a plain path clones with hard links and ignores --depth
    home = scratch / "home"
    home.mkdir()
    dest = scratch / "repo" / name
    env = _git_env(home)
    base = _git_base(allow_local)
    deadline = time.monotonic() + timeout_s
    _run_git([*base, "clone", "--quiet", "--depth", "1", "--no-checkout", "--single-branch", "--no-tags",
              "--template=", "--", url, str(dest)], env, shown, deadline=deadline, watch=scratch,
             max_bytes=max_bytes)
    # Check the tree before a single file is written: sizes come from the object store.
    listing = _run_git([*base, "-C", str(dest), "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD"], env, shown,
                       deadline=deadline)
    budget = _Budget(name, max_bytes, max_files, max(0.0, deadline - time.monotonic()))
    for entry in filter(None, listing.split("\x00")):
        meta, _, path = entry.partition("\t")
        mode, kind, _obj, size = (meta.split() + ["", "", "", ""])[:4]
        rel = _safe_member(path, "repository file")
        if mode == "120000":
            raise SubmissionError(f"{shown}: {_show(str(rel))} is a symbolic link (links are not allowed in submissions)")
        if kind == "commit":
            raise SubmissionError(f"{shown}: {_show(str(rel))} is a git submodule (submodules are not fetched)")
        budget.add_file()
        budget.add_bytes(int(size) if size.isdigit() else 0)
    _run_git([*base, "-C", str(dest), "checkout", "--quiet", "--force", "HEAD", "--", "."], env, shown,
             deadline=deadline, watch=scratch, max_bytes=max_bytes * 2 + 64 * 2**20)
    _check_tree(dest, shown, max_bytes, max_files)
    return dest


def _check_tree(root: Path, shown: str, max_bytes: int, max_files: int) -> None:
    """What is on disk after the checkout: regular files and folders only, within the caps."""
    files = total = 0
    for current, dirs, names in os.walk(root):
        if Path(current) == root:
            dirs[:] = [d for d in dirs if d != ".git"]
        for entry in [*dirs, *names]:
            st = os.lstat(os.path.join(current, entry))
            if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise SubmissionError(f"{shown}: {_show(entry)} is not a regular file or folder")
            if stat.S_ISREG(st.st_mode):
                files += 1
                total += st.st_size
        if files > max_files or total > max_bytes:
            raise SubmissionError(f"{shown}: the checkout is over the {max_files} files / "
                                  f"{max_bytes / 2**20:g} MB allowed")


# -- .exercise.json --------------------------------------------------------------------------
def _read_meta_bytes(path: Path) -> bytes | None:
    """The file's first META_MAX+1 bytes, or None when it is absent or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink; anything else: unreadable
        log.warning("%s: not read (%s)", path.name, exc.strerror)
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(META_MAX + 1)


def _meta_problem(exc: Exception) -> str:
    """Why .exercise.json cannot be used, without quoting its content (it may be anything)."""
    if isinstance(exc, ValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(top level)" for e in exc.errors()})
        return "missing or wrong fields: " + ", ".join(fields)[:120]
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return type(exc).__name__


def parse_meta(data: bytes) -> tuple[ExerciseMeta | None, str]:
    """(the metadata, "") from .exercise.json's first bytes, or (None, why it cannot be used)."""
    if len(data) > META_MAX:
        return None, ".exercise.json is unreadable (larger than 64 KB)"
    try:
        return ExerciseMeta.model_validate(json.loads(data.decode("utf-8"))), ""
    except UnicodeError:
        return None, ".exercise.json is unreadable (not UTF-8)"
    except (ValueError, ValidationError, RecursionError) as exc:
        return None, f".exercise.json is unreadable ({_meta_problem(exc)})"


def _meta_depth(name: str) -> int | None:
    """0 for `.exercise.json` at the top of an archive, 1 inside its one folder (as bundles pack it), else None."""
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "/")]
    if parts and parts[-1] == ".exercise.json" and len(parts) <= 2:
        return len(parts) - 1
    return None


def _archive_meta_bytes(path: Path) -> bytes | None:
    """.exercise.json's first META_MAX+1 bytes inside a zip or tar archive, when it is a regular file there."""
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                found = [(d, i) for i in zf.infolist() if (d := _meta_depth(i.filename)) is not None]
                info = min(found, key=lambda f: f[0])[1] if found else None
                if info is None or info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
                    return None
                with zf.open(info) as fh:
                    return fh.read(META_MAX + 1)
        with tarfile.open(path) as tf:
            members = [(d, m) for m in tf if (d := _meta_depth(m.name)) is not None]
            member = min(members, key=lambda f: f[0])[1] if members else None
            fh = tf.extractfile(member) if member is not None and member.isfile() else None
            return fh.read(META_MAX + 1) if fh is not None else None
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError, RecursionError):
        return None


def peek_meta(path: Path) -> ExerciseMeta | None:
    """.exercise.json of a submission folder or archive, read without extracting anything else,
    with the caps grading applies (a regular file, its first 64 KB); None when absent or unusable."""
    data = _read_meta_bytes(path / ".exercise.json") if path.is_dir() else _archive_meta_bytes(path)
    return parse_meta(data)[0] if data is not None else None


def _read_meta(sub: Submission, allow_bad_token: bool) -> None:
    path = sub.folder / ".exercise.json"
    data = _read_meta_bytes(path)
    if data is None:
        kind = "is not a regular file" if os.path.lexists(path) else "is missing"
        sub.flags.append(f"{NOT_VERIFIED}: .exercise.json {kind} (traffic seed: per-run random, or --seed)")
        return
    sub.meta, problem = parse_meta(data)
    if problem:
        if not allow_bad_token:
            raise SubmissionError(f"{sub.name}: {problem}; use --allow-bad-token to grade it anyway") from None
        sub.flags.append(f"{NOT_VERIFIED}: {problem} (traffic seed: per-run random, or --seed)")
        return

    m = sub.meta
    assert m is not None
    if verify_token(load_secret(), m.exercise, m.version, m.candidate, m.token):
        sub.verified = True
        return
    problem = (f"the bundle token does not match exercise {m.exercise[:60]!r} version {m.version[:30]!r} "
               f"candidate {m.candidate[:60]!r} (edited .exercise.json, or another grader's secret)")
    if not allow_bad_token:
        raise SubmissionError(f"{sub.name}: {problem}; use --allow-bad-token to grade it anyway")
    sub.flags.append(f"{NOT_VERIFIED}: {problem}; the traffic seed does not come from its candidate id")
    log.warning("%s: %s", sub.name, problem)

