"""The webhook pages: a team's subscriptions (/webhooks), one subscription's delivery log (/webhooks/{id})
with a redelivery by hand, the signing secret shown once (at creation and at rotation).

Thin: the work is in harness.notify.subscriptions (shared with the JSON API). A recruiter manages
their teams' subscriptions, an administrator every team's; another team's is a 404.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.notify import EVENTS
from harness.notify import subscriptions as subs
from harness.notify import webhooks as hooks
from harness.store.models import Recruiter, WebhookSubscription
from harness.web.auth import client_of, db, page_recruiter, require_csrf
from harness.web.decisions import viewer_teams
from harness.web.invites import team_for
from harness.web.params import path_id as _id
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_CSRF = [Depends(require_csrf)]



def _sub(session: Session, sub_id: int, me: Recruiter) -> WebhookSubscription:
    sub = subs.find(session, sub_id, me)
    if sub is None:
        raise PageNotFound(f"no webhook subscription {sub_id}")
    return sub


def _list_page(request: Request, session: Session, me: Recruiter, status_code: int = 200,
               **context: object) -> HTMLResponse:
    listed = subs.visible(session, me)
    return render(request, "admin/webhooks.html", status_code=status_code, subscriptions=listed,
                  latest=subs.latest(session, listed),
                  teams=[t.name for t in viewer_teams(session, me)], events=EVENTS, redacted=subs.REDACTED,
                  allowed_hosts=request.app.state.settings.webhook_allowed_hosts,
                  message=request.session.pop("flash", None), **context)


def _secret_page(request: Request, sub: WebhookSubscription, secret: str, rotated: bool) -> HTMLResponse:
    # rendered, never redirected to: the secret must not sit in the session cookie
    return render(request, "admin/webhook_secret.html", sub=sub,
                  secret=secret, rotated=rotated)


def _back(request: Request, sub_id: int, message: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(f"/webhooks/{sub_id}", status_code=303)


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, me: Recruiter = Depends(page_recruiter),
                  session: Session = Depends(db)) -> HTMLResponse:
    return _list_page(request, session, me)


@router.post("/webhooks", dependencies=_CSRF)
def create(request: Request, url: str = Form(""), team: str = Form(""), events: list[str] = Form([]),
           me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    try:
        sub, secret = subs.create(session, request.app.state.settings, team_for(session, me, team or None), url,
                                  events, by=me, client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _list_page(request, session, me, status_code=400, error=str(exc), form_url=url[:2000],
                          form_team=team, form_events=events)
    session.commit()
    return _secret_page(request, sub, secret, rotated=False)


@router.get("/webhooks/{sub_id}", response_class=HTMLResponse)
def subscription_page(request: Request, sub_id: int = _id(), me: Recruiter = Depends(page_recruiter),
                      session: Session = Depends(db)) -> HTMLResponse:
    sub = _sub(session, sub_id, me)
    return render(request, "admin/webhook.html", sub=sub, deliveries=subs.deliveries(session, sub),
                  redacted=subs.REDACTED, waiting=(hooks.PENDING, hooks.REDELIVER),
                  again=(hooks.DELIVERED, hooks.FAILED), message=request.session.pop("flash", None))


@router.post("/webhooks/{sub_id}/active", dependencies=_CSRF)
def set_active(request: Request, sub_id: int = _id(), active: bool = Form(False),
               me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    sub = _sub(session, sub_id, me)
    subs.set_active(session, sub, active, by=me, client=client_of(request))
    session.commit()
    return _back(request, sub.id, f"webhook {sub.id} is {'enabled' if active else 'disabled'}")


@router.post("/webhooks/{sub_id}/delete", dependencies=_CSRF)
def delete(request: Request, sub_id: int = _id(), me: Recruiter = Depends(page_recruiter),
           session: Session = Depends(db)) -> Response:
    sub = _sub(session, sub_id, me)
    subs.delete(session, sub, by=me, client=client_of(request))
    session.commit()
    request.session["flash"] = f"webhook {sub_id} deleted"
    return RedirectResponse("/webhooks", status_code=303)


@router.post("/webhooks/{sub_id}/rotate", dependencies=_CSRF)
def rotate(request: Request, sub_id: int = _id(), me: Recruiter = Depends(page_recruiter),
           session: Session = Depends(db)) -> Response:
    sub = _sub(session, sub_id, me)
    secret = subs.rotate_secret(session, request.app.state.settings, sub, by=me, client=client_of(request))
    session.commit()
    return _secret_page(request, sub, secret, rotated=True)


@router.post("/webhook-deliveries/{delivery_id}/redeliver", dependencies=_CSRF)
def redeliver(request: Request, delivery_id: int = _id(), me: Recruiter = Depends(page_recruiter),
              session: Session = Depends(db)) -> Response:
    delivery = subs.find_delivery(session, delivery_id, me)
    if delivery is None:
        raise PageNotFound(f"no webhook delivery {delivery_id}")
    try:
        subs.redeliver(session, delivery, by=me, client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _back(request, delivery.subscription_id, str(exc))
    session.commit()
    return _back(request, delivery.subscription_id,
                 f"delivery {delivery.id} ({delivery.event_type}) is sent again in a few seconds")
