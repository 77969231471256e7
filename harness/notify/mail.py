"""E-mail through SMTP: the outbox (harness.store.models.Message) and its sender. TO BE WRITTEN (issue 22)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from harness.store.models import Invite, Message
from harness.store.settings import WebSettings


def queue_invite_link(session: Session, settings: WebSettings, invite: Invite, link: str, *,
                      reissued: bool = False) -> Message | None:
    """Queue the candidate's e-mail with their link (sealed) and schedule its reminder before the deadline;
    None when no SMTP server is set or the invite has no e-mail address. A reissue cancels the old reminder."""
    return None


def queue_graded_notice(session: Session, settings: WebSettings, invite: Invite, data: dict[str, Any]) -> None:
    """Queue the notice to the recruiter who made the invite that its grading finished."""


def send_due(settings: WebSettings, factory: sessionmaker[Session], now: dt.datetime) -> int:
    """Send every message due at `now`; returns how many were sent."""
    return 0
