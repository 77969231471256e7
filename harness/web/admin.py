"""The admin page: workers and the queue, locked accounts (an administrator lifts a lock), the audit log."""
from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from harness.store.audit import audit, recent
from harness.store.models import Recruiter, utcnow
from harness.web.auth import admin_recruiter, client_of, db, require_csrf
from harness.web.login_limits import unlock
from harness.web.status import queue_status
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1
AUDIT_ROWS = 200


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, me: Recruiter = Depends(admin_recruiter),
               session: Session = Depends(db)) -> HTMLResponse:
    settings = request.app.state.settings
    now = utcnow()
    locked = [r for r in session.scalars(select(Recruiter).where(Recruiter.locked_until.is_not(None))
                                         .order_by(Recruiter.email)) if r.locked(now)]
    return render(request, "recruiter/admin.html", status=queue_status(session, settings),
                  heartbeat_s=settings.heartbeat_s, broker=_broker_label(settings.broker_url),
                  embedded=settings.embedded_worker, locked=locked, audit_log=recent(session, AUDIT_ROWS),
                  message=request.session.pop("flash", None))


@router.post("/admin/recruiters/{recruiter_id}/unlock", dependencies=[Depends(require_csrf)])
def unlock_recruiter(request: Request, recruiter_id: int = Path(ge=1, le=MAX_ID),
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
