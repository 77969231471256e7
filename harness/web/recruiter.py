"""Recruiter pages: log in and out, the invites table, creating invites (one or a CSV), an invite's
details and its buttons. Reports, cohorts and the admin page are in recruiter_results.

Thin: the work is done by harness.web.invites (shared with the JSON API). Every POST form
carries the session's CSRF token; every page needs a recruiter session.
"""
from __future__ import annotations

import datetime as dt
import logging
import math

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from grader.errors import UsageError
from grader.exercise import list_exercises
from harness.notify import mail
from harness.store.audit import audit
from harness.store.models import Invite, Recruiter, utcnow
from harness.store.teams import all_teams
from harness.store.timeline import counted_job, invite_state, latest_finished
from harness.web import invite_changes as changes
from harness.web import invites as svc
from harness.web.admin import router as admin_router
from harness.web.auth import (
    authenticate,
    client_of,
    db,
    end_session,
    find_recruiter,
    page_recruiter,
    require_csrf,
    safe_next,
    start_session,
)
from harness.web.decision_pages import interview_panel
from harness.web.decision_pages import router as decision_router
from harness.web.invites_csv import parse_csv
from harness.web.params import path_id as _id
from harness.web.recruiter_results import router as results_router
from harness.web.reports import latest_result
from harness.web.status import queue_status
from harness.web.views import PageNotFound, public_base, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
router.include_router(results_router)
router.include_router(admin_router)
router.include_router(decision_router)
CSV_LIMIT = 2 * 2**20



_CSRF = [Depends(require_csrf)]


def _flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def _back(invite_id: int) -> RedirectResponse:
    return RedirectResponse(f"/invites/{invite_id}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "recruiter/login.html", next=safe_next(next))


@router.post("/login", dependencies=_CSRF)
def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
          session: Session = Depends(db)) -> Response:
    limits = request.app.state.login_limits
    client, now = client_of(request), utcnow()
    account = find_recruiter(session, email)
    refused = limits.refusal(client, email, account, now)
    if refused is not None:
        audit(session, "sign_in_refused", actor=email.strip().lower(), detail=refused.reason, client=client)
        session.commit()
        return render(request, "recruiter/login.html", status_code=429, next=safe_next(next),
                      error=f"{refused.reason}; try again in {_wait_words(refused.retry_after_s)}",
                      headers={"Retry-After": str(refused.retry_after_s)})
    recruiter = authenticate(session, email, password) if email and password else None
    if recruiter is None:
        locked = limits.failed(client, email, account, now)
        audit(session, "sign_in_failed", actor=email.strip().lower(), client=client,
              detail="wrong e-mail or password" + ("; the account is now locked" if locked else ""))
        session.commit()
        # One message for an unknown e-mail and a wrong password: the form does not tell who has an account.
        return render(request, "recruiter/login.html", status_code=401, next=safe_next(next),
                      error="wrong e-mail or password")
    limits.succeeded(email, recruiter)
    audit(session, "sign_in", actor=recruiter.email, client=client)
    session.commit()
    start_session(request, recruiter)
    log.info("recruiter %s logged in", recruiter.email)
    return RedirectResponse(safe_next(next), status_code=303)


def _wait_words(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


@router.get("/logout", response_class=HTMLResponse)
def logout_page(request: Request, me: Recruiter = Depends(page_recruiter)) -> HTMLResponse:
    return render(request, "recruiter/logout.html")


@router.post("/logout", dependencies=_CSRF)
def logout(request: Request) -> RedirectResponse:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


def _index(request: Request, session: Session, me: Recruiter, status_code: int = 200,
           **context: object) -> HTMLResponse:
    rows = []
    for invite in svc.list_invites(session, viewer=me):
        counted, latest = counted_job(invite), latest_finished(invite)
        rows.append({"invite": invite, "state": invite_state(invite), "result": counted.final if counted else None,
                     "latest": latest.final if latest is not None and latest is not counted else None,
                     "expired": invite.expired()})
    status = queue_status(session, request.app.state.settings)
    default_deadline = (utcnow() + dt.timedelta(days=14)).date().isoformat()
    teams = [t.name for t in (all_teams(session) if me.is_admin else me.teams)]
    return render(request, "recruiter/index.html", status_code=status_code, rows=rows,
                  exercises=list_exercises(), default_deadline=default_deadline, teams=teams,
                  banner=status.banner if status.queued else None, message=request.session.pop("flash", None),
                  **context)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> HTMLResponse:
    return _index(request, session, me)


@router.post("/invites", dependencies=_CSRF)
def create_invite(request: Request, candidate_name: str = Form(""), email: str = Form(""),
                  exercise: str = Form(""), deadline: str = Form(""), show_score: bool = Form(False),
                  team: str = Form(""), send_email: bool = Form(False),
                  me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    try:
        spec = svc.spec_from_form(candidate_name=candidate_name, email=email or None, exercise=exercise,
                                  deadline=deadline, show_score=show_score, team=team or None, send_email=send_email)
        created = svc.create_invites(session, [spec], by=me, client=client_of(request),
                                     base_url=public_base(request), settings=request.app.state.settings)
    except UsageError as exc:
        session.rollback()
        return _index(request, session, me, status_code=400, error=str(exc))
    session.commit()
    return render(request, "recruiter/created.html", created=created)


@router.post("/invites/import", dependencies=_CSRF)
async def import_invites(request: Request, file: UploadFile = File(...), show_score: bool = Form(False),
                         send_email: bool = Form(False), me: Recruiter = Depends(page_recruiter),
                         session: Session = Depends(db)) -> Response:
    data = await file.read(CSV_LIMIT + 1)
    try:
        if len(data) > CSV_LIMIT:
            raise UsageError(f"the CSV file is larger than {CSV_LIMIT // 2**20} MB")
        specs = [s.model_copy(update={"send_email": send_email}) for s in parse_csv(data, show_score=show_score)]
        created = svc.create_invites(session, specs, by=me, client=client_of(request),
                                     base_url=public_base(request), settings=request.app.state.settings)
    except UsageError as exc:
        session.rollback()  # a bad row anywhere: nothing of the file is kept
        return _index(request, session, me, status_code=400, error=f"CSV not imported: {exc}")
    session.commit()
    return render(request, "recruiter/created.html", created=created)


def _invite_page(request: Request, session: Session, invite: Invite, status_code: int = 200,
                 **context: object) -> HTMLResponse:
    counted = counted_job(invite)
    jobs = [{"job": j, "result": latest_result(j), "counts": j is counted,
             "upload": next((u for u in invite.uploads if u.id == j.upload_id), None)} for j in reversed(invite.jobs)]
    return render(request, "recruiter/invite.html", status_code=status_code, invite=invite, picked=invite.counted_job_id,
                  state=invite_state(invite), jobs=jobs, expired=invite.expired(),
                  messages=mail.messages_of(session, invite.id),
                  mail_unset=mail.why_not(request.app.state.settings, invite),
                  message=request.session.pop("flash", None), **interview_panel(session, invite),
                  **context)


def _invite_or_404(session: Session, invite_id: int, me: Recruiter) -> Invite:
    try:
        return svc.get_invite(session, invite_id, viewer=me)
    except svc.NotFound as exc:
        raise PageNotFound(str(exc)) from exc


@router.get("/invites/{invite_id}", response_class=HTMLResponse)
def invite_page(request: Request, invite_id: int = _id(), me: Recruiter = Depends(page_recruiter),
                session: Session = Depends(db)) -> HTMLResponse:
    return _invite_page(request, session, _invite_or_404(session, invite_id, me))


@router.post("/invites/{invite_id}/disable", dependencies=_CSRF)
def disable_invite(request: Request, invite_id: int = _id(), me: Recruiter = Depends(page_recruiter),
                   session: Session = Depends(db)) -> Response:
    invite = _invite_or_404(session, invite_id, me)
    changes.disable(session, invite, by=me, client=client_of(request))
    session.commit()
    _flash(request, "the link is disabled: the candidate can no longer open it")
    return _back(invite.id)


@router.post("/invites/{invite_id}/extend", dependencies=_CSRF)
def extend_invite(request: Request, invite_id: int = _id(), deadline: str = Form(""),
                  me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    invite = _invite_or_404(session, invite_id, me)
    try:
        changes.extend(session, invite, deadline, by=me, client=client_of(request),
                       settings=request.app.state.settings)
    except UsageError as exc:
        session.rollback()
        return _invite_page(request, session, invite, status_code=400, error=str(exc))
    session.commit()
    _flash(request, f"deadline set to {invite.deadline:%Y-%m-%d %H:%M} UTC")
    return _back(invite.id)


@router.post("/invites/{invite_id}/show-score", dependencies=_CSRF)
def show_score_invite(request: Request, invite_id: int = _id(), show_score: bool = Form(False),
                      me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    invite = _invite_or_404(session, invite_id, me)
    changes.set_show_score(session, invite, show_score, by=me, client=client_of(request))
    session.commit()
    _flash(request, "the candidate now sees their score" if show_score else "the score is hidden from the candidate")
    return _back(invite.id)


@router.post("/invites/{invite_id}/reissue", dependencies=_CSRF)
def reissue_invite(request: Request, invite_id: int = _id(), send_email: bool = Form(False),
                   me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    invite = _invite_or_404(session, invite_id, me)
    created = changes.reissue(session, invite, by=me, base_url=public_base(request), client=client_of(request))
    if send_email:
        created = svc.send_link(session, request.app.state.settings, created, reissued=True)
    session.commit()
    return render(request, "recruiter/created.html", created=[created], reissued=True)


@router.post("/invites/{invite_id}/count", dependencies=_CSRF)
def count_job(request: Request, invite_id: int = _id(), job_id: int = Form(0), me: Recruiter = Depends(page_recruiter),
              session: Session = Depends(db)) -> Response:
    invite = _invite_or_404(session, invite_id, me)
    try:
        changes.set_counted(session, invite, job_id or None, by=me, client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _invite_page(request, session, invite, status_code=400, error=str(exc))
    session.commit()
    _flash(request, f"job {job_id}'s result now counts for this invite" if job_id
           else "the newest graded result counts for this invite")
    return _back(invite.id)


@router.post("/invites/{invite_id}/rerun", dependencies=_CSRF)
def rerun_invite(request: Request, invite_id: int = _id(), me: Recruiter = Depends(page_recruiter),
                 session: Session = Depends(db)) -> Response:
    invite = _invite_or_404(session, invite_id, me)
    try:
        job = changes.rerun(session, invite, by=me, client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _invite_page(request, session, invite, status_code=400, error=str(exc))
    session.commit()
    svc.send(request.app.state.settings, job.id)
    _flash(request, f"grading queued again as job {job.id}; the earlier result stays below")
    return _back(invite.id)
