"""Signed webhooks (Standard Webhooks): a delivery per subscription an event concerns, and its sender.

The payload is serialised once, when the event happens, and stored: the bytes signed and sent on
every try are exactly those. Each try signs them again with its own timestamp (receivers refuse old
ones) under the same message id (receivers drop a message they already have). A try first claims its
delivery: one guarded UPDATE moves its next try past the request's timeout, so two dispatchers never
send one delivery twice. Every try, answered or not, is a WebhookAttempt row: the delivery log.

state: pending (tried at next_attempt_at, with backoff for a day), delivered, failed (gave up), and
redeliver (an administrator asked for one more try by hand: tried once, now, logged manual).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from grader.errors import ConfigError
from harness.notify import retry, targets
from harness.store.db import transaction
from harness.store.models import Invite, WebhookAttempt, WebhookDelivery, WebhookSubscription, utcnow
from harness.store.sealed import Sealer
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)
PENDING, DELIVERED, FAILED, REDELIVER = "pending", "delivered", "failed", "redeliver"
TIMEOUT_S = 10.0  # connect, write and each read; the whole answer within twice that
CLAIM_S = 60.0  # a claimed delivery is not due again for this long: well past one try's timeout
BODY_CAP = 16 * 1024  # what is read of an answer (the log keeps an excerpt of a refusal)
BATCH = 50  # deliveries tried per pass; the rest wait for the next pass, seconds later
USER_AGENT = "shiftwork-webhooks/1 (Standard Webhooks)"


def body_of(payload: dict[str, Any]) -> str:
    """The payload as sent and signed: compact, keys sorted, ASCII (the same bytes every time)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(20)


def enqueue(session: Session, settings: WebSettings, invite: Invite, event: str, payload: dict[str, Any]) -> int:
    """A delivery per active subscription of the invite's team that takes `event`; returns how many."""
    subs = session.scalars(select(WebhookSubscription).where(WebhookSubscription.team_id == invite.team_id,
                                                             WebhookSubscription.active.is_(True))
                           .order_by(WebhookSubscription.id))
    body, now, made = body_of(payload), utcnow(), 0
    for sub in subs:
        if event in (sub.events or []):
            session.add(WebhookDelivery(subscription_id=sub.id, message_id=new_message_id(), event_type=event,
                                        payload=body, state=PENDING, attempts=0, next_attempt_at=now,
                                        created_at=now))
            made += 1
    if made:
        log.info("%s of invite %s: %d webhook deliver%s queued", event, invite.id, made, "y" if made == 1 else "ies")
    return made


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: str
    event_type: str
    body: str
    url: str
    secret_sealed: str
    manual: bool
    attempts: int
    created_at: dt.datetime
    held_until: dt.datetime  # next_attempt_at as the claim set it: the result is written only if it still is


@dataclass(frozen=True)
class _Outcome:
    at: dt.datetime
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver_due(settings: WebSettings, factory: sessionmaker[Session], now: dt.datetime, *,
                resolve: targets.Resolver = targets.system_resolver) -> int:
    """Try every delivery due at `now` (of an active subscription); returns how many were delivered.
    `now` is the dispatcher's clock: each try happens at `now` plus the time this pass has taken."""
    started = time.monotonic()

    def clock() -> dt.datetime:
        return now + dt.timedelta(seconds=time.monotonic() - started)

    with factory() as s:
        due = s.execute(select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
                        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                        .where(WebhookDelivery.state.in_((PENDING, REDELIVER)),
                               WebhookDelivery.next_attempt_at <= now, WebhookSubscription.active.is_(True))
                        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(BATCH)).all()
    if not due:
        return 0
    delivered = 0
    # trust_env=False: no proxy from the environment, the request goes to the address the policy checked
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
        for row in due:
            job = _claim(factory, row.id, row.next_attempt_at, clock())
            if job is not None:
                outcome = _send(client, settings, job, clock, resolve)
                delivered += _record(factory, job, outcome)
    return delivered


def _claim(factory: sessionmaker[Session], delivery_id: int, due_at: dt.datetime,
           at: dt.datetime) -> _Claimed | None:
    """Take the delivery for one try, or None: another dispatcher took it, or it changed since it was read."""
    held = at + dt.timedelta(seconds=CLAIM_S)
    with transaction(factory) as s:
        done = s.execute(update(WebhookDelivery)
                         .where(WebhookDelivery.id == delivery_id, WebhookDelivery.next_attempt_at == due_at,
                                WebhookDelivery.state.in_((PENDING, REDELIVER)))
                         .values(next_attempt_at=held).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            return None
        d = s.get(WebhookDelivery, delivery_id)
        if d is None:
            return None
        sub = d.subscription
        return _Claimed(id=d.id, message_id=d.message_id, event_type=d.event_type, body=d.payload, url=sub.url,
                        secret_sealed=sub.secret_sealed, manual=d.state == REDELIVER, attempts=d.attempts,
                        created_at=d.created_at, held_until=held)


def signed_headers(secret: str, message_id: str, at: dt.datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one try (the library signs id.timestamp.body)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(math.floor(aware.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, aware, body),
            "Content-Type": "application/json", "User-Agent": USER_AGENT}


def _send(client: httpx.Client, settings: WebSettings, job: _Claimed, clock: Callable[[], dt.datetime],
          resolve: targets.Resolver) -> _Outcome:
    at, t0 = clock(), time.monotonic()

    def ended(error: str, status: int | None = None) -> _Outcome:
        return _Outcome(at, status, error[:2000], round((time.monotonic() - t0) * 1000, 1))

    try:
        target = targets.check(job.url, settings, resolve)  # again: what a name resolves to can change
        secret = Sealer(settings.encryption_key).open(job.secret_sealed)
    except (targets.TargetRefused, ConfigError) as exc:
        log.warning("webhook %s (%s): not sent: %s", job.message_id, job.event_type, exc)
        return ended(str(exc))
    body = job.body.encode("utf-8")
    url, host, extensions = target.pinned()
    headers = {**signed_headers(secret, job.message_id, at, body), **host}
    try:
        with client.stream("POST", url, content=body, headers=headers, extensions=extensions) as response:
            answer = _read_capped(response, t0 + 2 * TIMEOUT_S)
            status = response.status_code
    except httpx.HTTPError as exc:
        log.info("webhook %s (%s) to %s: %s", job.message_id, job.event_type, target.host, type(exc).__name__)
        return ended(_one_line(f"no answer: {type(exc).__name__}: {exc}" if str(exc) else
                                f"no answer: {type(exc).__name__}"))
    log.info("webhook %s (%s) to %s: HTTP %d", job.message_id, job.event_type, target.host, status)
    if 200 <= status < 300:
        return ended("", status)
    if 300 <= status < 400:
        return ended(f"HTTP {status}: a redirect, not followed (give the URL it points to)", status)
    excerpt = _one_line(answer.decode("utf-8", "replace"))[:300]
    return ended(f"HTTP {status}" + (f": {excerpt}" if excerpt else ""), status)


def _read_capped(response: httpx.Response, deadline: float) -> bytes:
    """At most BODY_CAP bytes of the answer, and no longer than the deadline: the rest is dropped."""
    got = bytearray()
    for chunk in response.iter_bytes():
        got += chunk
        if len(got) >= BODY_CAP or time.monotonic() > deadline:
            break
    return bytes(got[:BODY_CAP])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _record(factory: sessionmaker[Session], job: _Claimed, outcome: _Outcome) -> int:
    """Log the try and move the delivery on (delivered, its next try, or failed); 1 if it was delivered."""
    tries = job.attempts + 1
    values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1}
    if outcome.ok:
        values.update(state=DELIVERED, delivered_at=outcome.at)
    else:
        # a manual redelivery is one try; an automatic one backs off, and gives up a day after the first
        later = None if job.manual else retry.next_try(outcome.at, tries, job.created_at)
        values["state"] = PENDING if later is not None else FAILED
        if later is not None:
            values["next_attempt_at"] = later
    with transaction(factory) as s:
        done = s.execute(update(WebhookDelivery)
                         .where(WebhookDelivery.id == job.id, WebhookDelivery.next_attempt_at == job.held_until,
                                WebhookDelivery.state == (REDELIVER if job.manual else PENDING))
                         .values(**values).execution_options(synchronize_session=False))
        if done.rowcount != 1:  # deleted meanwhile, or the claim ran out and another try took over
            log.warning("webhook %s: the try's result is dropped (the delivery changed meanwhile)", job.message_id)
            return 0
        s.add(WebhookAttempt(delivery_id=job.id, at=outcome.at, status_code=outcome.status_code,
                             error=outcome.error, duration_ms=outcome.duration_ms, manual=job.manual))
    if not outcome.ok and values["state"] == FAILED:
        log.warning("webhook %s (%s): gave up after %d tries: %s", job.message_id, job.event_type, tries,
                    outcome.error)
    return 1 if outcome.ok else 0
