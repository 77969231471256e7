"""Recruiter accounts and API tokens, as the CLI (`shiftwork admin ...`) and tests create them."""
from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.store.models import DEFAULT_TEAM, RECRUITER, ROLES, ApiToken, Recruiter
from harness.store.teams import team_named
from harness.web.security import API_TOKEN_PREFIX, hash_password, new_token

log = logging.getLogger(__name__)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MIN_PASSWORD = 10


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 320 or not EMAIL_RE.match(value) or "\x00" in value:
        raise UsageError(f"not an e-mail address: {email[:80]!r}")
    return value


def create_recruiter(session: Session, email: str, password: str, *, name: str = "", admin: bool = False,
                     teams: list[str] | None = None, role: str = RECRUITER) -> Recruiter:
    """A new account (flushed) in `teams` (default: the default team; a team named for the first time is
    created); an existing e-mail is refused, not overwritten. `role` "interviewer": an account that sees
    only the invites assigned to it (never an administrator)."""
    address = normalize_email(email)
    if role not in ROLES:
        raise UsageError(f"not a role: {role[:30]!r} (one of {', '.join(ROLES)})")
    if admin and role != RECRUITER:
        raise UsageError("an administrator sees every team: an interviewer cannot be one")
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if session.scalar(select(Recruiter).where(Recruiter.email == address)) is not None:
        raise UsageError(f"a recruiter with the e-mail {address} exists already")
    recruiter = Recruiter(email=address, name=name.strip()[:200], password_hash=hash_password(password),
                          is_admin=admin, role=role)
    recruiter.teams = [team_named(session, t) for t in (teams or [DEFAULT_TEAM])]
    session.add(recruiter)
    session.flush()
    log.info("%s %s created (admin=%s)", role, address, admin)
    return recruiter


def add_to_team(session: Session, email: str, team: str) -> Recruiter:
    address = normalize_email(email)
    recruiter = session.scalar(select(Recruiter).where(Recruiter.email == address))
    if recruiter is None:
        raise UsageError(f"no recruiter with the e-mail {address} (create one with `shiftwork admin create-user`)")
    joined = team_named(session, team)
    if joined not in recruiter.teams:
        recruiter.teams.append(joined)
    session.flush()
    return recruiter


def create_api_token(session: Session, email: str, *, name: str = "") -> str:
    """A new API token for the recruiter `email`; returned once, only its hash is kept."""
    address = normalize_email(email)
    recruiter = session.scalar(select(Recruiter).where(Recruiter.email == address))
    if recruiter is None:
        raise UsageError(f"no recruiter with the e-mail {address} (create one with `shiftwork admin create-user`)")
    token, digest = new_token(prefix=API_TOKEN_PREFIX)
    session.add(ApiToken(recruiter_id=recruiter.id, name=name.strip()[:200], token_hash=digest))
    session.flush()
    return token
