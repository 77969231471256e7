"""Teams: who sees which invites. Shared by the web app, the CLI and the queue's cohort grading."""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.store.models import DEFAULT_TEAM, Team, utcnow

log = logging.getLogger(__name__)


def team_named(session: Session, name: str) -> Team:
    """The team called `name`, created when it does not exist yet."""
    clean = name.strip()
    if not clean or len(clean) > 100 or any(ord(c) < 32 for c in clean):
        raise UsageError(f"not a team name: {name[:100]!r} (1-100 printable characters)")
    team = session.scalar(select(Team).where(Team.name == clean))
    if team is None:
        team = Team(name=clean, created_at=utcnow())
        session.add(team)
        session.flush()
        log.info("team %s created", clean)
    return team


def default_team(session: Session) -> Team:
    """Where invites made without a team go (those of today's schema, the CLI's cohort gradings)."""
    return team_named(session, DEFAULT_TEAM)


def all_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))
