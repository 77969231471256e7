"""Webhook subscriptions: a team's URL, the events it takes, and the secret its deliveries are signed with.

The app makes the secret (Standard Webhooks form, whsec_ + base64 of 32 random bytes), shows it
once, and keeps it sealed with the app's encryption key: pages and the API show "whsec_••••••••"
after that. Administrators manage every team's subscriptions, a recruiter their own teams' ones;
another team's subscription is as unknown as a missing one. Nothing here commits: the caller does.
"""
from __future__ import annotations

import base64
import logging
import secrets
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.notify import targets, webhooks
from harness.notify.events import EVENTS
from harness.store.audit import audit
from harness.store.models import Recruiter, Team, WebhookDelivery, WebhookSubscription, utcnow
from harness.store.sealed import Sealer
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)
REDACTED = "whsec_••••••••"
SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def clean_events(events: Iterable[str]) -> list[str]:
    """The events asked for, each once, in EVENTS' order; UsageError for none or an unknown one."""
    wanted = {e.strip() for e in events if e.strip()}
    unknown = sorted(wanted - set(EVENTS))
    if unknown:
        raise UsageError(f"not an event: {unknown[0][:60]!r} (events: {', '.join(EVENTS)})")
    if not wanted:
        raise UsageError(f"pick at least one event ({', '.join(EVENTS)})")
    return [e for e in EVENTS if e in wanted]


def create(session: Session, settings: WebSettings, team: Team, url: str, events: Iterable[str], *,
           by: Recruiter, client: str = "",
           resolve: targets.Resolver = targets.system_resolver) -> tuple[WebhookSubscription, str]:
    """A subscription of `team` and its secret (the caller shows it once); the URL passes the policy."""
    chosen = clean_events(events)
    target = targets.check(url.strip(), settings, resolve)
    secret = new_secret()
    sub = WebhookSubscription(team_id=team.id, url=target.url, events=chosen,
                              secret_sealed=Sealer(settings.encryption_key).seal(secret), active=True,
                              created_by=by.email, created_at=utcnow())
    session.add(sub)
    session.flush()
    audit(session, "webhook_created", actor=by.email, target=f"webhook {sub.id}",
          detail=f"team {team.name}: {target.url} ({', '.join(chosen)})", client=client)
    log.info("%s created webhook %s of team %s (%s)", by.email, sub.id, team.name, target.host)
    return sub, secret


def rotate_secret(session: Session, settings: WebSettings, sub: WebhookSubscription, *, by: Recruiter,
                  client: str = "") -> str:
    """A new secret (the caller shows it once); deliveries still to be tried are signed with it."""
    secret = new_secret()
    sub.secret_sealed = Sealer(settings.encryption_key).seal(secret)
    audit(session, "webhook_secret_rotated", actor=by.email, target=f"webhook {sub.id}", client=client)
    return secret


def set_active(session: Session, sub: WebhookSubscription, active: bool, *, by: Recruiter, client: str = "") -> None:
    """Disable (no new deliveries; those queued wait) or enable again."""
    if sub.active != active:
        sub.active = active
        audit(session, "webhook_enabled" if active else "webhook_disabled", actor=by.email,
              target=f"webhook {sub.id}", detail=sub.url, client=client)


def delete(session: Session, sub: WebhookSubscription, *, by: Recruiter, client: str = "") -> None:
    """The subscription goes with its deliveries and their log (the audit log keeps that it existed)."""
    audit(session, "webhook_deleted", actor=by.email, target=f"webhook {sub.id}",
          detail=f"team {sub.team.name}: {sub.url}", client=client)
    for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)):
        session.delete(d)  # with its attempts (the ORM cascade), on SQLite without foreign keys too
    session.delete(sub)


def _teams(viewer: Recruiter) -> set[int] | None:
    return set() if viewer.is_interviewer else viewer.team_ids()


def visible(session: Session, viewer: Recruiter) -> list[WebhookSubscription]:
    """The subscriptions `viewer` manages (their teams'; every team's for an administrator), newest first."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.id.desc())
    teams = _teams(viewer)
    if teams is not None:
        query = query.where(WebhookSubscription.team_id.in_(teams))
    return list(session.scalars(query))


def find(session: Session, sub_id: int, viewer: Recruiter) -> WebhookSubscription | None:
    sub = session.get(WebhookSubscription, sub_id)
    teams = _teams(viewer)
    return None if sub is None or (teams is not None and sub.team_id not in teams) else sub


def find_delivery(session: Session, delivery_id: int, viewer: Recruiter) -> WebhookDelivery | None:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or find(session, delivery.subscription_id, viewer) is None:
        return None
    return delivery


def deliveries(session: Session, sub: WebhookSubscription, limit: int = 200) -> list[WebhookDelivery]:
    """The subscription's deliveries, newest first, each with its log of tries."""
    return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
                                .order_by(WebhookDelivery.id.desc()).limit(limit)))


def latest(session: Session, subs: list[WebhookSubscription]) -> dict[int, WebhookDelivery]:
    """Each subscription's newest delivery (what the list shows at a glance: is the receiver answering?)."""
    out = {}
    for sub in subs:
        newest = session.scalar(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
                                .order_by(WebhookDelivery.id.desc()).limit(1))
        if newest is not None:
            out[sub.id] = newest
    return out


def redeliver(session: Session, delivery: WebhookDelivery, *, by: Recruiter, client: str = "") -> None:
    """One more try, by hand, as soon as the dispatcher runs (same message id, a new timestamp)."""
    if delivery.state not in (webhooks.DELIVERED, webhooks.FAILED):
        raise UsageError(f"delivery {delivery.id} is still being tried ({delivery.state}): wait for it to be "
                         "delivered or to fail")
    delivery.state = webhooks.REDELIVER
    delivery.next_attempt_at = utcnow()
    audit(session, "webhook_redelivered", actor=by.email, target=f"webhook {delivery.subscription_id}",
          detail=f"delivery {delivery.id}: {delivery.event_type} {delivery.message_id}", client=client)
