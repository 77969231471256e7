"""/admin/greenhouse: what an administrator gives Greenhouse (the endpoint URLs and a team's partner
key, shown once), the keys (redacted, revocable) and the recent partner interviews with the state of
their completion callbacks."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.errors import NotFound, UsageError
from harness.store.models import PartnerInterview, PartnerKey, Recruiter
from harness.store.teams import all_teams
from harness.web.auth import admin_recruiter, client_of, db, require_csrf
from harness.web.params import path_id as _id
from harness.web.partner_keys import SHOWN, create_key, list_keys, revoke_key
from harness.web.views import PageNotFound, public_base, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
INTERVIEW_ROWS = 100
ENDPOINTS = ("list_tests", "send_test", "test_status", "response_error")


@router.get("/admin/greenhouse", response_class=HTMLResponse)
def greenhouse_page(request: Request, me: Recruiter = Depends(admin_recruiter),
                    session: Session = Depends(db)) -> HTMLResponse:
    return _page(request, session)


def _page(request: Request, session: Session, status_code: int = 200, **context: object) -> HTMLResponse:
    settings = request.app.state.settings
    base = public_base(request) + settings.greenhouse_path
    interviews = list(session.scalars(select(PartnerInterview)
                                      .options(selectinload(PartnerInterview.invite),
                                               selectinload(PartnerInterview.key).selectinload(PartnerKey.team))
                                      .order_by(PartnerInterview.id.desc()).limit(INTERVIEW_ROWS)))
    return render(request, "admin/greenhouse.html", status_code=status_code,
                  endpoints=[(name, f"{base}/{name}") for name in ENDPOINTS], keys=list_keys(session),
                  shown=SHOWN, teams=[t.name for t in all_teams(session)], interviews=interviews,
                  smtp=settings.smtp, message=request.session.pop("flash", None), **context)


@router.post("/admin/greenhouse/keys", dependencies=[Depends(require_csrf)])
def create(request: Request, team: str = Form(""), name: str = Form(""), me: Recruiter = Depends(admin_recruiter),
           session: Session = Depends(db)) -> Response:
    """A new key, shown in this answer only (the page is no-store); afterwards only its hash and sealed copy."""
    try:
        made = create_key(session, request.app.state.settings, team, name=name, by=me.email,
                          client=client_of(request))
    except UsageError as exc:
        session.rollback()
        return _page(request, session, status_code=400, error=str(exc))
    session.commit()
    return _page(request, session, status_code=201, new_key=made.key, new_key_id=made.row.id,
                 new_key_team=team.strip())


@router.post("/admin/greenhouse/keys/{key_id}/revoke", dependencies=[Depends(require_csrf)])
def revoke(request: Request, key_id: int = _id(), me: Recruiter = Depends(admin_recruiter),
           session: Session = Depends(db)) -> Response:
    try:
        row = revoke_key(session, key_id, by=me.email, client=client_of(request))
    except NotFound as exc:
        raise PageNotFound(str(exc)) from None
    session.commit()
    request.session["flash"] = f"partner key {row.id} of team {row.team.name} revoked: Greenhouse's calls with it " \
                               "are refused from now on"
    return RedirectResponse("/admin/greenhouse", status_code=303)
