"""The JSON API's models for the hiring workflow (interviewers, scorecards, blind review, decisions,
candidate feedback): the half of harness.web.api_models the app's OpenAPI describes for those routes.

Times are UTC with their zone, as in api_models. What an interviewer reads under blind review
comes here already scrubbed (harness.web.review_pages.review_context decides).
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.report.kit import InterviewKit
from harness.store.models import Assignment, Decision, Recruiter, Scorecard, Team
from harness.web.api_models import utc
from harness.web.feedback import Feedback

Recommendation = Literal["strong_no", "no", "yes", "strong_yes"]
Outcome = Literal["advance", "hold", "reject"]
CardStatus = Literal["not started", "draft", "submitted"]


class InterviewerOut(BaseModel):
    id: int
    email: str
    name: str
    teams: list[str]

    @classmethod
    def of(cls, r: Recruiter) -> "InterviewerOut":
        return cls(id=r.id, email=r.email, name=r.name, teams=[t.name for t in r.teams])


class InterviewerIn(BaseModel):
    """A new interviewer account (administrators only): it sees only the invites assigned to it."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=10, max_length=200)
    team: str | None = Field(default=None, max_length=100, description="Default: the default team")


class InterviewersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interviewer_ids: list[int] = Field(max_length=50, description="Exactly the interviewers assigned afterwards "
                                       "(of the invite's team); the others are unassigned")


class AssignmentOut(BaseModel):
    interviewer: InterviewerOut
    assigned_by: str
    assigned_at: dt.datetime
    scorecard: CardStatus

    @classmethod
    def of(cls, a: Assignment, status: str) -> "AssignmentOut":
        return cls(interviewer=InterviewerOut.of(a.interviewer), assigned_by=a.assigned_by,
                   assigned_at=utc(a.assigned_at), scorecard=status)  # type: ignore[arg-type]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int | None = Field(default=None, ge=1, le=4, description="1 weak, 2 fair, 3 good, 4 strong")
    notes: str = Field(default="", max_length=5000)


class ScorecardIn(BaseModel):
    """The whole draft (a PUT replaces it): question id -> answer, the recommendation, a summary."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, AnswerIn] = Field(default_factory=dict, max_length=50)
    recommendation: Recommendation | None = None
    summary: str = Field(default="", max_length=5000)


class AnswerOut(BaseModel):
    question: str
    title: str
    score: int | None
    notes: str


class ScorecardOut(BaseModel):
    id: int
    invite_id: int
    interviewer: str = Field(description="The interviewer's e-mail")
    interviewer_name: str
    status: CardStatus
    job_id: int | None = Field(description="The grading it scored (a later regrade does not move it)")
    result_id: int | None
    kit_version: int | None
    templates_sha: str = Field(description="Digest of the question templates of the kit it scored")
    recommendation: Recommendation | None
    summary: str
    answers: list[AnswerOut]
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None

    @classmethod
    def of(cls, c: Scorecard) -> "ScorecardOut":
        answers = [AnswerOut(question=q["id"], title=q["title"], score=(c.answers.get(q["id"]) or {}).get("score"),
                             notes=(c.answers.get(q["id"]) or {}).get("notes", "")) for q in c.questions]
        return cls(id=c.id, invite_id=c.invite_id, interviewer=c.interviewer.email,
                   interviewer_name=c.interviewer.name, status="submitted" if c.submitted_at else "draft",
                   job_id=c.job_id, result_id=c.result_id, kit_version=c.kit_version, templates_sha=c.templates_sha,
                   recommendation=c.recommendation, summary=c.summary, answers=answers,  # type: ignore[arg-type]
                   created_at=utc(c.created_at), updated_at=utc(c.updated_at), submitted_at=utc(c.submitted_at))


class CandidateOut(BaseModel):
    name: str = Field(description="The candidate's name, or under blind review a pseudonym (\"Candidate 7F3A\")")
    email: str | None
    candidate_id: str | None
    blind: bool


class ReviewSummaryOut(BaseModel):
    invite_id: int
    exercise: str
    candidate: CandidateOut
    scorecard: CardStatus


class ReviewOut(ReviewSummaryOut):
    kit: InterviewKit | None = Field(description="The interview kit of the grading scored (scrubbed when blind)")
    own: ScorecardOut | None = Field(description="Your scorecard (draft or submitted)")
    others: list[ScorecardOut] = Field(description="Other interviewers' submitted scorecards: empty until yours is")
    stale: bool = Field(description="A newer grading counts now than the one your scorecard scores")


class SpreadOut(BaseModel):
    question: str
    title: str
    scores: dict[str, int] = Field(description="Interviewer e-mail -> score")
    low: int | None
    high: int | None
    range: int | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome
    reason: str = Field(min_length=1, max_length=5000, description="Kept in the audit log")


class DecisionOut(BaseModel):
    id: int
    outcome: Outcome
    reason: str
    decided_by: str
    result_id: int | None
    score: float | None = Field(description="The automatic grade when the decision was made")
    created_at: dt.datetime

    @classmethod
    def of(cls, d: Decision) -> "DecisionOut":
        return cls(id=d.id, outcome=d.outcome, reason=d.reason, decided_by=d.decided_by,  # type: ignore[arg-type]
                   result_id=d.result_id, score=d.score, created_at=utc(d.created_at))


class DecisionPageOut(BaseModel):
    invite_id: int
    candidate_name: str
    status: str = Field(description="The counted grading's status, or \"not graded\"")
    score: float | None
    verdict: str
    interviewers: list[AssignmentOut]
    scorecards: list[ScorecardOut] = Field(description="Submitted scorecards only")
    spread: list[SpreadOut]
    recommendations: dict[str, int] = Field(description="Recommendation -> how many scorecards gave it")
    decisions: list[DecisionOut] = Field(description="Newest first: the first stands")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    released: bool = Field(description="true: the candidate reads it from their link; false: withdrawn")
    show_score: bool = False


class FeedbackHabitOut(BaseModel):
    title: str
    dimension: str
    about: str
    see: str


class FeedbackOut(BaseModel):
    released_at: dt.datetime | None
    show_score: bool
    status: str
    score: float | None
    shown: list[FeedbackHabitOut]
    missing: list[FeedbackHabitOut]

    @classmethod
    def of(cls, released_at: dt.datetime | None, show_score: bool, f: Feedback) -> "FeedbackOut":
        return cls(released_at=utc(released_at), show_score=show_score, status=f.status, score=f.score,
                   shown=[FeedbackHabitOut(**vars(h)) for h in f.shown],
                   missing=[FeedbackHabitOut(**vars(h)) for h in f.missing])


class TeamOut(BaseModel):
    id: int
    name: str
    blind_review: bool
    interviewers: list[InterviewerOut]

    @classmethod
    def of(cls, t: Team) -> "TeamOut":
        return cls(id=t.id, name=t.name, blind_review=t.blind_review,
                   interviewers=[InterviewerOut.of(r) for r in t.members if r.is_interviewer])


class BlindReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blind_review: bool
