"""The webhook API (/api/v1): a team's subscriptions, their delivery log, a redelivery by hand.

The same scoping as the pages (harness.notify.subscriptions): a recruiter's token reaches their teams'
subscriptions, an administrator's every team's; another team's is a 404; an interviewer's token a 403.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.notify import subscriptions as subs
from harness.store.models import Recruiter, WebhookSubscription
from harness.web.api_models import Problem
from harness.web.api_webhook_models import (
    ActiveIn,
    DeliveryOut,
    SecretOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from harness.web.auth import api_recruiter, client_of, db
from harness.web.invites import team_for
from harness.web.params import path_id as _id

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "refused, with a one-line reason (a URL the policy refuses, say)"},
    401: {"model": Problem, "description": "no valid API token"},
    403: {"model": Problem, "description": "an interviewer's token"},
    404: {"model": Problem, "description": "no such subscription or delivery (or another team's)"}}
router = APIRouter(dependencies=[Depends(api_recruiter)], responses=_ERRORS, tags=["webhooks"])



def _sub(session: Session, sub_id: int, me: Recruiter) -> WebhookSubscription:
    sub = subs.find(session, sub_id, me)
    if sub is None:
        raise HTTPException(status_code=404, detail=f"no webhook subscription {sub_id}")
    return sub


def _refused(session: Session, exc: UsageError) -> HTTPException:
    session.rollback()
    return HTTPException(status_code=400, detail=str(exc))


@router.get("/webhooks", response_model=list[SubscriptionOut],
            summary="The webhook subscriptions of your teams (every team's for an administrator)")
def list_subscriptions(session: Session = Depends(db), me: Recruiter = Depends(api_recruiter)) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in subs.visible(session, me)]


@router.post("/webhooks", response_model=SubscriptionCreated, status_code=201,
             summary="Subscribe a URL to events; the answer carries the signing secret (shown this once)")
def create_subscription(body: SubscriptionIn, request: Request, session: Session = Depends(db),
                        me: Recruiter = Depends(api_recruiter)) -> SubscriptionCreated:
    try:
        team = team_for(session, me, body.team)
        sub, secret = subs.create(session, request.app.state.settings, team, body.url, body.events, by=me,
                                  client=client_of(request))
    except UsageError as exc:
        raise _refused(session, exc) from None
    session.commit()
    return SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(), secret=secret)


@router.get("/webhooks/{sub_id}", response_model=SubscriptionOut, summary="One subscription (never its secret)")
def get_subscription(sub_id: int = _id(), session: Session = Depends(db),
                     me: Recruiter = Depends(api_recruiter)) -> SubscriptionOut:
    return SubscriptionOut.of(_sub(session, sub_id, me))


@router.patch("/webhooks/{sub_id}", response_model=SubscriptionOut,
              summary="Disable a subscription (no new deliveries) or enable it again")
def set_active(body: ActiveIn, request: Request, sub_id: int = _id(), session: Session = Depends(db),
               me: Recruiter = Depends(api_recruiter)) -> SubscriptionOut:
    sub = _sub(session, sub_id, me)
    subs.set_active(session, sub, body.active, by=me, client=client_of(request))
    session.commit()
    return SubscriptionOut.of(sub)


@router.delete("/webhooks/{sub_id}", status_code=204, response_class=Response,
               summary="Delete a subscription with its deliveries and their log")
def delete_subscription(request: Request, sub_id: int = _id(), session: Session = Depends(db),
                        me: Recruiter = Depends(api_recruiter)) -> Response:
    subs.delete(session, _sub(session, sub_id, me), by=me, client=client_of(request))
    session.commit()
    return Response(status_code=204)


@router.post("/webhooks/{sub_id}/rotate-secret", response_model=SecretOut,
             summary="A new signing secret (shown this once); deliveries from now on are signed with it")
def rotate_secret(request: Request, sub_id: int = _id(), session: Session = Depends(db),
                  me: Recruiter = Depends(api_recruiter)) -> SecretOut:
    sub = _sub(session, sub_id, me)
    secret = subs.rotate_secret(session, request.app.state.settings, sub, by=me, client=client_of(request))
    session.commit()
    return SecretOut(id=sub.id, secret=secret)


@router.get("/webhooks/{sub_id}/deliveries", response_model=list[DeliveryOut],
            summary="The delivery log: each delivery, newest first, with every try and the receiver's answer")
def list_deliveries(sub_id: int = _id(), limit: int = Query(100, ge=1, le=1000), session: Session = Depends(db),
                    me: Recruiter = Depends(api_recruiter)) -> list[DeliveryOut]:
    return [DeliveryOut.of(d) for d in subs.deliveries(session, _sub(session, sub_id, me), limit)]


@router.post("/webhook-deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             summary="Send a delivered or failed delivery once more, now (same webhook-id, logged manual)")
def redeliver(request: Request, delivery_id: int = _id(), session: Session = Depends(db),
              me: Recruiter = Depends(api_recruiter)) -> DeliveryOut:
    delivery = subs.find_delivery(session, delivery_id, me)
    if delivery is None:
        raise HTTPException(status_code=404, detail=f"no webhook delivery {delivery_id}")
    try:
        subs.redeliver(session, delivery, by=me, client=client_of(request))
    except UsageError as exc:
        raise _refused(session, exc) from None
    session.commit()
    return DeliveryOut.of(delivery)
