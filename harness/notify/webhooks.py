"""Signed webhooks (Standard Webhooks): subscriptions' deliveries and their sender. TO BE WRITTEN (issue 22)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from harness.store.models import Invite
from harness.store.settings import WebSettings


def enqueue(session: Session, settings: WebSettings, invite: Invite, event: str, payload: dict[str, Any]) -> int:
    """A delivery per active subscription of the invite's team that takes `event`; returns how many."""
    return 0


def deliver_due(settings: WebSettings, factory: sessionmaker[Session], now: dt.datetime) -> int:
    """Try every delivery due at `now`; returns how many were delivered."""
    return 0
