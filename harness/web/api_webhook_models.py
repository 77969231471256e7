"""The webhook API's request and response models. A subscription's secret is in SubscriptionCreated and
SecretOut only (the answers of creating it and rotating it); every other answer leaves it out."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from harness.notify import EVENTS
from harness.notify import webhooks as hooks
from harness.store.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from harness.web.api_models import utc


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="https:// on a public address (an administrator may allow "
                                                  "http:// or private hosts: --webhook-allowed-host)")
    events: list[str] = Field(min_length=1, max_length=len(EVENTS), description=f"Some of: {', '.join(EVENTS)}")
    team: str | None = Field(default=None, max_length=100,
                             description="The team whose invites' events go there; needed only by a recruiter "
                                         "of several teams")


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


class SubscriptionOut(BaseModel):
    id: int
    team: str
    url: str
    events: list[str]
    active: bool
    created_by: str
    created_at: dt.datetime

    @classmethod
    def of(cls, s: WebhookSubscription) -> "SubscriptionOut":
        return cls(id=s.id, team=s.team.name, url=s.url, events=list(s.events or []), active=s.active,
                   created_by=s.created_by, created_at=utc(s.created_at))


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="The signing secret (whsec_...), returned only here: verify deliveries with "
                                    "it (the standardwebhooks library)")


class SecretOut(BaseModel):
    id: int
    secret: str = Field(description="The new signing secret, returned only here; the old one stops signing now")


class AttemptOut(BaseModel):
    at: dt.datetime
    status_code: int | None = Field(description="The receiver's answer; null when there was none")
    error: str = Field(description="Why the try failed (empty when the receiver answered 2xx)")
    duration_ms: float
    manual: bool = Field(description="A redelivery asked for by hand")

    @classmethod
    def of(cls, a: WebhookAttempt) -> "AttemptOut":
        return cls(at=utc(a.at), status_code=a.status_code, error=a.error, duration_ms=a.duration_ms,
                   manual=a.manual)


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event_type: str
    message_id: str = Field(description="The webhook-id header: the same on every try")
    state: str = Field(description="pending (retried with backoff for a day), delivered, failed, or redeliver "
                                   "(a try by hand, due now)")
    attempts: int
    next_attempt_at: dt.datetime | None = Field(description="When it is tried next (pending or redeliver only)")
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    log: list[AttemptOut] = Field(description="Every try, oldest first")

    @classmethod
    def of(cls, d: WebhookDelivery) -> "DeliveryOut":
        waiting = d.state in (hooks.PENDING, hooks.REDELIVER)
        return cls(id=d.id, subscription_id=d.subscription_id, event_type=d.event_type, message_id=d.message_id,
                   state=d.state, attempts=d.attempts, next_attempt_at=utc(d.next_attempt_at) if waiting else None,
                   created_at=utc(d.created_at), delivered_at=utc(d.delivered_at),
                   log=[AttemptOut.of(a) for a in d.log])
