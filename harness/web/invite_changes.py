"""The changes a recruiter makes to one invite: disable, extend, show the score, pick the grading
that counts, reissue the link, rerun a grading. Each is on the invite's timeline and in the audit
log with who and from where. Nothing here commits: the caller does.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.notify import mail
from harness.queue.jobs import create_job
from harness.store.audit import audit
from harness.store.models import Invite, Job, JobState, Recruiter, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import record
from harness.web.invites import Created, link_for, parse_deadline
from harness.web.security import new_token


def disable(session: Session, invite: Invite, *, by: Recruiter, client: str = "") -> None:
    if invite.disabled_at is None:
        invite.disabled_at = utcnow()
        mail.cancel_link_mail(session, invite.id)  # the link no longer works: neither its e-mail nor a reminder
        record(session, invite, "disabled", f"by {by.email}")
        audit(session, "invite_disabled", actor=by.email, target=f"invite {invite.id}", client=client)


def extend(session: Session, invite: Invite, deadline: str | dt.datetime, *, by: Recruiter, client: str = "",
           settings: WebSettings | None = None) -> None:
    """A new deadline; with `settings`, the candidate's reminder moves before it."""
    try:
        new = parse_deadline(deadline)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if new <= utcnow():
        raise UsageError(f"the new deadline {new:%Y-%m-%d %H:%M} UTC is in the past")
    old = invite.deadline
    invite.deadline = new
    if settings is not None:
        mail.move_reminder(session, settings, invite)
    record(session, invite, "extended", f"{old:%Y-%m-%d %H:%M} → {new:%Y-%m-%d %H:%M} UTC by {by.email}")
    audit(session, "invite_extended", actor=by.email, target=f"invite {invite.id}",
          detail=f"{old:%Y-%m-%d %H:%M} → {new:%Y-%m-%d %H:%M} UTC", client=client)


def set_show_score(session: Session, invite: Invite, show: bool, *, by: Recruiter, client: str = "") -> None:
    if invite.show_score != show:
        invite.show_score = show
        record(session, invite, "show_score", f"{'shown' if show else 'hidden'} by {by.email}")
        audit(session, "score_shown" if show else "score_hidden", actor=by.email, target=f"invite {invite.id}",
              client=client)


def reissue(session: Session, invite: Invite, *, by: Recruiter, base_url: str, client: str = "") -> Created:
    """A new link for the invite: the old one stops working at once (its hash is gone); a disabled invite is
    enabled again, since the new link is a new credential. Caller commits; the link is shown once."""
    token, digest = new_token()
    invite.token_hash = digest
    mail.cancel_link_mail(session, invite.id)  # the old link's e-mail and reminder: the link is dead
    was_disabled = invite.disabled_at is not None
    invite.disabled_at = None
    record(session, invite, "reissued", f"by {by.email}" + ("; enabled again" if was_disabled else ""))
    audit(session, "link_reissued", actor=by.email, target=f"invite {invite.id}",
          detail="the old link stopped working" + ("; enabled again" if was_disabled else ""), client=client)
    return Created(invite=invite, link=link_for(base_url, token))


def set_counted(session: Session, invite: Invite, job_id: int | None, *, by: Recruiter, client: str = "") -> None:
    """Pick the grading that counts for the invite (None: back to the default, the newest that graded)."""
    if job_id is not None:
        job = next((j for j in invite.jobs if j.id == job_id), None)
        if job is None or job.final is None:
            raise UsageError(f"job {job_id} is not a finished grading of this invite")
    invite.counted_job_id = job_id
    record(session, invite, "counted", f"job {job_id} by {by.email}" if job_id else f"the default rule by {by.email}")
    audit(session, "result_counted", actor=by.email, target=f"invite {invite.id}",
          detail=f"job {job_id}" if job_id else "the newest graded", client=client)


def rerun(session: Session, invite: Invite, *, by: Recruiter, client: str = "") -> Job:
    """A new job for the latest upload; the earlier jobs and their results stay. Caller commits, then enqueues."""
    if not invite.uploads:
        raise UsageError("nothing to rerun: the candidate has not uploaded a submission")
    if any(j.state in (JobState.queued, JobState.grading) for j in invite.jobs):
        raise UsageError("a grading of this invite is queued or running already")
    upload = invite.uploads[-1]
    previous = next((j for j in reversed(invite.jobs) if j.upload_id == upload.id), None)
    record(session, invite, "rerun", f"upload {upload.id} by {by.email}")
    audit(session, "invite_rerun", actor=by.email, target=f"invite {invite.id}", detail=f"upload {upload.id}",
          client=client)
    return create_job(session, invite, upload, rerun_of=previous)
