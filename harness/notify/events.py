"""Something happened to an invite: queue what must leave the app because of it, in the caller's
transaction (an outbox: the event is sent only if what caused it is committed)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from harness.notify import greenhouse, mail, webhooks
from harness.store.models import Invite, utcnow
from harness.store.settings import WebSettings

EVENTS = ("invite.opened", "submission.received", "grading.finished", "scorecard.submitted", "decision.recorded")


def envelope(event: str, invite: Invite, data: dict[str, Any], at: dt.datetime | None = None) -> dict[str, Any]:
    """The Standard Webhooks payload shape: type, timestamp, data. Identity stays out (the candidate's
    name and e-mail): receivers look the invite up through the API with their own token."""
    when = (at or utcnow()).replace(tzinfo=dt.timezone.utc)
    base = {"invite_id": invite.id, "exercise": invite.exercise, "candidate_id": invite.candidate_id,
            "team": invite.team.name if invite.team is not None else None}
    return {"type": event, "timestamp": when.isoformat().replace("+00:00", "Z"), "data": {**base, **data}}


def emit(session: Session, settings: WebSettings, invite: Invite, event: str, data: dict[str, Any] | None = None) -> None:
    """Queue the event's webhooks (and, when a grading finished, the recruiter's notice and the
    Greenhouse callback). Nothing is sent here: the dispatch thread sends what is due."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    payload = envelope(event, invite, data or {})
    webhooks.enqueue(session, settings, invite, event, payload)
    if event == "submission.received":
        mail.cancel_reminders(session, invite.id)  # nothing left to remind the candidate of
    if event == "grading.finished":
        mail.queue_graded_notice(session, settings, invite, payload["data"])
        greenhouse.schedule_callback(session, invite)
