"""Interviewers and their scorecards: assigning interviewers to an invite, what an interviewer may see,
and a scorecard's life (a draft, saved as often as wanted, then submitted and read-only).

The one service behind the review pages and the JSON API. An interviewer sees only the invites
assigned to them, within their teams; another's invite is as unknown as a missing one. Until
an interviewer submits, they see no other scorecard; after, every submitted one. A scorecard
keeps a copy of the kit it scored (version, templates digest, questions) and the job and result
it came from. Nothing here commits: the caller does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import NotFound, UsageError
from grader.report.kit import InterviewKit
from grader.report.model import Report
from harness.notify import emit
from harness.store.audit import audit
from harness.store.models import Assignment, Invite, Recruiter, Result, Scorecard, Team, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import counted_job, record
from harness.web.reports import load_report

RECOMMENDATIONS = {"strong_no": "strong no", "no": "no", "yes": "yes", "strong_yes": "strong yes"}
SCORES = (1, 2, 3, 4)
MAX_NOTES = 5000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # newlines and tabs are a note's own


def clean_notes(value: str, what: str = "notes") -> str:
    text = _CONTROL.sub("", value).strip().encode("utf-8", "replace").decode("utf-8")
    if len(text) > MAX_NOTES:
        raise UsageError(f"the {what} are longer than {MAX_NOTES} characters")
    return text


# --- interviewers and assignments -------------------------------------------------------------------

def team_interviewers(team: Team) -> list[Recruiter]:
    return sorted((m for m in team.members if m.is_interviewer), key=lambda r: r.email)


def assign(session: Session, invite: Invite, interviewer_id: int, *, by: Recruiter, client: str = "") -> Recruiter:
    """Assign an interviewer of the invite's team (anyone else is refused, as if unknown)."""
    account = session.get(Recruiter, interviewer_id)
    if account is None or not account.is_interviewer or invite.team not in account.teams:
        raise UsageError(f"account {interviewer_id} is not an interviewer of team {invite.team.name}")
    if all(a.interviewer_id != account.id for a in invite.assignments):
        invite.assignments.append(Assignment(interviewer_id=account.id, assigned_by=by.email, assigned_at=utcnow()))
        record(session, invite, "interviewer", f"{account.email} assigned by {by.email}")
        audit(session, "interviewer_assigned", actor=by.email, target=f"invite {invite.id}", detail=account.email,
              client=client)
    return account


def unassign(session: Session, invite: Invite, interviewer_id: int, *, by: Recruiter, client: str = "") -> None:
    """The interviewer no longer sees the invite; a scorecard they submitted stays on the decision page."""
    found = next((a for a in invite.assignments if a.interviewer_id == interviewer_id), None)
    if found is None:
        raise UsageError(f"account {interviewer_id} is not assigned to this invite")
    email = found.interviewer.email
    invite.assignments.remove(found)
    record(session, invite, "interviewer", f"{email} unassigned by {by.email}")
    audit(session, "interviewer_unassigned", actor=by.email, target=f"invite {invite.id}", detail=email,
          client=client)


def set_interviewers(session: Session, invite: Invite, ids: list[int], *, by: Recruiter, client: str = "") -> None:
    """Exactly these interviewers assigned (the API's PUT): the missing are added, the others removed."""
    for rid in [a.interviewer_id for a in invite.assignments if a.interviewer_id not in ids]:
        unassign(session, invite, rid, by=by, client=client)
    for rid in dict.fromkeys(ids):
        assign(session, invite, rid, by=by, client=client)


def _mine(me: Recruiter):  # type: ignore[no-untyped-def]
    # assigned to me, and still in one of my teams (an interviewer moved out of a team loses its invites)
    return (select(Invite).join(Assignment, Assignment.invite_id == Invite.id)
            .where(Assignment.interviewer_id == me.id, Invite.team_id.in_({t.id for t in me.teams})))


def assigned_invites(session: Session, me: Recruiter) -> list[Invite]:
    return list(session.scalars(_mine(me).order_by(Invite.id.desc()))) if me.is_interviewer else []


def review_invite(session: Session, invite_id: int, me: Recruiter) -> Invite:
    """The invite, if it is assigned to interviewer `me`; anything else is NotFound."""
    invite = session.scalar(_mine(me).where(Invite.id == invite_id)) if me.is_interviewer else None
    if invite is None:
        raise NotFound(f"no review {invite_id}")
    return invite


# --- what is scored ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scored:
    """The grading a scorecard scores: the invite's counted result and its report's interview kit."""

    result: Result | None
    report: Report | None

    @property
    def kit(self) -> InterviewKit | None:
        return self.report.interview_kit if self.report is not None else None


def counted_source(settings: WebSettings, invite: Invite) -> Scored:
    job = counted_job(invite)
    result = job.final if job is not None else None
    return Scored(result, load_report(settings, result))


def source_of(settings: WebSettings, session: Session, card: Scorecard | None, invite: Invite) -> Scored:
    """What `card` scored (its own result, whatever counts now), or what a new scorecard would score."""
    if card is None or card.result_id is None:
        return counted_source(settings, invite)
    result = session.get(Result, card.result_id)
    return Scored(result, load_report(settings, result))


def kit_questions(kit: InterviewKit | None) -> list[dict[str, Any]]:
    if kit is None:
        return []
    return [{"id": q.id, "title": q.title, "probes": list(q.probes), "text": q.text,
             "anchors": {str(a.score): a.text for a in q.anchors}} for q in kit.questions]


# --- scorecards -------------------------------------------------------------------------------------

def own_card(session: Session, invite: Invite, me: Recruiter) -> Scorecard | None:
    return session.scalar(select(Scorecard).where(Scorecard.invite_id == invite.id,
                                                  Scorecard.interviewer_id == me.id))


def submitted_cards(session: Session, invite: Invite) -> list[Scorecard]:
    return list(session.scalars(select(Scorecard).where(Scorecard.invite_id == invite.id,
                                                        Scorecard.submitted_at.is_not(None))
                                .order_by(Scorecard.submitted_at, Scorecard.id)))


def visible_cards(session: Session, invite: Invite, me: Recruiter) -> list[Scorecard]:
    """Submitted scorecards `me` may read: a recruiter all; an interviewer none until theirs is in."""
    if me.is_interviewer:
        mine = own_card(session, invite, me)
        if mine is None or mine.submitted_at is None:
            return []
    return submitted_cards(session, invite)


def save_draft(session: Session, settings: WebSettings, invite: Invite, me: Recruiter, *,
               answers: dict[str, tuple[int | None, str]], recommendation: str | None, summary: str) -> Scorecard:
    """Create or replace `me`'s draft. A new draft copies the kit of the grading that counts now; a draft
    keeps the kit it started with (a regrade meanwhile does not move it)."""
    card = own_card(session, invite, me)
    if card is not None and card.submitted_at is not None:
        raise UsageError("this scorecard was submitted: it is read-only")
    if card is None:
        scored = counted_source(settings, invite)
        if scored.result is None:
            raise UsageError("nothing graded yet: a scorecard scores a graded submission")
        kit = scored.kit
        card = Scorecard(invite_id=invite.id, interviewer_id=me.id, job_id=scored.result.job_id,
                         result_id=scored.result.id, kit_version=kit.kit_version if kit else None,
                         templates_sha=kit.templates_sha if kit else "", questions=kit_questions(kit), answers={},
                         summary="", created_at=utcnow())
        session.add(card)
    ids = [q["id"] for q in card.questions]
    unknown = sorted(set(answers) - set(ids))
    if unknown:
        raise UsageError(f"no question {unknown[0][:60]!r} in the kit this scorecard scores")
    if recommendation is not None and recommendation not in RECOMMENDATIONS:
        raise UsageError(f"not a recommendation: {recommendation[:30]!r} (one of {', '.join(RECOMMENDATIONS)})")
    written = {}  # the whole scorecard, as given (a form posts every question; the API's PUT replaces)
    for qid, (score, notes) in answers.items():
        if score is not None and score not in SCORES:
            raise UsageError(f"question {qid}: a score is 1, 2, 3 or 4")
        written[qid] = {"score": score, "notes": clean_notes(notes, f"notes on {qid}")}
    card.answers = written  # a new dict: SQLAlchemy sees a JSON column change only on assignment
    card.recommendation = recommendation
    card.summary = clean_notes(summary, "summary")
    card.updated_at = utcnow()
    session.flush()
    return card


def submit(session: Session, invite: Invite, me: Recruiter, *, client: str = "",
           settings: WebSettings | None = None) -> Scorecard:
    card = own_card(session, invite, me)
    if card is None:
        raise UsageError("no scorecard to submit: save a draft first")
    if card.submitted_at is not None:
        raise UsageError("this scorecard was submitted already")
    missing = [q["id"] for q in card.questions if (card.answers.get(q["id"]) or {}).get("score") is None]
    if missing:
        raise UsageError(f"score every question before submitting ({len(missing)} unscored: {missing[0]}…)")
    if card.recommendation is None:
        raise UsageError("pick an overall recommendation before submitting")
    card.submitted_at = card.updated_at = utcnow()
    record(session, invite, "scorecard", f"submitted by {me.email}")
    if settings is not None:  # the interviewer's identity stays in the app: receivers read it through the API
        emit(session, settings, invite, "scorecard.submitted",
             {"scorecard_id": card.id, "recommendation": card.recommendation})
    audit(session, "scorecard_submitted", actor=me.email, target=f"invite {invite.id}",
          detail=f"{RECOMMENDATIONS[card.recommendation]}; kit {card.templates_sha or 'none'}", client=client)
    return card


def delete_draft(session: Session, invite: Invite, me: Recruiter) -> None:
    card = own_card(session, invite, me)
    if card is None:
        raise UsageError("no draft to delete")
    if card.submitted_at is not None:
        raise UsageError("this scorecard was submitted: it is read-only")
    session.delete(card)
