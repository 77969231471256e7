"""E-mail pages: /admin/mail (the SMTP settings without the password, the reminder setting, the templates
and where to override them, a test e-mail, the outbox without bodies) and "retry now" on a message,
from the admin page or from its invite's page (for a recruiter of the invite's team)."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from grader.errors import MailTemplateError
from harness.notify import mail, mail_render
from harness.store.audit import audit
from harness.store.models import Message, Recruiter, utcnow
from harness.web import invites as svc
from harness.web.auth import admin_recruiter, client_of, db, page_recruiter, require_csrf
from harness.web.params import path_id as _id
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_CSRF = [Depends(require_csrf)]
OUTBOX_ROWS = 100



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


def _template_page(request: Request, name: str, *, text: str | None = None, problem: str | None = None,
                   status_code: int = 200) -> HTMLResponse:
    settings = request.app.state.settings
    try:
        kind, _ = mail_render.parse_name(name)
        current, overridden = mail_render.source(settings.data_dir, name)
    except MailTemplateError as exc:
        raise PageNotFound(str(exc)) from None
    return render(request, "admin/mail_template.html", status_code=status_code, template=name, kind=kind,
                  text=current if text is None else text, overridden=overridden, problem=problem,
                  variables=mail_render.VARIABLES[kind], message=request.session.pop("flash", None))


@router.get("/admin/mail/templates/{name}", response_class=HTMLResponse)
def template_page(request: Request, name: str, me: Recruiter = Depends(admin_recruiter)) -> HTMLResponse:
    return _template_page(request, name)


@router.post("/admin/mail/templates/{name}", dependencies=_CSRF)
def save_template(request: Request, name: str, text: str = Form(""), reset: str = Form(""),
                  me: Recruiter = Depends(admin_recruiter), session: Session = Depends(db)) -> Response:
    """Save the admin's text as the override (checked first: a template that does not render is refused and
    the text kept in the form), or go back to the shipped one. Mail already waiting is rendered with it."""
    settings = request.app.state.settings
    try:
        mail_render.parse_name(name)
        if reset:
            done = mail_render.remove_override(settings.data_dir, name)
            what = "back to the shipped template" if done else "already the shipped template"
        else:
            mail_render.save_override(settings.data_dir, name, text, settings.public_url)
            what = "saved"
    except MailTemplateError as exc:
        if not reset and "no mail template" not in str(exc):
            return _template_page(request, name, text=text, problem=str(exc), status_code=400)
        raise PageNotFound(str(exc)) from None
    audit(session, "mail_template", actor=me.email, target=name, detail=what, client=client_of(request))
    session.commit()
    request.session["flash"] = f"{name}: {what}"
    return RedirectResponse(f"/admin/mail/templates/{name}", status_code=303)


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
