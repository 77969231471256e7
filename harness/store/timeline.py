"""An invite's timeline and the one state the tables show for it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from harness.store.models import Event, Invite, JobState, utcnow

# created → opened → downloaded → submitted → queued → grading → graded / failed
STATES = ("created", "opened", "downloaded", "submitted", "queued", "grading", "graded", "failed")


def record(session: Session, invite: Invite | int, kind: str, detail: str = "") -> Event:
    invite_id = invite if isinstance(invite, int) else invite.id
    ev = Event(invite_id=invite_id, kind=kind, detail=detail[:2000], at=utcnow())
    session.add(ev)
    return ev


def invite_state(invite: Invite) -> str:
    """The furthest the invite has got; the newest job decides once there is one."""
    if invite.jobs:
        job = invite.jobs[-1]
        return {JobState.queued: "queued", JobState.grading: "grading",
                JobState.graded: "graded", JobState.failed: "failed"}[job.state]
    if invite.uploads:
        return "submitted"
    if invite.downloaded_at is not None:
        return "downloaded"
    if invite.opened_at is not None:
        return "opened"
    return "created"
