"""The Greenhouse completion callback (PATCH to the partner status URL). TO BE WRITTEN (issue 22)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from harness.store.models import Invite
from harness.store.settings import WebSettings


def schedule_callback(session: Session, invite: Invite) -> bool:
    """When the invite came from Greenhouse with a status URL: call back as soon as the dispatcher runs."""
    return False


def callbacks_due(settings: WebSettings, factory: sessionmaker[Session], now: dt.datetime) -> int:
    return 0
