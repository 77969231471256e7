"""Interviewer pages: the invites assigned to me (/reviews), one invite's interview kit with my scorecard
(/reviews/N), saving the draft and submitting it.

An interviewer reaches nothing else (harness.web.auth.page_recruiter sends them here). Under
blind review (the team's setting) the candidate is a pseudonym and what the page shows of the
submission and the kit is scrubbed of their identity until the interviewer's scorecard is in;
other interviewers' scorecards appear only after it is.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from grader.errors import NotFound, UsageError
from grader.report.kit import InterviewKit
from harness.store.models import Invite, Job, Recruiter, Scorecard
from harness.store.settings import WebSettings
from harness.web import scorecards as cards
from harness.web.auth import client_of, db, page_interviewer, require_csrf
from harness.web.blind import REDACTED, Scrubber, is_blind, pseudonym, scrubber, shown_identity, upload_label
from harness.web.params import path_id as _id
from harness.web.reports import inside
from harness.web.submission_view import SubmissionView, read_submission
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)



async def form_fields(request: Request) -> FormData:
    """The posted form (Starlette keeps it after require_csrf read it): a scorecard's fields are per question."""
    return await request.form()


def status_of(card: Any) -> str:
    return "not started" if card is None else ("submitted" if card.submitted_at else "draft")


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, me: Recruiter = Depends(page_interviewer),
            session: Session = Depends(db)) -> HTMLResponse:
    key = request.app.state.settings.secret_key
    rows = []
    for invite in cards.assigned_invites(session, me):
        card = cards.own_card(session, invite, me)
        rows.append({"invite": invite, "who": shown_identity(invite, blind=is_blind(invite, me, card), secret_key=key),
                     "status": status_of(card)})
    return render(request, "reviewer/reviews.html", rows=rows, message=request.session.pop("flash", None))


def _submission(settings: WebSettings, session: Session, job_id: int | None) -> tuple[Any, SubmissionView | None]:
    job = session.get(Job, job_id) if job_id is not None else None
    upload = job.upload if job is not None else None
    path = inside(settings.storage_root, upload.stored_path) if upload is not None else None
    return upload, (read_submission(path) if path is not None and path.is_file() else None)


def kit_rows(card: Scorecard | None, kit: InterviewKit | None, scrub: Scrubber) -> list[dict[str, Any]]:
    """The questions to show, with the kit's evidence, anchors and follow-up and my answers, scrubbed.

    A scorecard's own copy decides which questions (the kit it started with); the kit of the grading it
    scored fills in the rest (evidence and follow-ups are not copied)."""
    details = {q.id: q for q in kit.questions} if kit is not None else {}
    rows = []
    for snap in card.questions if card is not None else cards.kit_questions(kit):
        q = details.get(snap["id"])
        answer = (card.answers.get(snap["id"]) or {}) if card is not None else {}
        anchors = ([(a.score, a.label, scrub(a.text)) for a in q.anchors] if q is not None
                   else [(int(n), "", scrub(text)) for n, text in sorted(snap.get("anchors", {}).items())])
        rows.append({"id": snap["id"], "title": scrub(snap["title"]), "probes": snap.get("probes", []),
                     "text": scrub(q.text if q is not None else snap.get("text", "")),
                     "evidence": [(e.name, scrub(e.value)) for e in q.evidence] if q is not None else [],
                     "anchors": anchors, "score": answer.get("score"), "notes": answer.get("notes", ""),
                     "follow_up": (q.follow_up.title, scrub(q.follow_up.ask), scrub(q.follow_up.strong))
                     if q is not None else None})
    return rows


def review_context(settings: WebSettings, session: Session, invite: Invite, me: Recruiter) -> dict[str, Any]:
    """What the review page shows `me` of the invite, blind where it must be (shared with the API)."""
    card = cards.own_card(session, invite, me)
    blind = is_blind(invite, me, card)
    scored = cards.source_of(settings, session, card, invite)
    upload, view = _submission(settings, session, scored.result.job_id if scored.result else None)
    authors = [c.author for c in view.commits] if view else []
    emails = [c.email for c in view.commits] if view else []
    scrub = scrubber(invite, blind=blind, replacement=REDACTED, names=authors, emails=emails)
    counted = cards.counted_source(settings, invite).result
    others = [c for c in cards.visible_cards(session, invite, me) if c.interviewer_id != me.id]
    return {"invite": invite, "card": card, "blind": blind, "kit": scored.kit, "result": scored.result,
            "rows": kit_rows(card, scored.kit, scrub),
            "who": shown_identity(invite, blind=blind, secret_key=settings.secret_key),
            "pseudonym": pseudonym(settings.secret_key, invite.id), "scrub": scrub, "view": view,
            "upload": upload, "upload_name": upload_label(upload.filename, upload.id, blind=blind) if upload else None,
            "stale": card is not None and counted is not None and card.result_id != counted.id,
            "others": others, "recommendations": cards.RECOMMENDATIONS, "status": status_of(card)}


def _invite(session: Session, invite_id: int, me: Recruiter) -> Invite:
    try:
        return cards.review_invite(session, invite_id, me)
    except NotFound as exc:
        raise PageNotFound(str(exc)) from exc


def _page(request: Request, session: Session, invite: Invite, me: Recruiter, status_code: int = 200,
          **extra: Any) -> HTMLResponse:
    return render(request, "reviewer/review.html", status_code=status_code,
                  message=request.session.pop("flash", None),
                  **review_context(request.app.state.settings, session, invite, me), **extra)


@router.get("/reviews/{invite_id}", response_class=HTMLResponse)
def review_page(request: Request, invite_id: int = _id(), me: Recruiter = Depends(page_interviewer),
                session: Session = Depends(db)) -> HTMLResponse:
    return _page(request, session, _invite(session, invite_id, me), me)


def answers_from_form(form: FormData, questions: list[dict[str, Any]]) -> dict[str, tuple[int | None, str]]:
    """score:<question id> (1-4, or empty) and notes:<question id> of every question of the kit."""
    out: dict[str, tuple[int | None, str]] = {}
    for q in questions:
        raw, notes = form.get(f"score:{q['id']}"), form.get(f"notes:{q['id']}")
        score = int(raw) if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) == 1 else None
        out[q["id"]] = (score, notes if isinstance(notes, str) else "")
    return out


@router.post("/reviews/{invite_id}/scorecard", dependencies=[Depends(require_csrf)])
def save_scorecard(request: Request, invite_id: int = _id(), form: FormData = Depends(form_fields),
                   me: Recruiter = Depends(page_interviewer), session: Session = Depends(db)) -> Response:
    invite = _invite(session, invite_id, me)
    settings = request.app.state.settings
    card = cards.own_card(session, invite, me)
    # a draft answers the questions it copied; a first save, those of the kit that counts now
    questions = card.questions if card is not None else cards.kit_questions(cards.counted_source(settings,
                                                                                                 invite).kit)
    rec = form.get("recommendation")
    summary = form.get("summary")
    try:
        cards.save_draft(session, settings, invite, me, answers=answers_from_form(form, questions),
                         recommendation=rec if isinstance(rec, str) and rec else None,
                         summary=summary if isinstance(summary, str) else "")
    except UsageError as exc:
        session.rollback()
        return _page(request, session, invite, me, status_code=400, error=str(exc))
    session.commit()
    if form.get("action") == "submit":
        try:
            cards.submit(session, invite, me, client=client_of(request), settings=request.app.state.settings)
        except UsageError as exc:
            session.rollback()
            return _page(request, session, invite, me, status_code=400, error=f"draft saved, not submitted: {exc}")
        session.commit()
        request.session["flash"] = "scorecard submitted: it is read-only now, and the others' are shown below"
    else:
        request.session["flash"] = "draft saved: only you see it until you submit"
    return RedirectResponse(f"/reviews/{invite.id}", status_code=303)
