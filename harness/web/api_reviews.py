"""The JSON API of the hiring workflow, recruiter side (/api/v1): interviewers and their assignment to
an invite, teams' blind-review setting, the submitted scorecards, the decision, candidate feedback.

The same services as the pages (harness.web.scorecards, decisions, feedback) and the same scoping
as harness.web.api: another team's invite is a 404; an interviewer's token is refused (403) —
their side is harness.web.api_interviews.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from harness.store.audit import audit
from harness.store.models import INTERVIEWER, Invite, Recruiter
from harness.web import decisions as dec
from harness.web import scorecards as cards
from harness.web.accounts import create_recruiter
from harness.web.api import _ERRORS, _committed, _invite
from harness.web.api_models import Problem
from harness.web.api_review_models import (
    AssignmentOut,
    BlindReviewIn,
    DecisionIn,
    DecisionOut,
    DecisionPageOut,
    FeedbackIn,
    FeedbackOut,
    InterviewerIn,
    InterviewerOut,
    InterviewersIn,
    ScorecardOut,
    SpreadOut,
    TeamOut,
)
from harness.web.auth import api_recruiter, client_of, db
from harness.web.decision_pages import decision_context
from harness.web.feedback import build_feedback
from harness.web.params import path_id as _id
from harness.web.review_pages import status_of

log = logging.getLogger(__name__)
_RESPONSES: dict[int | str, dict[str, Any]] = {**_ERRORS, 403: {"model": Problem, "description": "an interviewer's "
                                                                "token, or (creating accounts) not an administrator"}}
router = APIRouter(dependencies=[Depends(api_recruiter)], responses=_RESPONSES, tags=["hiring API"])



def _assignments(session: Session, invite: Invite) -> list[AssignmentOut]:
    return [AssignmentOut.of(a, status_of(cards.own_card(session, invite, a.interviewer))) for a in invite.assignments]


@router.get("/interviewers", response_model=list[InterviewerOut], summary="The interviewers of your teams")
def interviewers(session: Session = Depends(db), me: Recruiter = Depends(api_recruiter)) -> list[InterviewerOut]:
    found = {r.id: r for t in dec.viewer_teams(session, me) for r in cards.team_interviewers(t)}
    return [InterviewerOut.of(r) for r in sorted(found.values(), key=lambda r: r.email)]


@router.post("/interviewers", response_model=InterviewerOut, status_code=201,
             summary="Create an interviewer account (administrators)")
def create_interviewer(body: InterviewerIn, request: Request, session: Session = Depends(db),
                       me: Recruiter = Depends(api_recruiter)) -> InterviewerOut:
    if not me.is_admin:
        raise HTTPException(status_code=403, detail="only administrators create accounts")
    def create() -> Recruiter:
        account = create_recruiter(session, body.email, body.password, name=body.name,
                                   teams=[body.team] if body.team else None, role=INTERVIEWER)
        audit(session, "account_created", actor=me.email, target=account.email, client=client_of(request),
              detail=f"interviewer, team(s): {', '.join(t.name for t in account.teams)}")
        return account

    return InterviewerOut.of(_committed(session, create))


@router.get("/teams", response_model=list[TeamOut], summary="Your teams, their interviewers and blind-review setting")
def teams(session: Session = Depends(db), me: Recruiter = Depends(api_recruiter)) -> list[TeamOut]:
    return [TeamOut.of(t) for t in dec.viewer_teams(session, me)]


@router.put("/teams/{team_id}/blind-review", response_model=TeamOut,
            summary="Turn blind review on or off for a team's interviewers")
def blind_review(body: BlindReviewIn, request: Request, team_id: int = _id(), session: Session = Depends(db),
                 me: Recruiter = Depends(api_recruiter)) -> TeamOut:
    team = dec.team_of(session, team_id, me)
    if team is None:
        raise HTTPException(status_code=404, detail=f"no team {team_id}")
    dec.set_blind_review(session, team, body.blind_review, by=me, client=client_of(request))
    session.commit()
    return TeamOut.of(team)


@router.get("/invites/{invite_id}/interviewers", response_model=list[AssignmentOut],
            summary="The interviewers assigned to an invite, with how far their scorecards are")
def assigned(invite_id: int = _id(), session: Session = Depends(db),
             me: Recruiter = Depends(api_recruiter)) -> list[AssignmentOut]:
    return _assignments(session, _invite(session, invite_id, me))


@router.put("/invites/{invite_id}/interviewers", response_model=list[AssignmentOut],
            summary="Assign exactly these interviewers (of the invite's team) to an invite")
def assign(body: InterviewersIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
           me: Recruiter = Depends(api_recruiter)) -> list[AssignmentOut]:
    invite = _invite(session, invite_id, me)
    _committed(session, lambda: cards.set_interviewers(session, invite, body.interviewer_ids, by=me,
                                                       client=client_of(request)))
    session.refresh(invite)
    return _assignments(session, invite)


@router.get("/invites/{invite_id}/scorecards", response_model=list[ScorecardOut],
            summary="An invite's submitted scorecards (drafts stay their interviewer's)")
def scorecards(invite_id: int = _id(), session: Session = Depends(db),
               me: Recruiter = Depends(api_recruiter)) -> list[ScorecardOut]:
    return [ScorecardOut.of(c) for c in cards.submitted_cards(session, _invite(session, invite_id, me))]


@router.get("/invites/{invite_id}/decision", response_model=DecisionPageOut,
            summary="The decision page: the grade, the scorecards, their spread per question, the decisions")
def decision(request: Request, invite_id: int = _id(), session: Session = Depends(db),
             me: Recruiter = Depends(api_recruiter)) -> DecisionPageOut:
    invite = _invite(session, invite_id, me)
    ctx = decision_context(request.app.state.settings, session, invite)
    result = ctx["result"]
    return DecisionPageOut(
        invite_id=invite.id, candidate_name=invite.candidate_name, status=ctx["summary"].status,
        score=result.score if result is not None else None, verdict=ctx["verdict"],
        interviewers=_assignments(session, invite), scorecards=[ScorecardOut.of(c) for c in ctx["cards"]],
        spread=[SpreadOut(question=s.question, title=s.title, scores=dict(s.scores), low=s.low, high=s.high,
                          range=s.range) for s in ctx["spread"]],
        recommendations=dict(ctx["tally"]), decisions=[DecisionOut.of(d) for d in ctx["decisions"]])


@router.post("/invites/{invite_id}/decision", response_model=DecisionOut, status_code=201,
             summary="Record the hiring decision with its reason (kept in the audit log; the newest stands)")
def decide(body: DecisionIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
           me: Recruiter = Depends(api_recruiter)) -> DecisionOut:
    invite = _invite(session, invite_id, me)
    result = cards.counted_source(request.app.state.settings, invite).result
    made = _committed(session, lambda: dec.decide(session, invite, body.outcome, body.reason, by=me, result=result,
                                                  client=client_of(request), settings=request.app.state.settings))
    return DecisionOut.of(made)


def _feedback(request: Request, invite: Invite) -> FeedbackOut:
    scored = cards.counted_source(request.app.state.settings, invite)
    return FeedbackOut.of(invite.feedback_released_at, invite.feedback_score,
                          build_feedback(invite, scored.result, scored.report))


@router.get("/invites/{invite_id}/feedback", response_model=FeedbackOut,
            summary="The candidate's feedback as they would read it, and whether it is released")
def feedback(request: Request, invite_id: int = _id(), session: Session = Depends(db),
             me: Recruiter = Depends(api_recruiter)) -> FeedbackOut:
    return _feedback(request, _invite(session, invite_id, me))


@router.post("/invites/{invite_id}/feedback", response_model=FeedbackOut,
             summary="Release the candidate's feedback (optionally with the score), or withdraw it")
def release(body: FeedbackIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
            me: Recruiter = Depends(api_recruiter)) -> FeedbackOut:
    invite = _invite(session, invite_id, me)
    dec.release_feedback(session, invite, body.released, show_score=body.show_score, by=me, client=client_of(request))
    session.commit()
    return _feedback(request, invite)
