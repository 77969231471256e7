"""An invite's timeline and the one state the tables show for it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from harness.store.models import Event, Invite, Job, JobState, utcnow

# created → opened → downloaded → submitted → queued → grading → graded / failed
STATES = ("created", "opened", "downloaded", "submitted", "queued", "grading", "graded", "failed")


def record(session: Session, invite: Invite | int, kind: str, detail: str = "") -> Event:
    invite_id = invite if isinstance(invite, int) else invite.id
    ev = Event(invite_id=invite_id, kind=kind, detail=detail[:2000], at=utcnow())
    session.add(ev)
    return ev


COUNTS_BY_DEFAULT = "graded"  # a report status: the service built, started and was replayed to the end


def counted_job(invite: Invite) -> Job | None:
    """The grading that counts for the invite: the one a recruiter picked, else the newest whose report
    graded, else the newest finished one (so an invite whose uploads all failed shows why)."""
    finished = [j for j in invite.jobs if j.final is not None]
    picked = next((j for j in finished if j.id == invite.counted_job_id), None)
    if picked is not None:
        return picked
    graded = [j for j in finished if j.final is not None and j.final.status == COUNTS_BY_DEFAULT]
    return (graded or finished or [None])[-1]


def latest_finished(invite: Invite) -> Job | None:
    return next((j for j in reversed(invite.jobs) if j.final is not None), None)


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
