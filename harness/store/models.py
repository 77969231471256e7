"""The app's tables (SQLAlchemy 2). Job state lives here, never in a Celery result backend.

An invite's link token and an API token are stored as SHA-256 hashes only: a copy of the
database does not hand out working links. Times are UTC, stored naive (SQLite has no zones).
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class JobState(str, enum.Enum):
    queued = "queued"
    grading = "grading"
    graded = "graded"
    failed = "failed"


RECRUITER, INTERVIEWER = "recruiter", "interviewer"
ROLES = (RECRUITER, INTERVIEWER)
DEFAULT_TEAM = "Default"  # every invite made before teams existed, and new accounts unless told otherwise

team_members = Table(
    "team_members", Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("recruiter_id", ForeignKey("recruiters.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    """Who sees what: a recruiter sees the invites (and their uploads, reports, cohorts) of their teams."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    members: Mapped[list["Recruiter"]] = relationship(secondary=team_members, back_populates="teams")
    # reviewers see a pseudonym and a submission scrubbed of identity until their own scorecard is in
    blind_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Recruiter(Base):
    __tablename__ = "recruiters"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # a recruiter sees their teams' invites; an interviewer only the invites assigned to them, to score
    role: Mapped[str] = mapped_column(String(16), default=RECRUITER, server_default=RECRUITER)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # wrong passwords since the last sign-in; at the limit the account is locked until locked_until
    # (or until an administrator lifts the lock)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members", lazy="selectin",
                                             order_by="Team.name")

    def team_ids(self) -> set[int] | None:
        """The teams whose invites this recruiter sees; None for an administrator (every team)."""
        return None if self.is_admin else {t.id for t in self.teams}

    def locked(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    @property
    def is_interviewer(self) -> bool:
        return self.role == INTERVIEWER


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    recruiter_id: Mapped[int] = mapped_column(ForeignKey("recruiters.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    recruiter: Mapped[Recruiter] = relationship()


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    candidate_name: Mapped[str] = mapped_column(String(200))
    candidate_id: Mapped[str] = mapped_column(String(64))  # the bundle's candidate id (seeds derive from it)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    exercise: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[dt.datetime] = mapped_column(DateTime)
    show_score: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("recruiters.id", ondelete="SET NULL"), nullable=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    # the grading a recruiter picked as the one that counts (timeline.counted_job); None: the default rule.
    # No foreign key: jobs point at invites already, and a job only goes when its invite does.
    counted_job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    downloaded_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    bundle_dir: Mapped[str | None] = mapped_column(String(500), nullable=True)  # relative to the data dir
    # candidate feedback: off until a recruiter releases it; the score on it only when they said so
    feedback_released_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    feedback_score: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    uploads: Mapped[list["Upload"]] = relationship(back_populates="invite", order_by="Upload.id")
    jobs: Mapped[list["Job"]] = relationship(back_populates="invite", order_by="Job.id")
    events: Mapped[list["Event"]] = relationship(back_populates="invite", order_by="Event.id")
    team: Mapped[Team] = relationship()
    assignments: Mapped[list["Assignment"]] = relationship(back_populates="invite", order_by="Assignment.assigned_at",
                                                           cascade="all, delete-orphan")

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or utcnow()) > self.deadline


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(300))  # as the candidate named it (shown, never used as a path)
    stored_path: Mapped[str] = mapped_column(String(500))  # relative to the data dir
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    invite: Mapped[Invite] = relationship(back_populates="uploads")


class Job(Base):
    """One grading of one upload. Attempts increase on requeue; each attempt writes at most one result."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"))
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    state: Mapped[JobState] = mapped_column(Enum(JobState, native_enum=False, length=16), default=JobState.queued)
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # the attempt running or last run (1-based)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # last sent to the broker
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rerun_of: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")  # why it waits or failed, for the pages
    invite: Mapped[Invite] = relationship(back_populates="jobs")
    upload: Mapped[Upload] = relationship()
    results: Mapped[list["Result"]] = relationship(back_populates="job", order_by="Result.attempt")

    @property
    def final(self) -> "Result | None":
        return self.results[-1] if self.results and self.state in (JobState.graded, JobState.failed) else None


class Result(Base):
    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("job_id", "attempt", name="uq_result_attempt"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40))  # the report's named status (graded, build_failed, ...)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # dimension -> score
    report_dir: Mapped[str | None] = mapped_column(String(500), nullable=True)  # relative to the data dir
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    job: Mapped[Job] = relationship(back_populates="results")


class Event(Base):
    """An invite's timeline: created, opened, downloaded, cloned, submitted, queued, grading, graded, failed,
    disabled, extended, rerun."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    invite: Mapped[Invite] = relationship(back_populates="events")


class AuditEvent(Base):
    """Who did what, from where: sign-ins (and refusals), lockouts, invite changes, score visibility."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320), default="")  # the recruiter's e-mail ("" before sign-in)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")  # e.g. "invite 12", an account's e-mail
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")  # the client's address (behind a proxy: the real one)


class Worker(Base):
    """A grading worker's last word: alive (heartbeat), busy, its engine, why it refuses work."""

    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    engine: Mapped[str] = mapped_column(String(200), default="")  # e.g. "docker 20.10.24", "" when none
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    refusing: Mapped[str] = mapped_column(Text, default="")  # why it takes no work ("" = it takes work)
    busy_job: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Assignment(Base):
    """An interviewer assigned to an invite by a recruiter of its team: the only invites they see."""

    __tablename__ = "assignments"
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), primary_key=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("recruiters.id", ondelete="CASCADE"), primary_key=True,
                                                index=True)
    assigned_by: Mapped[str] = mapped_column(String(320), default="")  # the recruiter's e-mail
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    invite: Mapped[Invite] = relationship(back_populates="assignments")
    interviewer: Mapped[Recruiter] = relationship(lazy="joined")


class Scorecard(Base):
    """One interviewer's scores of one invite's graded submission against its interview kit.

    The kit it scored is copied in (version, templates digest, the questions' ids and titles) with the
    job and result it came from: a regrade or an edited rubric never changes a scorecard written before.
    `answers`: question id -> {"score": 1-4 or null, "notes": str}. Read-only once submitted_at is set.
    """

    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("invite_id", "interviewer_id", name="uq_scorecard_interviewer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), index=True)
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("recruiters.id", ondelete="CASCADE"))
    # no foreign keys: a job and its results only go when their invite (and so this scorecard) does
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kit_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    templates_sha: Mapped[str] = mapped_column(String(64), default="")
    questions: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"id", "title", "probes"}] as scored
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recommendation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    interviewer: Mapped[Recruiter] = relationship(lazy="joined")


class Decision(Base):
    """A recruiter's hiring decision on an invite, with its reason; the newest is the one that stands."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # advance, reject, hold
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(320), default="")  # the recruiter's e-mail (kept if they go)
    result_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the grading that counted then
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# -- integrations (issue 22): e-mail, webhooks, the Greenhouse assessment partner API ------------
# Secrets and links are sealed (harness.notify.sealed: Fernet under the app's encryption key) or
# hashed, never stored in clear; pages show them redacted.

class Message(Base):
    """An e-mail to send (the outbox): the invite link, a reminder, a graded notice.

    The body holds the candidate's link, so it is sealed. A reminder is a message whose
    next_attempt_at lies in the future; cancelling one (a reissue, a submission) sets state cancelled.
    state: queued (to send at next_attempt_at), sent, failed (gave up after the retries), cancelled.
    """

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(32))  # invite_link, reminder, graded_notice
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    # sealed JSON {"link": ..., "reissued": ...} of a link or reminder e-mail ("" for a notice): the text is
    # rendered when sent, so a moved deadline or a fixed template reaches mail already waiting
    body_sealed: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class WebhookSubscription(Base):
    """A team's webhook endpoint: where its invites' events go, signed with its secret (sealed)."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    secret_sealed: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    team: Mapped[Team] = relationship()


class WebhookDelivery(Base):
    """One event for one subscription: the body exactly as signed, retried with backoff for a day.
    state: pending (next try at next_attempt_at), delivered, failed (gave up), redeliver (an admin's one
    manual try, due now, with no automatic retries after it)."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    message_id: Mapped[str] = mapped_column(String(64))  # the webhook-id header: the same on every retry
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    subscription: Mapped[WebhookSubscription] = relationship()
    log: Mapped[list["WebhookAttempt"]] = relationship(order_by="WebhookAttempt.id", cascade="all, delete-orphan")


class WebhookAttempt(Base):
    """One try of a delivery: the receiver's status code, or why there was none (the delivery log)."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # an admin's redelivery


class PartnerKey(Base):
    """An organisation's key for the Greenhouse assessment partner API (HTTP Basic username): hashed to
    recognise it, sealed to send it back on the completion callback. Invites made through it belong to its team."""

    __tablename__ = "partner_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Sealed too: the completion callback (PATCH) authenticates with the same key (Greenhouse's docs)
    key_sealed: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    team: Mapped[Team] = relationship()


class PartnerInterview(Base):
    """An invite made by Greenhouse's send_test: the id we answered and the status URL to call back.
    callback_state: none (no URL given), pending (to PATCH at callback_next_at), sent, failed."""

    __tablename__ = "partner_interviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_interview_id: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("partner_keys.id", ondelete="CASCADE"), index=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id", ondelete="CASCADE"), unique=True)
    test_id: Mapped[str] = mapped_column(String(100))
    callback_url: Mapped[str] = mapped_column(String(2000), default="")
    callback_state: Mapped[str] = mapped_column(String(16), default="none")
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_next_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    callback_since: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # retries stop a day after
    callback_last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    invite: Mapped[Invite] = relationship()
    key: Mapped[PartnerKey] = relationship()
