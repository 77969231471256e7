"""The admin page: workers and the queue, locked accounts (an administrator lifts a lock), interviewer
accounts (made here as recruiters are made with `shiftwork admin create-user`), the audit log."""
from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.store.audit import audit, recent
from harness.store.models import INTERVIEWER, Recruiter, utcnow
from harness.store.teams import all_teams
from harness.web.accounts import create_recruiter
from harness.web.auth import admin_recruiter, client_of, db, require_csrf
from harness.web.login_limits import unlock
from harness.web.params import path_id as _id
from harness.web.status import queue_status
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
AUDIT_ROWS = 200


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, me: Recruiter = Depends(admin_recruiter),
               session: Session = Depends(db)) -> HTMLResponse:
    return _admin(request, session)


def _admin(request: Request, session: Session, status_code: int = 200, **context: object) -> HTMLResponse:
    settings = request.app.state.settings
    now = utcnow()
    locked = [r for r in session.scalars(select(Recruiter).where(Recruiter.locked_until.is_not(None))
                                         .order_by(Recruiter.email)) if r.locked(now)]
    interviewers = list(session.scalars(select(Recruiter).where(Recruiter.role == INTERVIEWER)
                                        .order_by(Recruiter.email)))
    return render(request, "recruiter/admin.html", status_code=status_code, status=queue_status(session, settings),
                  heartbeat_s=settings.heartbeat_s, broker=_broker_label(settings.broker_url),
                  embedded=settings.embedded_worker, locked=locked, audit_log=recent(session, AUDIT_ROWS),
                  interviewers=interviewers, teams=[t.name for t in all_teams(session)],
                  message=request.session.pop("flash", None), **context)


@router.post("/admin/interviewers", dependencies=[Depends(require_csrf)])
def create_interviewer(request: Request, email: str = Form(""), name: str = Form(""), password: str = Form(""),
                       team: str = Form(""), me: Recruiter = Depends(admin_recruiter),
                       session: Session = Depends(db)) -> Response:
    """An interviewer account in one team; they sign in on /login and see only what is assigned to them."""
    try:
        account = create_recruiter(session, email, password, name=name, teams=[team] if team.strip() else None,
                                   role=INTERVIEWER)
    except UsageError as exc:
        session.rollback()
        return _admin(request, session, status_code=400, error=str(exc))
    audit(session, "account_created", actor=me.email, target=account.email,
          detail=f"interviewer, team(s): {', '.join(t.name for t in account.teams)}", client=client_of(request))
    session.commit()
    request.session["flash"] = f"interviewer {account.email} created"
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/recruiters/{recruiter_id}/unlock", dependencies=[Depends(require_csrf)])
def unlock_recruiter(request: Request, recruiter_id: int = _id(),
                     me: Recruiter = Depends(admin_recruiter), session: Session = Depends(db)) -> Response:
    account = session.get(Recruiter, recruiter_id)
    if account is None:
        raise PageNotFound(f"no account {recruiter_id}")
    unlock(account)
    audit(session, "account_unlocked", actor=me.email, target=account.email, client=client_of(request))
    session.commit()
    log.info("%s unlocked %s", me.email, account.email)
    request.session["flash"] = f"{account.email} can sign in again"
    return RedirectResponse("/admin", status_code=303)


def _broker_label(url: str) -> str:
    # Never show a broker password on a page.
    return re.sub(r"//[^@/]*@", "//***@", url)
