"""What an interviewer reads of a submission without downloading it: its files, its README and its git
history (authors and subjects), read straight from the stored archive — never unpacked to disk.

Everything here is the candidate's and may name them: the review page passes it through the
blind-review scrubber (harness.web.blind), and the git authors found here join the terms it
scrubs. Caps bound the work whatever the archive holds.
"""
from __future__ import annotations

import logging
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
MAX_MEMBERS = 5000  # read at most this many archive entries
MAX_LISTED = 200  # files shown
MAX_README = 20_000  # characters of README shown
MAX_OBJECTS = 300  # loose git objects opened
MAX_OBJECT_BYTES = 64 * 1024
MAX_COMMITS = 50
READMES = ("readme.md", "readme", "readme.txt", "readme.rst")
_AUTHOR = re.compile(rb"^author (.*?) <([^>]*)>", re.MULTILINE)
_REFLOG = re.compile(r"^[0-9a-f]{40} [0-9a-f]{40} (.*?) <([^>]*)> \d+ [+-]\d{4}\t(.*)$")


@dataclass(frozen=True)
class Commit:
    author: str
    email: str
    subject: str


@dataclass
class SubmissionView:
    files: list[str] = field(default_factory=list)  # paths (the archive's one top folder left out)
    more_files: int = 0  # files not listed
    readme_name: str | None = None
    readme: str | None = None
    commits: list[Commit] = field(default_factory=list)
    unreadable: str | None = None  # why nothing could be read, for the page


class _Archive:
    """A stored .zip or .tar.gz, opened once: its regular files (name, size) and reading one of them."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            magic = fh.read(4)
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._handles: dict[str, object] = {}
        if magic.startswith(b"PK"):
            self._zip = zipfile.ZipFile(path)
            for info in self._zip.infolist()[:MAX_MEMBERS]:
                if not info.is_dir():
                    self._handles[info.filename] = info
        elif magic.startswith(b"\x1f\x8b"):
            self._tar = tarfile.open(path, mode="r:gz")
            for n, member in enumerate(self._tar):
                if n >= MAX_MEMBERS:
                    break
                if member.isfile():
                    self._handles[member.name] = member
        else:
            raise ValueError("not a .zip or .tar.gz archive")

    def entries(self) -> list[tuple[str, int]]:
        return [(name, getattr(h, "file_size", None) or getattr(h, "size", 0)) for name, h in self._handles.items()]

    def read(self, name: str, limit: int) -> bytes:
        handle = self._handles[name]
        if self._zip is not None:
            with self._zip.open(handle) as f:  # type: ignore[arg-type]
                return f.read(limit)
        f = self._tar.extractfile(handle) if self._tar is not None else None  # type: ignore[arg-type]
        return f.read(limit) if f is not None else b""

    def close(self) -> None:
        for archive in (self._zip, self._tar):
            if archive is not None:
                archive.close()


def _strip_top(names: list[str]) -> str:
    """The one folder every entry sits in ("project/"), or "" when there is none."""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    return f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in names) else ""


def _loose_commit(data: bytes) -> Commit | None:
    try:
        raw = zlib.decompressobj().decompress(data, MAX_OBJECT_BYTES)
    except zlib.error:
        return None
    if not raw.startswith(b"commit "):
        return None
    author = _AUTHOR.search(raw)
    body = raw.split(b"\n\n", 1)[1] if b"\n\n" in raw else b""
    subject = body.decode("utf-8", "replace").strip().splitlines()[0] if body.strip() else ""
    if author is None:
        return None
    return Commit(author.group(1).decode("utf-8", "replace"), author.group(2).decode("utf-8", "replace"), subject)


def _reflog(text: str) -> list[Commit]:
    out = []
    for line in text.splitlines():
        m = _REFLOG.match(line)
        if m:
            out.append(Commit(m.group(1), m.group(2), m.group(3).removeprefix("commit: ").strip()))
    return out


def read_submission(path: Path) -> SubmissionView:
    try:
        archive = _Archive(path)
    except (OSError, ValueError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        log.info("submission %s unreadable: %s", path.name, exc)
        return SubmissionView(unreadable="the archive could not be read")
    try:
        return _view(archive)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        log.info("submission %s partly unreadable: %s", path.name, exc)
        return SubmissionView(unreadable="the archive could not be read")
    finally:
        archive.close()


def _view(archive: _Archive) -> SubmissionView:
    view = SubmissionView()
    entries = archive.entries()
    top = _strip_top([name for name, _ in entries])
    files = {name[len(top):]: (name, size) for name, size in entries if name[len(top):]}
    work = sorted(name for name in files if not name.startswith(".git/"))
    view.files = work[:MAX_LISTED]
    view.more_files = max(0, len(work) - MAX_LISTED)
    readme = next((name for name in work if name.lower() in READMES), None)
    if readme is not None:
        view.readme_name = readme
        view.readme = archive.read(files[readme][0], MAX_README * 4).decode("utf-8", "replace")[:MAX_README]
    commits: list[Commit] = []
    if ".git/logs/HEAD" in files:
        commits += _reflog(archive.read(files[".git/logs/HEAD"][0], 512 * 1024).decode("utf-8", "replace"))
    objects = [n for n in files if re.fullmatch(r"\.git/objects/[0-9a-f]{2}/[0-9a-f]{38}", n)]
    for name in objects[:MAX_OBJECTS]:
        stored, size = files[name]
        if size <= MAX_OBJECT_BYTES and (c := _loose_commit(archive.read(stored, MAX_OBJECT_BYTES))) is not None:
            commits.append(c)
    view.commits = list(dict.fromkeys(commits))[:MAX_COMMITS]
    return view
