"""The JSON API's request and response models (they are what the app's OpenAPI describes).

Times are UTC and always carry the zone in responses; the database keeps them naive.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.store.models import Event, Invite, Job, Result, Upload
from harness.store.timeline import counted_job, invite_state
from harness.web.invites import InviteIn, parse_deadline


def utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Problem(BaseModel):
    detail: str


class InvitesIn(BaseModel):
    """Many invites at once: all are created, or none (the first bad one is named)."""

    model_config = ConfigDict(extra="forbid")
    invites: list[InviteIn] = Field(min_length=1, max_length=2000)


class DeadlineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deadline: dt.datetime = Field(description="ISO date (end of that day, UTC) or date-time")

    @field_validator("deadline", mode="before")
    @classmethod
    def _parse(cls, v: object) -> object:
        return parse_deadline(v) if isinstance(v, (str, dt.date)) else v


class ShowScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    show_score: bool


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: int | None = Field(ge=1, le=2**31 - 1, description="A finished grading of the invite, or null for "
                                                                "the default (the newest that graded)")


class InviteOut(BaseModel):
    id: int
    candidate_name: str
    candidate_id: str = Field(description="The bundle's candidate id (the data seed derives from it)")
    email: str | None
    exercise: str
    deadline: dt.datetime
    show_score: bool
    disabled_at: dt.datetime | None
    created_at: dt.datetime
    opened_at: dt.datetime | None
    downloaded_at: dt.datetime | None
    team: str = Field(description="The team the invite belongs to (only its members and administrators see it)")
    state: str = Field(description="created, opened, downloaded, submitted, queued, grading, graded or failed")
    counted_job: int | None = Field(default=None, description="The grading that counts: the one picked (POST "
                                    "…/count), else the newest that graded, else the newest finished")
    status: str | None = Field(description="The counted grading's named status (graded, build_failed, ...)")
    score: float | None = Field(description="The counted grading's score (0-100)")

    @classmethod
    def of(cls, invite: Invite) -> "InviteOut":
        job = counted_job(invite)
        final = job.final if job is not None else None
        return cls(**_invite_fields(invite), state=invite_state(invite), counted_job=job.id if job else None,
                   status=final.status if final else None, score=final.score if final else None)


def _invite_fields(i: Invite) -> dict[str, Any]:
    return {"id": i.id, "candidate_name": i.candidate_name, "candidate_id": i.candidate_id, "email": i.email,
            "exercise": i.exercise, "deadline": utc(i.deadline), "show_score": i.show_score,
            "disabled_at": utc(i.disabled_at), "created_at": utc(i.created_at), "opened_at": utc(i.opened_at),
            "downloaded_at": utc(i.downloaded_at), "team": i.team.name}


class InviteCreated(InviteOut):
    link: str = Field(description="The candidate's link. Returned only here: the server keeps its hash only")
    email_queued: bool = Field(default=False, description="The link was queued by e-mail to the invite's address "
                               "too (asked with send_email)")
    email_note: str | None = Field(default=None, description="Why it was not, when asked: \"no SMTP server set\" "
                                   "or \"the invite has no e-mail address\"")


class ReissueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    send_email: bool = Field(default=False, description="Also send the new link to the invite's e-mail address")


class EventOut(BaseModel):
    kind: str
    detail: str
    at: dt.datetime

    @classmethod
    def of(cls, e: Event) -> "EventOut":
        return cls(kind=e.kind, detail=e.detail, at=utc(e.at))


class UploadOut(BaseModel):
    id: int
    filename: str
    size: int
    sha256: str
    created_at: dt.datetime

    @classmethod
    def of(cls, u: Upload) -> "UploadOut":
        return cls(id=u.id, filename=u.filename, size=u.size, sha256=u.sha256, created_at=utc(u.created_at))


class ResultOut(BaseModel):
    attempt: int
    status: str
    score: float | None
    reason: str
    dimensions: dict[str, float]
    created_at: dt.datetime
    has_report: bool

    @classmethod
    def of(cls, r: Result) -> "ResultOut":
        dims = {k: float(v) for k, v in (r.dimensions or {}).items() if isinstance(v, (int, float))}
        return cls(attempt=r.attempt, status=r.status, score=r.score, reason=r.reason, dimensions=dims,
                   created_at=utc(r.created_at), has_report=bool(r.report_dir))


class JobOut(BaseModel):
    id: int
    upload_id: int
    state: str
    attempt: int
    max_attempts: int
    rerun_of: int | None
    note: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    results: list[ResultOut] = Field(description="One per attempt; a rerun is a new job, so earlier results stay")

    @classmethod
    def of(cls, j: Job) -> "JobOut":
        return cls(id=j.id, upload_id=j.upload_id, state=j.state.value, attempt=j.attempt,
                   max_attempts=j.max_attempts, rerun_of=j.rerun_of, note=j.note, created_at=utc(j.created_at),
                   started_at=utc(j.started_at), finished_at=utc(j.finished_at),
                   results=[ResultOut.of(r) for r in j.results])


class InviteDetail(InviteOut):
    timeline: list[EventOut]
    uploads: list[UploadOut]
    jobs: list[JobOut]

    @classmethod
    def of(cls, invite: Invite) -> "InviteDetail":  # type: ignore[override]
        base = InviteOut.of(invite).model_dump()
        return cls(**base, timeline=[EventOut.of(e) for e in invite.events],
                   uploads=[UploadOut.of(u) for u in invite.uploads], jobs=[JobOut.of(j) for j in invite.jobs])


class CohortRowOut(BaseModel):
    invite_id: int
    candidate_name: str
    candidate_id: str
    email: str | None
    job_id: int
    status: str
    score: float | None
    dimensions: dict[str, float]
    reason: str
    graded_at: dt.datetime | None


class CohortOut(BaseModel):
    exercise: str
    rows: list[CohortRowOut] = Field(description="Each invite's newest finished grading, best score first")
