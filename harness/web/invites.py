"""Invites: creating one or many (CSV), finding them within a recruiter's teams, sending a job.

The one service behind both front ends (recruiter pages and the JSON API); the changes to one
invite are harness.web.invite_changes. Input errors are UsageError with a one-line reason; a
missing invite (or another team's) is NotFound. Nothing here commits: the caller commits once,
so a bulk creation is all or nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.errors import (
    NotFound,  # noqa: F401  (re-exported)
    UsageError,
)
from grader.exercise import list_exercises
from harness.bundle import validate_candidate
from harness.notify import mail
from harness.queue.jobs import enqueue
from harness.store.audit import audit
from harness.store.models import Invite, Job, Recruiter, Team, utcnow
from harness.store.settings import WebSettings
from harness.store.teams import default_team
from harness.store.timeline import record
from harness.web.accounts import normalize_email
from harness.web.security import new_token
from harness.web.text import clean_text

log = logging.getLogger(__name__)





def parse_deadline(value: str | dt.datetime | dt.date) -> dt.datetime:
    """UTC, naive. A bare date means the end of that day; a time with an offset is converted."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time(23, 59, 59))
    else:
        text = value.strip()
        try:
            if len(text) == 10:
                parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(23, 59, 59))
            else:
                parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a date: {text[:40]!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00+05:00 has no UTC time
            raise ValueError("the date is out of range") from None
    return parsed.replace(microsecond=0)


def _exercise_enum(schema: dict[str, object]) -> None:
    # Read when the OpenAPI is built (not at import): the exercises installed on this server.
    schema["enum"] = list_exercises()


class InviteIn(BaseModel):
    """One invite to create. `deadline`: ISO date (end of that day, UTC) or date-time."""

    model_config = ConfigDict(extra="forbid")
    candidate_name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    exercise: str = Field(min_length=1, max_length=100, json_schema_extra=lambda schema: _exercise_enum(schema))
    deadline: dt.datetime = Field(description="In the future: an ISO date (the end of that day, UTC) or date-time")
    show_score: bool = False
    team: str | None = Field(default=None, max_length=100,
                             description="The team the invite belongs to (only its members see it); needed only "
                                         "by a recruiter of several teams")
    send_email: bool = Field(default=False, description="Also send the link to `email` through the app's SMTP "
                             "server (and a reminder before the deadline); the response says whether it was queued")

    @field_validator("candidate_name")
    @classmethod
    def _name(cls, v: str) -> str:
        name = clean_text(v, "candidate name", 200)
        if not name:
            raise ValueError("the candidate name is empty")
        return name

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            return normalize_email(clean_text(v, "e-mail", 320))
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("exercise")
    @classmethod
    def _exercise(cls, v: str) -> str:
        known = list_exercises()
        if v.strip() not in known:
            raise ValueError(f"unknown exercise {v[:60]!r} (known: {', '.join(known) or 'none'})")
        return v.strip()

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline_in(cls, v: object) -> object:
        return parse_deadline(v) if isinstance(v, (str, dt.date)) else v

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, v: dt.datetime) -> dt.datetime:
        v = parse_deadline(v)
        if v <= utcnow():
            raise ValueError(f"the deadline {v:%Y-%m-%d %H:%M} UTC is in the past")
        return v


def one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def spec_from_form(**fields: object) -> InviteIn:
    try:
        return InviteIn.model_validate(fields)
    except ValidationError as exc:
        raise UsageError(one_line(exc)) from None


def candidate_id_for(session: Session, name: str) -> str:
    """A bundle candidate id from the name plus a random suffix, so two "Ana" invites differ."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:40].strip("-") or "candidate"
    for _ in range(8):
        cid = validate_candidate(f"{slug}-{secrets.token_hex(3)}")
        if session.scalar(select(Invite.id).where(Invite.candidate_id == cid)) is None:
            return cid
    raise UsageError("could not find a free candidate id; try again")  # pragma: no cover (2**24 suffixes)


@dataclass(frozen=True)
class Created:
    invite: Invite
    link: str  # shown once: only the token's hash is stored
    emailed: bool = False  # the link was queued by e-mail as well
    email_note: str = ""  # why it was not, when asked ("no SMTP server set", ...)


def send_link(session: Session, settings: WebSettings | None, created: Created, *, reissued: bool = False) -> Created:
    """Queue the link by e-mail too (it is still shown once to the recruiter); says why not when it cannot."""
    why = mail.why_not(settings, created.invite)
    if why is None and settings is not None:
        mail.queue_invite_link(session, settings, created.invite, created.link, reissued=reissued)
    return replace(created, emailed=why is None, email_note=why or "")


def link_for(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/i/{token}"


def team_for(session: Session, by: Recruiter | None, name: str | None) -> Team:
    """The team a new invite of `by` goes to: the one named (theirs, or any for an administrator), else
    their only team; a recruiter of several teams must name one."""
    if name is not None and name.strip():
        team = session.scalar(select(Team).where(Team.name == name.strip()))
        if team is None or (by is not None and not by.is_admin and team not in by.teams):
            raise UsageError(f"team {name.strip()[:100]!r}: not a team of yours")
        return team
    mine = list(by.teams) if by is not None else []
    if len(mine) == 1:
        return mine[0]
    if len(mine) > 1:
        raise UsageError(f"you are in several teams ({', '.join(t.name for t in mine)}): name the invite's team")
    if by is None or by.is_admin:
        return default_team(session)
    raise UsageError("you are in no team: an administrator adds you to one (`shiftwork admin team-add`)")


def create_invites(session: Session, specs: list[InviteIn], *, by: Recruiter | None, base_url: str,
                   client: str = "", settings: WebSettings | None = None) -> list[Created]:
    """The invites, with their links; a spec's send_email queues its link by e-mail too (needs `settings`)."""
    out = []
    for spec in specs:
        team = team_for(session, by, spec.team)
        token, digest = new_token()
        invite = Invite(token_hash=digest, candidate_name=spec.candidate_name,
                        candidate_id=candidate_id_for(session, spec.candidate_name), email=spec.email,
                        exercise=spec.exercise, deadline=spec.deadline, show_score=spec.show_score,
                        created_by=by.id if by is not None else None, team_id=team.id, created_at=utcnow())
        session.add(invite)
        session.flush()
        record(session, invite, "created", f"by {by.email}" if by is not None else "")
        audit(session, "invite_created", actor=by.email if by is not None else "", target=f"invite {invite.id}",
              detail=f"{invite.exercise}, deadline {invite.deadline:%Y-%m-%d %H:%M} UTC", client=client)
        created = Created(invite=invite, link=link_for(base_url, token))
        out.append(send_link(session, settings, created) if spec.send_email else created)
    log.info("%d invite(s) created", len(out))
    return out


def list_invites(session: Session, exercise: str | None = None, *, viewer: Recruiter) -> list[Invite]:
    """The invites `viewer` may see (their teams'; every team's for an administrator), newest first."""
    query = select(Invite).options(selectinload(Invite.jobs).selectinload(Job.results),
                                   selectinload(Invite.uploads)).order_by(Invite.id.desc())
    if exercise is not None:
        query = query.where(Invite.exercise == exercise)
    teams = viewer.team_ids()
    if teams is not None:
        query = query.where(Invite.team_id.in_(teams))
    return list(session.scalars(query))


def get_invite(session: Session, invite_id: int, *, viewer: Recruiter) -> Invite:
    """The invite, if `viewer` may see it; another team's invite is as unknown as a missing one."""
    invite = session.get(Invite, invite_id)
    teams = viewer.team_ids()
    if invite is None or (teams is not None and invite.team_id not in teams):
        raise NotFound(f"no invite {invite_id}")
    return invite


def get_job(invite: Invite, job_id: int) -> Job:
    job = next((j for j in invite.jobs if j.id == job_id), None)
    if job is None:
        raise NotFound(f"invite {invite.id} has no job {job_id}")
    return job


def send(settings: object, job_id: int) -> None:
    """Hand a committed job to the broker. The job row is the truth: if sending fails, it stays
    queued and the queue's reaper sends it again, so a broker hiccup is logged, not shown."""
    try:
        enqueue(settings, job_id)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("job %d committed but not sent to the broker (%s: %s)", job_id, type(exc).__name__, exc)

