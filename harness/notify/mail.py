"""E-mail through SMTP: the outbox (harness.store.models.Message) and its sender.

What is queued is only what the app cannot find again at send time: the candidate's link, sealed
({"link": ..., "reissued": ...} under the app's encryption key; only its hash is kept elsewhere). The
subject and the text and HTML parts are rendered when the message is sent, from the invite as it is
then (an extended deadline shows in the reminder) and the templates as they are then (an admin's
fixed override applies to what waits). A graded notice is queued by a worker that may have no SMTP
settings, no templates and another encryption key, so it holds nothing but its kind, recipient and invite.

A reminder is a message queued for deadline - reminder_before_h; a reissue, a disable or a submission
cancels it, an extension moves it. Sending claims a row first (its next try moves past the send's own
time, in an UPDATE guarded by the old value), so two dispatchers never send one message twice.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import ShiftworkError
from grader.exercise import load_exercise
from harness.notify import mail_render, mail_smtp
from harness.notify.retry import backoff_s, next_try
from harness.store.db import transaction
from harness.store.models import Invite, Message, Recruiter, utcnow
from harness.store.sealed import Sealer, digest
from harness.store.settings import WebSettings
from harness.store.timeline import latest_finished

log = logging.getLogger(__name__)
QUEUED, SENT, FAILED, CANCELLED = "queued", "sent", "failed", "cancelled"
LINK_KINDS = ("invite_link", "reminder")  # the messages that carry the candidate's link
TEST = "test"  # the admin page's test e-mail (a built-in text, no template)
BATCH = 50
_said_no_smtp: list[bool] = []  # log "no SMTP server" once per process, not every 2 s


def why_not(settings: WebSettings | None, invite: Invite) -> str | None:
    """Why an invite's link cannot go by e-mail (shown to the recruiter), or None when it can."""
    if settings is None or settings.smtp is None:
        return "no SMTP server set"
    if not invite.email:
        return "the invite has no e-mail address"
    return None


def queue_invite_link(session: Session, settings: WebSettings, invite: Invite, link: str, *,
                      reissued: bool = False) -> Message | None:
    """Queue the candidate's e-mail with their link (sealed) and schedule its reminder before the deadline;
    None when no SMTP server is set or the invite has no e-mail address. A reissue cancels the old link's mail."""
    if why_not(settings, invite) is not None:
        return None
    if reissued:
        cancel_link_mail(session, invite.id)
    now = utcnow()
    body = Sealer(settings.encryption_key).seal(json.dumps({"link": link, "reissued": reissued}))
    message = Message(invite_id=invite.id, kind="invite_link", recipient=invite.email, body_sealed=body,
                      state=QUEUED, next_attempt_at=now, created_at=now)
    session.add(message)
    _schedule_reminder(session, settings, invite, body, now)
    session.flush()
    return message


def _schedule_reminder(session: Session, settings: WebSettings, invite: Invite, body: str,
                       now: dt.datetime) -> Message | None:
    if settings.reminder_before_h <= 0 or not invite.email:
        return None
    at = invite.deadline - dt.timedelta(hours=settings.reminder_before_h)
    if at <= now:
        return None
    reminder = Message(invite_id=invite.id, kind="reminder", recipient=invite.email, body_sealed=body,
                       state=QUEUED, next_attempt_at=at, created_at=now)
    session.add(reminder)
    return reminder


def _cancel(session: Session, invite_id: int, kinds: tuple[str, ...]) -> int:
    return session.execute(update(Message).where(Message.invite_id == invite_id, Message.kind.in_(kinds),
                                                 Message.state == QUEUED)
                           .values(state=CANCELLED)).rowcount  # type: ignore[attr-defined, no-any-return]


def cancel_reminders(session: Session, invite_id: int) -> int:
    """The candidate submitted: no reminder."""
    return _cancel(session, invite_id, ("reminder",))


def cancel_link_mail(session: Session, invite_id: int) -> int:
    """The link stopped working (a reissue, a disable): neither its e-mail nor its reminder goes."""
    return _cancel(session, invite_id, LINK_KINDS)


def move_reminder(session: Session, settings: WebSettings, invite: Invite) -> Message | None:
    """The deadline changed: the pending reminder goes, and a new one is due before the new deadline, with
    the link of the invite's link e-mail (none if its current link never went by e-mail)."""
    cancel_reminders(session, invite.id)
    if invite.uploads or invite.disabled_at is not None:
        return None
    sealer = Sealer(settings.encryption_key)
    for source in session.scalars(select(Message).where(Message.invite_id == invite.id, Message.kind == "invite_link",
                                                        Message.state.in_((QUEUED, SENT)))
                                  .order_by(Message.id.desc())):
        try:
            body = json.loads(sealer.open(source.body_sealed))
        except (ShiftworkError, ValueError):
            continue
        if _works(invite, body):
            return _schedule_reminder(session, settings, invite, source.body_sealed, utcnow())
    return None


def _works(invite: Invite, body: dict[str, Any]) -> bool:
    """Whether a sealed body's link is the invite's working one (a reissue made every older link dead)."""
    token = str(body.get("link", "")).rpartition("/i/")[2]
    return bool(token) and digest(token) == invite.token_hash and invite.disabled_at is None


def queue_graded_notice(session: Session, settings: WebSettings, invite: Invite, data: dict[str, Any]) -> None:
    """Queue the notice to the recruiter who made the invite that its grading finished (none if unknown)."""
    recruiter = session.get(Recruiter, invite.created_by) if invite.created_by is not None else None
    if recruiter is None:
        return
    session.add(Message(invite_id=invite.id, kind="graded_notice", recipient=recruiter.email, state=QUEUED,
                        next_attempt_at=utcnow(), created_at=utcnow()))


def queue_test(session: Session, recipient: str) -> Message:
    message = Message(invite_id=None, kind=TEST, recipient=recipient, state=QUEUED, next_attempt_at=utcnow(),
                      created_at=utcnow())
    session.add(message)
    session.flush()
    return message


def retryable(message: Message) -> bool:
    """Failed, or waiting after a failed try (a reminder scheduled for later is not sent early)."""
    return message.state == FAILED or (message.state == QUEUED and message.attempts > 0)


def retry_now(session: Session, message: Message) -> bool:
    """A failed or waiting message is tried at once, with a fresh day of retries."""
    if not retryable(message):
        return False
    message.state, message.next_attempt_at, message.attempts = QUEUED, utcnow(), 0
    return True


def messages_of(session: Session, invite_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.invite_id == invite_id).order_by(Message.id)))


def latest(session: Session, limit: int = 50) -> list[Message]:
    return list(session.scalars(select(Message).order_by(Message.id.desc()).limit(limit)))


# -- sending -------------------------------------------------------------------------------------


def send_due(settings: WebSettings, factory: sessionmaker[Session], now: dt.datetime, *,
             only: int | None = None) -> int:
    """Send every message due at `now` (or only message `only`); returns how many were sent."""
    if settings.smtp is None:
        if not _said_no_smtp:
            _said_no_smtp.append(True)
            log.info("e-mail: no SMTP server set; queued messages wait in the outbox")
        return 0
    query = select(Message.id, Message.next_attempt_at).where(Message.state == QUEUED,
                                                              Message.next_attempt_at <= now)
    if only is not None:
        query = query.where(Message.id == only)
    with factory() as s:
        due = s.execute(query.order_by(Message.next_attempt_at, Message.id).limit(BATCH)).all()
    return sum(_send_one(settings, factory, mid, at, now) for mid, at in due)


def _claim_until(settings: WebSettings, now: dt.datetime) -> dt.datetime:
    # A send is a few round trips, each up to the timeout: another dispatcher must not take it meanwhile.
    timeout = settings.smtp.timeout_s if settings.smtp is not None else 20.0
    return now + dt.timedelta(seconds=max(300.0, 6 * timeout))


def _send_one(settings: WebSettings, factory: sessionmaker[Session], mid: int, at: dt.datetime,
              now: dt.datetime) -> bool:
    assert settings.smtp is not None
    with transaction(factory) as s:
        claimed = s.execute(update(Message).where(Message.id == mid, Message.state == QUEUED,
                                                  Message.next_attempt_at == at)
                            .values(next_attempt_at=_claim_until(settings, now))).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return False  # another dispatcher has it, or it was cancelled
        message = s.get(Message, mid)
        assert message is not None
        kind, attempts = message.kind, message.attempts
        try:
            outgoing = _outgoing(s, settings, message, now)
        except (ShiftworkError, ValueError, KeyError) as exc:
            # a broken template, or a sealed link that does not open with this key: no retry mends
            # it; the message waits, failed, for the admin's fix and "retry now"
            _failed(message, f"cannot render the message: {exc} missing" if isinstance(exc, KeyError) else str(exc),
                    now, permanent=True, attempts_before=attempts)
            log.warning("e-mail %d (%s) not sent: %s", mid, kind, message.last_error)
            return False
        if outgoing is None:
            message.state = CANCELLED
            return False
    try:
        mail_smtp.send(settings.smtp, outgoing, now)
    except mail_smtp.MailNotSent as exc:
        state = CANCELLED
        with transaction(factory) as s:
            message = s.get(Message, mid)
            if message is not None and message.state == QUEUED:  # not cancelled meanwhile
                _failed(message, exc.reason, now, permanent=exc.permanent, attempts_before=attempts)
                state = message.state
        log.warning("e-mail %d (%s) not sent: %s%s", mid, kind, exc.reason,
                    "" if state == QUEUED else " (given up)")
        return False
    with transaction(factory) as s:
        s.execute(update(Message).where(Message.id == mid).values(
            state=SENT, sent_at=now, attempts=attempts + 1, last_error="", subject=outgoing.subject))
    log.info("e-mail %d (%s) sent", mid, kind)
    return True


def _failed(message: Message, reason: str, now: dt.datetime, *, permanent: bool, attempts_before: int = 0) -> None:
    attempts = attempts_before + 1
    message.attempts, message.last_error = attempts, reason
    # the first try was about the sum of the waits ago: give up a day after it (harness.notify.retry)
    since = now - dt.timedelta(seconds=sum(backoff_s(n) for n in range(1, attempts)))
    later = None if permanent else next_try(now, attempts, since)
    if later is None:
        message.state = FAILED
        if not permanent:
            message.last_error = f"{reason} (gave up after a day of tries)"
    else:
        message.next_attempt_at = later


def _outgoing(s: Session, settings: WebSettings, message: Message, now: dt.datetime) -> mail_smtp.Outgoing | None:
    """The message rendered as it goes out now; None: it should no longer go (cancelled)."""
    if message.kind == TEST:
        where = settings.public_url or "no public URL set"
        return mail_smtp.Outgoing(recipient=message.recipient, subject="shiftwork: a test e-mail",
                                  text=f"This test e-mail from shiftwork ({where}) arrived: the app's SMTP settings "
                                       "work.\n")
    invite = s.get(Invite, message.invite_id) if message.invite_id is not None else None
    if invite is None:
        return None
    context = _context(settings, invite)
    if message.kind in LINK_KINDS:
        if message.kind == "reminder" and (invite.uploads or invite.expired(now)):
            return None  # submitted, or too late, meanwhile
        body = json.loads(Sealer(settings.encryption_key).open(message.body_sealed))
        if not _works(invite, body):
            return None  # never a link that no longer works
        context.update(link=body["link"], reissued=bool(body.get("reissued")))
    else:
        job = latest_finished(invite)
        final = job.final if job is not None else None
        creator = s.get(Recruiter, invite.created_by) if invite.created_by is not None else None
        context.update(recruiter=(creator.name or creator.email) if creator else message.recipient,
                       status=final.status if final else "finished",
                       score=f"{final.score:.1f}" if final is not None and final.score is not None else "",
                       invite_url=f"{settings.public_url}/invites/{invite.id}")
    rendered = mail_render.render(settings.data_dir, message.kind,
                                  {k: context[k] for k in mail_render.VARIABLES[message.kind]})
    return mail_smtp.Outgoing(recipient=message.recipient, subject=rendered.subject, text=rendered.text,
                              html=rendered.html)


def _context(settings: WebSettings, invite: Invite) -> dict[str, Any]:
    try:
        title = load_exercise(invite.exercise).title
    except (ShiftworkError, ValueError, OSError):  # an exercise gone from this server: its id will do
        title = invite.exercise
    return {"candidate_name": invite.candidate_name, "exercise": title, "exercise_id": invite.exercise,
            "deadline": f"{invite.deadline:%Y-%m-%d %H:%M} UTC", "team": invite.team.name if invite.team else "",
            "app_url": settings.public_url}
