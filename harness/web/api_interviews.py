"""The JSON API of the hiring workflow, interviewer side (/api/v1/reviews): the invites assigned to me,
one invite's interview kit with my scorecard, and the scorecard's life (PUT a draft, DELETE it,
submit it). The rules are the pages' (harness.web.review_pages): only assigned invites of my
teams, no other scorecard until mine is submitted, blind review scrubbing what I read.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session

from grader.errors import NotFound
from grader.report.kit import InterviewKit
from harness.store.models import Invite, Recruiter
from harness.web import scorecards as cards
from harness.web.api import _ERRORS, _committed
from harness.web.api_review_models import CandidateOut, ReviewOut, ReviewSummaryOut, ScorecardIn, ScorecardOut
from harness.web.auth import api_interviewer, client_of, db
from harness.web.blind import Scrubber, is_blind, shown_identity
from harness.web.params import path_id as _id
from harness.web.review_pages import review_context, status_of

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(api_interviewer)], responses=_ERRORS, tags=["interviewer API"])



def _review(session: Session, invite_id: int, me: Recruiter) -> Invite:
    try:
        return cards.review_invite(session, invite_id, me)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


# a kit's fields that are names from a fixed set (a probe, an anchor's label, a constraint), not text:
# scrubbing one ("Design" is a surname) would make the kit invalid, and none of them is the candidate's
KIT_KEYS = {"id", "probes", "label", "constraint", "name", "based_on", "templates", "templates_sha"}


def _scrubbed(value: Any, scrub: Scrubber) -> Any:
    """A dumped kit with every free text scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: v if k in KIT_KEYS else _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, scrub) for v in value]
    return value


def _candidate(who: Any) -> CandidateOut:
    return CandidateOut(name=who.name, email=who.email, candidate_id=who.candidate_id, blind=who.blind)


@router.get("/reviews", response_model=list[ReviewSummaryOut], summary="The invites assigned to you")
def reviews(request: Request, session: Session = Depends(db),
            me: Recruiter = Depends(api_interviewer)) -> list[ReviewSummaryOut]:
    key = request.app.state.settings.secret_key
    out = []
    for invite in cards.assigned_invites(session, me):
        card = cards.own_card(session, invite, me)
        who = shown_identity(invite, blind=is_blind(invite, me, card), secret_key=key)
        out.append(ReviewSummaryOut(invite_id=invite.id, exercise=invite.exercise, candidate=_candidate(who),
                                    scorecard=status_of(card)))  # type: ignore[arg-type]
    return out


@router.get("/reviews/{invite_id}", response_model=ReviewOut,
            summary="An assigned invite's interview kit, your scorecard and (once yours is in) the others'")
def review(request: Request, invite_id: int = _id(), session: Session = Depends(db),
           me: Recruiter = Depends(api_interviewer)) -> ReviewOut:
    invite = _review(session, invite_id, me)
    ctx = review_context(request.app.state.settings, session, invite, me)
    kit = ctx["kit"]
    shown = InterviewKit.model_validate(_scrubbed(kit.model_dump(), ctx["scrub"])) if kit is not None else None
    card = ctx["card"]
    return ReviewOut(invite_id=invite.id, exercise=invite.exercise, candidate=_candidate(ctx["who"]),
                     scorecard=ctx["status"], kit=shown, own=ScorecardOut.of(card) if card is not None else None,
                     others=[ScorecardOut.of(c) for c in ctx["others"]], stale=ctx["stale"])


@router.put("/reviews/{invite_id}/scorecard", response_model=ScorecardOut,
            summary="Write your draft scorecard (created on first use; refused once submitted)")
def save(body: ScorecardIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
         me: Recruiter = Depends(api_interviewer)) -> ScorecardOut:
    invite = _review(session, invite_id, me)
    answers = {qid: (a.score, a.notes) for qid, a in body.answers.items()}
    card = _committed(session, lambda: cards.save_draft(session, request.app.state.settings, invite, me,
                                                        answers=answers, recommendation=body.recommendation,
                                                        summary=body.summary))
    return ScorecardOut.of(card)


@router.delete("/reviews/{invite_id}/scorecard", status_code=204, response_class=Response,
               summary="Delete your draft scorecard (a submitted one stays)")
def delete(invite_id: int = _id(), session: Session = Depends(db),
           me: Recruiter = Depends(api_interviewer)) -> Response:
    invite = _review(session, invite_id, me)
    _committed(session, lambda: cards.delete_draft(session, invite, me))
    return Response(status_code=204)


@router.post("/reviews/{invite_id}/scorecard/submit", response_model=ScorecardOut,
             summary="Submit your scorecard: read-only afterwards, and the others' become visible to you")
def submit(request: Request, invite_id: int = _id(), session: Session = Depends(db),
           me: Recruiter = Depends(api_interviewer)) -> ScorecardOut:
    invite = _review(session, invite_id, me)
    card = _committed(session, lambda: cards.submit(session, invite, me, client=client_of(request),
                                                    settings=request.app.state.settings))
    return ScorecardOut.of(card)
