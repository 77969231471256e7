"""The candidate's side: /i/<token> (brief, deadline, bundle, clone command, upload), the bundle zip,
the upload and status.json. The link is the candidate's only credential; see links.py for how
it is checked and what every response carries."""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import update
from starlette.concurrency import run_in_threadpool

from grader.errors import ShiftworkError
from harness.notify import emit
from grader.exercise import load_exercise
from harness.queue.jobs import create_job, enqueue
from harness.store.models import Invite, Upload, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import invite_state, record
from harness.web import bundles, git_http
from harness.web.candidate_feedback import router as feedback_router
from harness.web.links import (
    Refused,
    form_token,
    form_token_ok,
    harden,
    load_invite,
    page,
    refusal,
    settings_of,
    shown_result,
    upload_problem,
    wants_json,
)
from harness.web.uploads import Received, cap_text, receive
from harness.web.views import public_base

log = logging.getLogger(__name__)
router = APIRouter()
router.include_router(git_http.router)
router.include_router(feedback_router)


def render_brief(text: str) -> Markup:
    """brief.md as HTML. Raw HTML in it is shown as text, never passed through."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # markdown-it-py comes with rich; without it, the text as it is
        return Markup("<pre>") + text + Markup("</pre>")
    # html=False escapes tags; markdown-it itself refuses javascript:, vbscript:, file: and data: links
    return Markup(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


@lru_cache(maxsize=32)
def _rendered(path: Path, mtime_ns: int, size: int) -> Markup:
    # a cohort's candidates all open the same brief: rendered once per version of the file
    return render_brief(path.read_text(encoding="utf-8", errors="replace"))


def _brief(exercise: str) -> tuple[str, Markup]:
    try:
        ex = load_exercise(exercise)
    except ShiftworkError as exc:
        log.error("invite for exercise %s: %s", exercise, exc)
        return exercise, Markup("")
    path = ex.root / "brief.md"
    if not path.is_file():
        return ex.title, render_brief("")
    st = path.stat()
    return ex.title, _rendered(path, st.st_mtime_ns, st.st_size)


def _uploads(invite: Invite) -> list[dict[str, Any]]:
    return [{"name": u.filename, "size": u.size, "sha256": u.sha256, "time": u.created_at.isoformat() + "Z"}
            for u in reversed(invite.uploads)]


def _open_page(request: Request, token: str) -> tuple[Invite, bool]:
    """Load the invite; the first open stamps opened_at and the timeline (once, even when racing)."""
    with request.app.state.sessions() as session, session.begin():
        invite = load_invite(session, token)
        first = False
        if invite.opened_at is None:
            now = utcnow()
            first = session.execute(update(Invite).where(Invite.id == invite.id, Invite.opened_at.is_(None))
                                    .values(opened_at=now)).rowcount == 1  # type: ignore[attr-defined]
            if first:
                invite.opened_at = now
                record(session, invite, "opened")
                emit(session, settings_of(request), invite, "invite.opened")
        session.expunge(invite)
    return invite, first


@router.get("/i/{token}", include_in_schema=False)
def candidate_page(request: Request, token: str, uploaded: str = "") -> Response:
    settings = settings_of(request)
    try:
        invite, _ = _open_page(request, token)
    except Refused as exc:
        return refusal(request, exc)
    bundle = bundles.expected(settings, invite)
    if not bundle.ready:
        bundles.start_in_background(settings, request.app.state.sessions, invite)
    title, brief = _brief(invite.exercise)
    link = f"{public_base(request)}/i/{token}"
    fresh = next((u for u in invite.uploads if str(u.id) == uploaded), None)
    return page("candidate/page.html", invite=invite, title=title, brief=brief, link=link, token=token,
                clone_url=f"{link}.git", bundle_ready=bundle.ready,
                bundle_size=bundle.zip_path.stat().st_size if bundle.ready else None,
                expired=invite.expired(), state=invite_state(invite), uploads=_uploads(invite),
                result=shown_result(invite), problem=upload_problem(invite), csrf_token=form_token(settings, invite),
                feedback=invite.feedback_released_at is not None,
                cap=cap_text(settings.upload_cap_bytes), fresh=fresh, now=utcnow())


@router.get("/i/{token}/bundle.zip", include_in_schema=False)
def bundle_zip(request: Request, token: str) -> Response:
    settings = settings_of(request)
    try:
        with request.app.state.sessions() as session:
            invite = load_invite(session, token)
        bundle = bundles.ensure(settings, request.app.state.sessions, invite)
    except Refused as exc:
        return refusal(request, exc)
    except ShiftworkError:  # logged by bundles; the candidate gets no server detail
        return refusal(request, Refused(503, "the bundle could not be prepared; please tell your contact"))
    with request.app.state.sessions() as session, session.begin():
        first = session.execute(update(Invite).where(Invite.id == invite.id, Invite.downloaded_at.is_(None))
                                .values(downloaded_at=utcnow())).rowcount  # type: ignore[attr-defined]
        record(session, invite.id, "downloaded", "bundle.zip" + ("" if first else " (again)"))
    return harden(FileResponse(bundle.zip_path, media_type="application/zip", filename=bundle.zip_path.name))


@router.get("/i/{token}/status.json", include_in_schema=False)
def status_json(request: Request, token: str) -> Response:
    try:
        with request.app.state.sessions() as session:
            invite = load_invite(session, token)
            body: dict[str, Any] = {"state": invite_state(invite), "exercise": invite.exercise,
                                    "deadline": invite.deadline.isoformat() + "Z", "expired": invite.expired(),
                                    "uploads": _uploads(invite)}
            result = shown_result(invite)
            if result is not None:
                body["score"] = result.score
            problem = upload_problem(invite)
            if problem is not None:
                body["latest_upload_problem"] = problem
    except Refused as exc:
        return refusal(request, exc)
    return harden(JSONResponse(body))


def _check_open(request: Request, token: str) -> Invite:
    with request.app.state.sessions() as session:
        invite = load_invite(session, token)
    if invite.expired():
        raise Refused(403, f"the deadline ({invite.deadline:%Y-%m-%d %H:%M} UTC) has passed: uploads are closed")
    return invite


def _store(request: Request, invite_id: int, got: Received) -> tuple[Upload, int]:
    """The Upload row, its timeline entry and its queued job, in one transaction."""
    settings = settings_of(request)
    try:
        with request.app.state.sessions() as session, session.begin():
            invite = session.get(Invite, invite_id)
            assert invite is not None
            upload = Upload(invite_id=invite.id, filename=got.filename, size=got.size, sha256=got.sha256,
                            stored_path=got.path.relative_to(settings.storage_root).as_posix(), created_at=utcnow())
            session.add(upload)
            session.flush()
            record(session, invite, "submitted", f"{got.filename} ({got.size} bytes, sha256 {got.sha256[:12]})")
            job = create_job(session, invite, upload)
            emit(session, settings, invite, "submission.received",
                 {"upload_id": upload.id, "size": got.size, "sha256": got.sha256, "job_id": job.id})
            session.expunge(upload)
            return upload, job.id
    except BaseException:
        got.path.unlink(missing_ok=True)  # not recorded, so not kept
        raise


@router.post("/i/{token}/upload", include_in_schema=False)
async def upload_submission(request: Request, token: str) -> Response:
    settings = settings_of(request)
    try:
        invite = await run_in_threadpool(_check_open, request, token)
        got = await receive(request, settings.stored("uploads") / str(invite.id), settings.upload_cap_bytes,
                            lambda given: form_token_ok(settings, invite, given))
    except Refused as exc:
        response = refusal(request, exc)
        # The body may still be arriving: close the connection, or the server would read the rest to reuse it.
        response.headers["Connection"] = "close"
        return response
    upload, job_id = await run_in_threadpool(_store, request, invite.id, got)
    log.info("invite %s: upload %s stored (%s bytes), job %s", invite.id, upload.id, upload.size, job_id)
    await run_in_threadpool(enqueue, settings, job_id)
    if wants_json(request):
        return harden(JSONResponse({"upload": {"id": upload.id, "name": upload.filename, "size": upload.size,
                                               "sha256": upload.sha256}, "job": job_id, "state": "queued"},
                                   status_code=201))
    return harden(RedirectResponse(f"/i/{token}?uploaded={upload.id}#submission", status_code=303))


def stored_file(settings: WebSettings, upload: Upload) -> Path:
    """Where an upload's bytes are (for the queue and the recruiter's download)."""
    return settings.storage_root / upload.stored_path
