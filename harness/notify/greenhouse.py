"""The Greenhouse completion callback: "PATCH - Mark Test as Completed".

Greenhouse's documentation (https://developers.greenhouse.io/assessment.html): when a candidate
completes a test, the partner sends `PATCH <url>` (the `url` of the send_test request) with the same
HTTP Basic Authorization as Greenhouse's own calls (the organisation's key as the username, an empty
password); "No parameters are necessary with this request"; "The response will return only the HTTP
status code". Greenhouse then calls test_status for the score (harness.web.greenhouse answers it).

When: a grading of a Greenhouse invite finished and the grading that counts is graded (the test is
"complete"). A later grading (a rerun) calls back again. The URL passes the webhook policy
(harness.notify.targets) before every try; a failure is retried with backoff for a day
(harness.notify.retry), then the callback is failed (Greenhouse's hourly polling, where still on,
finds the result anyway). State, attempts and the last error show on /admin/greenhouse.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import ConfigError
from harness.notify import targets
from harness.notify.retry import next_try
from harness.store.db import transaction
from harness.store.models import Invite, JobState, PartnerInterview, PartnerKey, utcnow
from harness.store.sealed import Sealer
from harness.store.settings import WebSettings
from harness.store.timeline import counted_job

log = logging.getLogger(__name__)
NONE, PENDING, SENT, FAILED = "none", "pending", "sent", "failed"  # PartnerInterview.callback_state
TIMEOUT_S = 10.0
CLAIM_S = 3 * TIMEOUT_S  # a claimed callback is not due again before its try has surely ended
BATCH = 50
USER_AGENT = "shiftwork-greenhouse/1"


def schedule_callback(session: Session, invite: Invite) -> bool:
    """When the invite came from Greenhouse with a callback URL and its counted grading is graded: call
    back as soon as the dispatcher runs (in the caller's transaction, so only if the grading commits)."""
    interview = session.scalar(select(PartnerInterview).where(PartnerInterview.invite_id == invite.id))
    if interview is None or not interview.callback_url:
        return False
    job = counted_job(invite)
    if job is None or job.state != JobState.graded:
        return False  # not complete (a grading that could not run): nothing for Greenhouse to fetch yet
    now = utcnow()
    interview.callback_state, interview.callback_next_at, interview.callback_since = PENDING, now, now
    interview.callback_attempts, interview.callback_last_error = 0, ""
    return True


@dataclass(frozen=True)
class _Claimed:
    id: int
    url: str
    key_sealed: str | None  # the key to authenticate with; None: the team has no active key left
    attempts: int
    since: dt.datetime
    held_until: dt.datetime


def callbacks_due(settings: WebSettings, factory: sessionmaker[Session], now: dt.datetime, *,
                  resolve: targets.Resolver = targets.system_resolver) -> int:
    """Send every callback due at `now`; returns how many Greenhouse accepted."""
    with factory() as s:
        due = s.execute(select(PartnerInterview.id, PartnerInterview.callback_next_at)
                        .where(PartnerInterview.callback_state == PENDING, PartnerInterview.callback_next_at <= now)
                        .order_by(PartnerInterview.callback_next_at, PartnerInterview.id).limit(BATCH)).all()
    if not due:
        return 0
    sent = 0
    # trust_env=False: no proxy from the environment; the request goes to the address the policy checked
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False,
                      headers={"User-Agent": USER_AGENT}) as client:
        for row in due:
            claimed = _claim(factory, row.id, row.callback_next_at, now)
            if claimed is not None:
                error = _send(client, settings, claimed, resolve)
                sent += _record(factory, claimed, error, now)
    return sent


def _claim(factory: sessionmaker[Session], interview_id: int, due_at: dt.datetime,
           now: dt.datetime) -> _Claimed | None:
    """Take the callback for one try (a guarded UPDATE: two dispatchers never both get it), or None."""
    held = now + dt.timedelta(seconds=CLAIM_S)
    with transaction(factory) as s:
        done = s.execute(update(PartnerInterview)
                         .where(PartnerInterview.id == interview_id, PartnerInterview.callback_state == PENDING,
                                PartnerInterview.callback_next_at == due_at)
                         .values(callback_next_at=held).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            return None
        pi = s.get(PartnerInterview, interview_id)
        if pi is None:
            return None
        return _Claimed(id=pi.id, url=pi.callback_url, key_sealed=_key_sealed(s, pi.key),
                        attempts=pi.callback_attempts, since=pi.callback_since or now, held_until=held)


def _key_sealed(s: Session, key: PartnerKey) -> str | None:
    """The key Greenhouse knows the organisation by now: this one, or after a rotation (it was revoked)
    the team's newest active one."""
    if key.revoked_at is not None:
        key = s.scalar(select(PartnerKey).where(PartnerKey.team_id == key.team_id, PartnerKey.revoked_at.is_(None))
                       .order_by(PartnerKey.id.desc()).limit(1))  # type: ignore[assignment]
    return key.key_sealed if key is not None and key.key_sealed else None


def _send(client: httpx.Client, settings: WebSettings, job: _Claimed, resolve: targets.Resolver) -> str:
    """One PATCH; "" when Greenhouse accepted it (a 2xx), else why not, in one line (never the key)."""
    if job.key_sealed is None:
        return "no active partner key for the team (all revoked): make one and give it to Greenhouse"
    try:
        target = targets.check(job.url, settings, resolve)  # before every try: what a name resolves to can change
        key = Sealer(settings.encryption_key).open(job.key_sealed)
    except (targets.TargetRefused, ConfigError) as exc:
        log.warning("Greenhouse callback of partner interview %d: not sent: %s", job.id, exc)
        return str(exc).replace("webhook URL", "callback URL", 1)
    url, host, extensions = target.pinned()
    try:
        response = client.request("PATCH", url, headers=host, auth=(key, ""), extensions=extensions)
    except httpx.HTTPError as exc:
        log.info("Greenhouse callback of partner interview %d to %s: %s", job.id, target.host, type(exc).__name__)
        return " ".join(f"no answer: {type(exc).__name__}: {exc}".split()).removesuffix(":")
    log.info("Greenhouse callback of partner interview %d to %s: HTTP %d", job.id, target.host,
             response.status_code)
    if 200 <= response.status_code < 300:
        return ""
    if 300 <= response.status_code < 400:
        return f"HTTP {response.status_code}: a redirect, not followed"
    return f"HTTP {response.status_code}"


def _record(factory: sessionmaker[Session], job: _Claimed, error: str, now: dt.datetime) -> int:
    """Sent, or the next try (or failed, a day after the first); 1 if sent. A callback scheduled again
    while this try ran (a rerun graded) is left pending for its own try."""
    attempts = job.attempts + 1
    if error:
        at = next_try(now, attempts, job.since)
        values = {"callback_state": PENDING if at is not None else FAILED, "callback_next_at": at,
                  "callback_last_error": error[:2000], "callback_attempts": attempts}
    else:
        values = {"callback_state": SENT, "callback_next_at": None, "callback_last_error": "",
                  "callback_attempts": attempts}
    with transaction(factory) as s:
        done = s.execute(update(PartnerInterview)
                         .where(PartnerInterview.id == job.id, PartnerInterview.callback_state == PENDING,
                                PartnerInterview.callback_next_at == job.held_until)
                         .values(**values).execution_options(synchronize_session=False))
    if done.rowcount == 1 and error and values["callback_state"] == FAILED:
        log.warning("Greenhouse callback of partner interview %d: given up after %d tries: %s", job.id, attempts,
                    error)
    return 1 if done.rowcount == 1 and not error else 0
