"""POST /i/<token>/upload: a submission archive streamed to disk, capped while it streams.

The multipart body is parsed as it arrives (python-multipart's streaming parser, not
Starlette's form(), which spools the whole body before the route sees it). The form's
token must come before the file (browsers send fields in page order), so no byte of a
forged upload is written. The file goes to data/uploads/<invite id>/<uuid>.<zip|tar.gz>
while it is hashed and counted; past the cap the request ends with 413 and the partial
file is removed. The name the candidate gave is only ever shown, never used as a path.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from harness.web.links import CSRF_FIELD, Refused

log = logging.getLogger(__name__)
FILE_FIELD = "file"
FORM_SLACK = 64 * 1024  # what the form's other fields and the multipart framing may add to the file
MAX_HEADER_BYTES = 8 * 1024
MAX_PARTS = 8
KINDS = {".zip": "zip", ".tar.gz": "tar.gz", ".tgz": "tar.gz"}
MAGIC = {"zip": (b"PK\x03\x04", b"PK\x05\x06"), "tar.gz": (b"\x1f\x8b",)}
CSRF_REFUSED = "refused: this form's security token is missing or wrong (reload the page and try again)"


@dataclass
class Received:
    filename: str  # as the candidate named it, cleaned for display
    kind: str  # "zip" | "tar.gz"
    path: Path  # where it is stored
    size: int
    sha256: str


def shown_name(raw: str) -> str:
    """The candidate's file name for display only: no folders, no control characters, bounded."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(ch for ch in base if ch.isprintable()).strip()
    return (clean or "upload")[:200]


def kind_of(filename: str) -> str:
    low = filename.lower()
    for ext, kind in KINDS.items():
        if low.endswith(ext):
            return kind
    raise Refused(415, f"{filename}: upload a .zip or .tar.gz archive of your submission")


def cap_text(cap: int) -> str:
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if cap >= size:
            return f"{cap / size:.0f} {unit}"
    return f"{cap} bytes"


@dataclass
class _Receiver:
    """The state of one streaming parse; its callbacks raise Refused to stop at the first problem."""

    dest_dir: Path
    cap: int
    csrf_ok: Callable[[str | None], bool]
    parts: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    header_bytes: int = 0
    part: str = ""  # "csrf" | "file" | "other"
    csrf: bytearray = field(default_factory=bytearray)
    csrf_value: str | None = None
    out: IO[bytes] | None = None
    tmp: Path | None = None
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    size: int = 0
    head: bytes = b""
    filename: str = ""
    kind: str = ""
    done: Received | None = None
    ended: bool = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field_data,
                "on_header_value": self.header_value_data, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end, "on_end": self.end}

    def part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise Refused(400, "too many fields in the upload form")
        self.headers, self.header_bytes, self.part = {}, 0, ""

    def _count_header(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > MAX_HEADER_BYTES:
            raise Refused(400, "the upload's part headers are too large")

    def header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_field += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_field.decode("latin-1").lower()] = self.header_value.decode("latin-1")
        self.header_field, self.header_value = bytearray(), bytearray()

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("latin-1")
        if name == CSRF_FIELD:
            self.part, self.csrf = "csrf", bytearray()
        elif name == FILE_FIELD:
            self.start_file(params.get(b"filename", b"").decode("utf-8", "replace"))
        else:
            self.part = "other"  # ignored; the body cap bounds it

    def start_file(self, raw_name: str) -> None:
        if not self.csrf_ok(self.csrf_value):
            raise Refused(403, CSRF_REFUSED)
        if self.done is not None or self.out is not None:
            raise Refused(400, "send one file per upload")
        self.filename = shown_name(raw_name)
        if not raw_name:
            raise Refused(400, "choose a file to upload")
        self.kind = kind_of(self.filename)
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = self.dest_dir / f".{uuid.uuid4().hex}.part"
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self.out, self.part = os.fdopen(fd, "wb"), "file"

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.part == "csrf":
            self.csrf += chunk
            if len(self.csrf) > 256:
                raise Refused(400, "the form's security token is malformed")
        elif self.part == "file" and self.out is not None:
            self.size += len(chunk)
            if self.size > self.cap:
                raise Refused(413, f"the upload is larger than the {cap_text(self.cap)} limit")
            if len(self.head) < 4:
                self.head += chunk[:4]
                if len(self.head) >= 4:
                    self.check_magic()
            self.digest.update(chunk)
            self.out.write(chunk)

    def check_magic(self) -> None:
        if not self.head.startswith(MAGIC[self.kind]):
            raise Refused(415, f"{self.filename}: not a {self.kind} archive (its first bytes say otherwise)")

    def part_end(self) -> None:
        if self.part == "csrf":
            self.csrf_value = self.csrf.decode("ascii", "replace").strip()
        elif self.part == "file" and self.out is not None and self.tmp is not None:
            if self.size == 0:
                raise Refused(400, f"{self.filename} is empty")
            self.check_magic()
            self.out.close()
            self.out = None
            final = self.dest_dir / f"{self.tmp.name[1:-len('.part')]}.{self.kind}"
            os.replace(self.tmp, final)
            self.tmp = None
            self.done = Received(self.filename, self.kind, final, self.size, self.digest.hexdigest())
        self.part = ""

    def end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        for path in (self.tmp, self.done.path if self.done else None):
            if path is not None:
                path.unlink(missing_ok=True)
        self.tmp, self.done = None, None


async def receive(request: Request, dest_dir: Path, cap: int, csrf_ok: Callable[[str | None], bool]) -> Received:
    """Stream the upload form's file into dest_dir; Refused with a one-line reason, leaving no file behind."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise Refused(400, "send the upload as a multipart/form-data form")
    limit = cap + FORM_SLACK
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # refused before a byte is read
        raise Refused(413, f"the upload is larger than the {cap_text(cap)} limit")
    rx = _Receiver(dest_dir=dest_dir, cap=cap, csrf_ok=csrf_ok)
    parser = MultipartParser(boundary, rx.callbacks())  # type: ignore[arg-type]
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:  # a chunked body has no Content-Length to refuse up front
                raise Refused(413, f"the upload is larger than the {cap_text(cap)} limit")
            parser.write(chunk)
        parser.finalize()
        if not rx.ended:
            raise Refused(400, "the upload ended before the form did")
        if rx.done is None:
            raise Refused(403, CSRF_REFUSED) if not csrf_ok(rx.csrf_value) else Refused(400, "choose a file to upload")
        return rx.done
    except MultipartParseError:
        rx.discard()
        raise Refused(400, "the upload is not a well-formed multipart form") from None
    except ClientDisconnect:
        rx.discard()
        raise Refused(400, "the upload was interrupted") from None
    except BaseException:
        rx.discard()
        raise
