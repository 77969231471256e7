"""`git clone http://host/i/<token>.git`: the invite's bundle repository over smart HTTP, read-only.

Only the two endpoints of a smart fetch exist (GET info/refs?service=git-upload-pack and
POST git-upload-pack), served by dulwich's UploadPackHandler on the one repository of this
invite. There is no dumb protocol (it would serve files of .git by path) and no
receive-pack: a push is refused before any of its bytes are read.
"""
from __future__ import annotations

import io
import logging
import zlib
from pathlib import Path

from dulwich.protocol import ReceivableProtocol
from dulwich.repo import Repo
from dulwich.server import DictBackend, UploadPackHandler
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import update
from starlette.concurrency import run_in_threadpool

from harness.store.models import Invite, utcnow
from harness.store.timeline import record
from harness.web import bundles
from harness.web.links import Refused, harden, load_invite, refusal, settings_of

log = logging.getLogger(__name__)
router = APIRouter()
SERVICE = "git-upload-pack"
MAX_REQUEST_BYTES = 8 * 2**20  # wants and haves of a one-commit repository fit many times over
READ_ONLY = "this repository is read-only: push to your own remote, and upload your work on the link's page"


class _UploadPack(UploadPackHandler):
    """dulwich's upload-pack that remembers whether it sent a pack (a clone or fetch happened)."""

    sent_pack = False

    def _start_pack_send_phase(self) -> None:
        self.sent_pack = True
        super()._start_pack_send_phase()


def _run(folder: Path, body: bytes, *, advertise: bool) -> tuple[bytes, bool]:
    out = io.BytesIO()

    def write(data: bytes) -> int:
        return out.write(data)

    repo = Repo(str(folder))
    try:
        proto = ReceivableProtocol(io.BytesIO(body).read, write)
        handler = _UploadPack(DictBackend({"/": repo}), ["/"], proto, stateless_rpc=True,
                              advertise_refs=advertise)
        if advertise:
            proto.write_pkt_line(f"# service={SERVICE}\n".encode())
            proto.write_pkt_line(None)
        handler.handle()
        return out.getvalue(), handler.sent_pack
    finally:
        repo.close()


def _answer(folder: Path, body: bytes) -> tuple[bytes, bool]:
    """An upload-pack answer to `body`; a body git itself would never send is refused with a 400."""
    try:
        return _run(folder, body, advertise=False)
    except Exception as exc:  # dulwich raises what the bytes provoke (protocol errors, KeyError on an unknown want...)
        log.debug("malformed git-upload-pack request", exc_info=True)
        raise Refused(400, f"malformed git request ({type(exc).__name__})") from None


def _git_headers(response: Response) -> Response:
    response.headers["Expires"] = "Fri, 01 Jan 1980 00:00:00 GMT"
    response.headers["Pragma"] = "no-cache"
    return harden(response)


def _open(request: Request, token: str) -> tuple[Invite, bundles.Bundle]:
    settings = settings_of(request)
    with request.app.state.sessions() as session:
        invite = load_invite(session, token)
    return invite, bundles.ensure(settings, request.app.state.sessions, invite)


def _note_clone(request: Request, invite_id: int, fetch: bool) -> None:
    with request.app.state.sessions() as session, session.begin():
        record(session, invite_id, "cloned", "git fetch" if fetch else "git clone")
        # a clone hands over the same repository as the zip: the invite counts as downloaded
        session.execute(update(Invite).where(Invite.id == invite_id, Invite.downloaded_at.is_(None))
                        .values(downloaded_at=utcnow()))


@router.get("/i/{token}.git/info/refs", include_in_schema=False)
async def info_refs(request: Request, token: str, service: str = "") -> Response:
    try:
        if service == "git-receive-pack":
            await run_in_threadpool(_lookup, request, token)
            raise Refused(403, READ_ONLY)
        if service != SERVICE:
            await run_in_threadpool(_lookup, request, token)
            raise Refused(403, "only git's smart HTTP protocol is served here (git 1.6.6 or newer)")
        invite, bundle = await run_in_threadpool(_open, request, token)
        data, _ = await run_in_threadpool(_run, bundle.folder, b"", advertise=True)
    except Refused as exc:
        return _plain_refusal(request, exc)
    return _git_headers(Response(data, media_type=f"application/x-{SERVICE}-advertisement"))


@router.post("/i/{token}.git/git-upload-pack", include_in_schema=False)
async def upload_pack(request: Request, token: str) -> Response:
    try:
        invite, bundle = await run_in_threadpool(_open, request, token)
        body = await _read_body(request)
        data, sent = await run_in_threadpool(_answer, bundle.folder, body)
    except Refused as exc:
        return _plain_refusal(request, exc)
    if sent:
        await run_in_threadpool(_note_clone, request, invite.id, b"have " in body)
    return _git_headers(Response(data, media_type=f"application/x-{SERVICE}-result"))


@router.post("/i/{token}.git/git-receive-pack", include_in_schema=False)
async def receive_pack(request: Request, token: str) -> Response:
    try:
        await run_in_threadpool(_lookup, request, token)
        raise Refused(403, READ_ONLY)
    except Refused as exc:
        return _plain_refusal(request, exc)


@router.api_route("/i/{token}.git/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PROPFIND"],
                  include_in_schema=False)
async def anything_else(token: str, rest: str) -> Response:
    # HEAD, objects/..., packs: the dumb protocol's files are never served.
    return harden(PlainTextResponse("not found", status_code=404))


def _lookup(request: Request, token: str) -> Invite:
    with request.app.state.sessions() as session:
        return load_invite(session, token)


def _plain_refusal(request: Request, exc: Refused) -> Response:
    if exc.status == 404:
        return refusal(request, exc)
    # git prints a plain-text body of a refused request to the user; a page would be noise there
    return harden(PlainTextResponse(exc.reason + "\n", status_code=exc.status))


async def _read_body(request: Request) -> bytes:
    """The request body (gunzipped when git compressed it), refused past MAX_REQUEST_BYTES."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise Refused(413, "the git request is too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise Refused(413, "the git request is too large")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_REQUEST_BYTES)
        except zlib.error:
            raise Refused(400, "the git request is not valid gzip") from None
        if inflater.unconsumed_tail:
            raise Refused(413, "the git request is too large")
    return body
