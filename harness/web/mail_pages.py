"""E-mail pages: /admin/mail (the SMTP settings without the password, the reminder setting, the templates
and where to override them, a test e-mail, the outbox without bodies) and "retry now" on a message,
from the admin page or from its invite's page (for a recruiter of the invite's team)."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from harness.notify import mail, mail_render
from harness.store.audit import audit
from harness.store.models import Message, Recruiter, utcnow
from harness.web import invites as svc
from harness.web.auth import admin_recruiter, client_of, db, page_recruiter, require_csrf
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1
_CSRF = [Depends(require_csrf)]
OUTBOX_ROWS = 100


def _id() -> int:
    return Path(ge=1, le=MAX_ID)  # type: ignore[no-any-return]


@router.get("/admin/mail", response_class=HTMLResponse)
def mail_page(request: Request, me: Recruiter = Depends(admin_recruiter),
              session: Session = Depends(db)) -> HTMLResponse:
    settings = request.app.state.settings
    return render(request, "admin/mail.html", smtp=settings.smtp.describe() if settings.smtp else None,
                  reminder_before_h=settings.reminder_before_h,
                  templates=mail_render.template_rows(settings.data_dir, settings.public_url),
                  variables=mail_render.VARIABLES, override_dir=mail_render.override_dir(settings.data_dir),
                  outbox=mail.latest(session, OUTBOX_ROWS), now=utcnow(),
                  message=request.session.pop("flash", None))


@router.post("/admin/mail/test", dependencies=_CSRF)
def send_test(request: Request, me: Recruiter = Depends(admin_recruiter), session: Session = Depends(db)) -> Response:
    """A test e-mail to the admin, sent at once so the page can say how it went (and retried if it failed)."""
    settings = request.app.state.settings
    if settings.smtp is None:
        request.session["flash"] = "no SMTP server set: nothing was sent (see `shiftwork serve --help`, --smtp-*)"
        return RedirectResponse("/admin/mail", status_code=303)
    message = mail.queue_test(session, me.email)
    audit(session, "mail_test", actor=me.email, target=me.email, client=client_of(request))
    session.commit()
    mid = message.id
    mail.send_due(settings, request.app.state.sessions, utcnow(), only=mid)
    session.expire_all()
    sent = session.get(Message, mid)
    if sent is not None and sent.state == mail.SENT:
        request.session["flash"] = f"a test e-mail was sent to {me.email}"
    else:
        why = sent.last_error if sent is not None and sent.last_error else "not sent yet"
        request.session["flash"] = f"the test e-mail to {me.email} was not sent: {why}"
    return RedirectResponse("/admin/mail", status_code=303)


def _retry(request: Request, session: Session, message: Message, me: Recruiter) -> str:
    if not mail.retry_now(session, message):
        waiting = " (not tried yet)" if message.state == mail.QUEUED else ""
        return f"e-mail {message.id} is {message.state}{waiting}: nothing to retry"
    audit(session, "mail_retried", actor=me.email, target=f"message {message.id}",
          detail=f"{message.kind} to {message.recipient}", client=client_of(request))
    session.commit()
    return f"e-mail {message.id} ({message.kind}) will be tried again within seconds"


@router.post("/admin/mail/messages/{message_id}/retry", dependencies=_CSRF)
def retry_from_admin(request: Request, message_id: int = _id(), me: Recruiter = Depends(admin_recruiter),
                     session: Session = Depends(db)) -> Response:
    message = session.get(Message, message_id)
    if message is None:
        raise PageNotFound(f"no e-mail {message_id}")
    request.session["flash"] = _retry(request, session, message, me)
    return RedirectResponse("/admin/mail", status_code=303)


@router.post("/invites/{invite_id}/messages/{message_id}/retry", dependencies=_CSRF)
def retry_from_invite(request: Request, invite_id: int = _id(), message_id: int = _id(),
                      me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    try:
        invite = svc.get_invite(session, invite_id, viewer=me)  # another team's invite is a 404
    except svc.NotFound as exc:
        raise PageNotFound(str(exc)) from exc
    message = session.get(Message, message_id)
    if message is None or message.invite_id != invite.id:
        raise PageNotFound(f"invite {invite_id} has no e-mail {message_id}")
    request.session["flash"] = _retry(request, session, message, me)
    return RedirectResponse(f"/invites/{invite.id}", status_code=303)
