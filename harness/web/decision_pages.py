"""Recruiter pages from grade to decision: assigning interviewers to an invite, the decision page (the
grade, every submitted scorecard, the spread per question, the decision with its reason) and the
candidate feedback (a preview, released or withdrawn per invite).

Thin, as recruiter.py: the work is in harness.web.scorecards and harness.web.decisions (shared
with the JSON API). Every route is the invite's team's (another team's invite is a 404).
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from grader.errors import UsageError
from harness.store.models import Invite, Recruiter
from harness.store.settings import WebSettings
from harness.web import decisions as dec
from harness.web import invites as svc
from harness.web import scorecards as cards
from harness.web.auth import client_of, db, page_recruiter, require_csrf
from harness.web.feedback import build_feedback
from harness.web.params import path_id as _id
from harness.web.reports import load_anchors, summarize, verdict
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_CSRF = [Depends(require_csrf)]



def _invite(session: Session, invite_id: int, me: Recruiter) -> Invite:
    try:
        return svc.get_invite(session, invite_id, viewer=me)
    except svc.NotFound as exc:
        raise PageNotFound(str(exc)) from exc


def _back(invite: Invite, request: Request, message: str, to: str = "") -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(f"/invites/{invite.id}{to}", status_code=303)


def interview_panel(session: Session, invite: Invite) -> dict[str, Any]:
    """The invite page's interview section: who is assigned (and how far their scorecard is), who could
    be, whether feedback is out, and the decision that stands."""
    assigned = []
    for a in invite.assignments:
        card = cards.own_card(session, invite, a.interviewer)
        assigned.append((a.interviewer, "not started" if card is None else
                         ("submitted" if card.submitted_at else "draft")))
    taken = {a.interviewer_id for a in invite.assignments}
    latest = dec.decisions(session, invite)
    return {"assigned": assigned, "assignable": [r for r in cards.team_interviewers(invite.team) if r.id not in taken],
            "decision": latest[0] if latest else None}


def decision_context(settings: WebSettings, session: Session, invite: Invite) -> dict[str, Any]:
    """The decision page's facts (shared with the API): the grade, the scorecards, their spread."""
    scored = cards.counted_source(settings, invite)
    summary = summarize(scored.report, scored.result)
    submitted = cards.submitted_cards(session, invite)
    return {"invite": invite, "result": scored.result, "summary": summary,
            "verdict": verdict(summary, load_anchors(invite.exercise)) if scored.result else "Not graded yet.",
            "cards": submitted, "spread": dec.spread(submitted), "tally": dec.tally(submitted),
            "decisions": dec.decisions(session, invite), "outcomes": dec.OUTCOMES,
            "recommendations": cards.RECOMMENDATIONS, **interview_panel(session, invite)}


def _decision_page(request: Request, session: Session, invite: Invite, status_code: int = 200,
                   **extra: Any) -> HTMLResponse:
    return render(request, "recruiter/decision.html", status_code=status_code,
                  message=request.session.pop("flash", None),
                  **decision_context(request.app.state.settings, session, invite), **extra)


@router.get("/invites/{invite_id}/decision", response_class=HTMLResponse)
def decision_page(request: Request, invite_id: int = _id(), me: Recruiter = Depends(page_recruiter),
                  session: Session = Depends(db)) -> HTMLResponse:
    return _decision_page(request, session, _invite(session, invite_id, me))


@router.post("/invites/{invite_id}/decision", dependencies=_CSRF)
def decide(request: Request, invite_id: int = _id(), outcome: str = Form(""), reason: str = Form(""),
           me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    invite = _invite(session, invite_id, me)
    result = cards.counted_source(request.app.state.settings, invite).result
    try:
        dec.decide(session, invite, outcome, reason, by=me, result=result, client=client_of(request),
                   settings=request.app.state.settings)
    except UsageError as exc:
        session.rollback()
        return _decision_page(request, session, invite, status_code=400, error=str(exc))
    session.commit()
    return _back(invite, request, f"decision recorded: {dec.OUTCOMES[outcome]}", "/decision")


@router.post("/invites/{invite_id}/interviewers", dependencies=_CSRF)
def assign(request: Request, invite_id: int = _id(), interviewer_id: int = Form(0),
           me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    invite = _invite(session, invite_id, me)
    try:
        account = cards.assign(session, invite, interviewer_id, by=me, client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _back(invite, request, f"not assigned: {exc}")
    session.commit()
    return _back(invite, request, f"{account.email} can now see this invite's kit and fill a scorecard")


@router.post("/invites/{invite_id}/interviewers/remove", dependencies=_CSRF)
def unassign(request: Request, invite_id: int = _id(), interviewer_id: int = Form(0),
             me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    invite = _invite(session, invite_id, me)
    try:
        cards.unassign(session, invite, interviewer_id, by=me, client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _back(invite, request, f"not removed: {exc}")
    session.commit()
    return _back(invite, request, "the interviewer no longer sees this invite (a submitted scorecard stays)")


@router.get("/invites/{invite_id}/feedback", response_class=HTMLResponse)
def feedback_preview(request: Request, invite_id: int = _id(), me: Recruiter = Depends(page_recruiter),
                     session: Session = Depends(db)) -> HTMLResponse:
    invite = _invite(session, invite_id, me)
    scored = cards.counted_source(request.app.state.settings, invite)
    return render(request, "recruiter/feedback.html", invite=invite,
                  feedback=build_feedback(invite, scored.result, scored.report),
                  message=request.session.pop("flash", None))


@router.post("/invites/{invite_id}/feedback", dependencies=_CSRF)
def release_feedback(request: Request, invite_id: int = _id(), release: bool = Form(False),
                     show_score: bool = Form(False), me: Recruiter = Depends(page_recruiter),
                     session: Session = Depends(db)) -> Response:
    invite = _invite(session, invite_id, me)
    dec.release_feedback(session, invite, release, show_score=show_score, by=me, client=client_of(request))
    session.commit()
    return _back(invite, request, "the candidate sees their feedback on their link's page" if release
                 else "the feedback is withdrawn: the candidate no longer sees it", "/feedback")


@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, me: Recruiter = Depends(page_recruiter),
               session: Session = Depends(db)) -> HTMLResponse:
    teams = [(t, cards.team_interviewers(t)) for t in dec.viewer_teams(session, me)]
    return render(request, "recruiter/teams.html", teams=teams, message=request.session.pop("flash", None))


@router.post("/teams/{team_id}/blind-review", dependencies=_CSRF)
def blind_review(request: Request, team_id: int = _id(), blind_review: bool = Form(False),
                 me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    team = dec.team_of(session, team_id, me)
    if team is None:
        raise PageNotFound(f"no team {team_id}")
    dec.set_blind_review(session, team, blind_review, by=me, client=client_of(request))
    session.commit()
    request.session["flash"] = f"blind review is {'on' if blind_review else 'off'} for team {team.name}"
    return RedirectResponse("/teams", status_code=303)
