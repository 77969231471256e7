"""From scorecards to a decision: the spread between interviewers, the recruiter's decision with its
reason, releasing candidate feedback, and a team's blind-review setting. Each change is on the
invite's timeline (where it has one) and in the audit log. Nothing here commits: the caller does.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.notify import emit
from harness.store.audit import audit
from harness.store.models import Decision, Invite, Recruiter, Result, Scorecard, Team, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import record
from harness.web.scorecards import RECOMMENDATIONS, clean_notes

OUTCOMES = {"advance": "advance to the next stage", "hold": "hold", "reject": "reject"}


@dataclass
class Spread:
    """How the interviewers scored one question: each score, and the lowest, highest and their distance."""

    question: str
    title: str
    scores: list[tuple[str, int]] = field(default_factory=list)  # (interviewer e-mail, 1-4)

    @property
    def low(self) -> int | None:
        return min((s for _, s in self.scores), default=None)

    @property
    def high(self) -> int | None:
        return max((s for _, s in self.scores), default=None)

    @property
    def range(self) -> int | None:
        return None if self.low is None or self.high is None else self.high - self.low

    @property
    def split(self) -> bool:
        """Interviewers disagree by two points or more: a question to talk through at the debrief."""
        return (self.range or 0) >= 2


def spread(cards: list[Scorecard]) -> list[Spread]:
    """One row per question any submitted scorecard scored, in the order the kits ask them."""
    rows: dict[str, Spread] = {}
    for card in cards:
        for q in card.questions:
            row = rows.setdefault(q["id"], Spread(question=q["id"], title=q["title"]))
            score = (card.answers.get(q["id"]) or {}).get("score")
            if isinstance(score, int):
                row.scores.append((card.interviewer.email, score))
    return list(rows.values())


def tally(cards: list[Scorecard]) -> list[tuple[str, int]]:
    """(recommendation in words, how many) from strong no to strong yes, zeros included."""
    counts = Counter(c.recommendation for c in cards)
    return [(words, counts.get(key, 0)) for key, words in RECOMMENDATIONS.items()]


def decisions(session: Session, invite: Invite) -> list[Decision]:
    """Every decision on the invite, newest first (the first is the one that stands)."""
    return list(session.scalars(select(Decision).where(Decision.invite_id == invite.id)
                                .order_by(Decision.id.desc())))


def decide(session: Session, invite: Invite, outcome: str, reason: str, *, by: Recruiter, result: Result | None,
           client: str = "", settings: WebSettings | None = None) -> Decision:
    if outcome not in OUTCOMES:
        raise UsageError(f"not a decision: {outcome[:30]!r} (one of {', '.join(OUTCOMES)})")
    why = clean_notes(reason, "reason")
    if not why:
        raise UsageError("a decision needs a reason")
    made = Decision(invite_id=invite.id, outcome=outcome, reason=why, decided_by=by.email,
                    result_id=result.id if result is not None else None,
                    score=result.score if result is not None else None, created_at=utcnow())
    session.add(made)
    record(session, invite, "decision", f"{outcome} by {by.email}")
    audit(session, "decision_recorded", actor=by.email, target=f"invite {invite.id}", detail=f"{outcome}: {why}",
          client=client)
    session.flush()
    if settings is not None:  # the reason stays in the app (it may name the candidate)
        emit(session, settings, invite, "decision.recorded", {"decision_id": made.id, "outcome": outcome})
    return made


def release_feedback(session: Session, invite: Invite, release: bool, *, show_score: bool, by: Recruiter,
                     client: str = "") -> None:
    """Show the candidate their feedback page (with the score only when asked), or take it back."""
    invite.feedback_score = release and show_score
    if release:
        invite.feedback_released_at = invite.feedback_released_at or utcnow()
    else:
        invite.feedback_released_at = None
    detail = ("released" + (" with the score" if invite.feedback_score else "")) if release else "withdrawn"
    record(session, invite, "feedback", f"{detail} by {by.email}")
    audit(session, "feedback_released" if release else "feedback_withdrawn", actor=by.email,
          target=f"invite {invite.id}", detail=detail, client=client)


def viewer_teams(session: Session, me: Recruiter) -> list[Team]:
    """The teams whose settings `me` may change: their own; every team for an administrator."""
    if me.is_admin:
        return list(session.scalars(select(Team).order_by(Team.name)))
    return [] if me.is_interviewer else list(me.teams)


def team_of(session: Session, team_id: int, me: Recruiter) -> Team | None:
    return next((t for t in viewer_teams(session, me) if t.id == team_id), None)


def set_blind_review(session: Session, team: Team, on: bool, *, by: Recruiter, client: str = "") -> None:
    if team.blind_review != on:
        team.blind_review = on
        audit(session, "blind_review_on" if on else "blind_review_off", actor=by.email, target=f"team {team.name}",
              client=client)
