"""The JSON API (/api/v1) for applicant-tracking systems: what the recruiter pages do, with a token.

Every route needs `Authorization: Bearer swt_...` (from `shiftwork admin token EMAIL`); the
work is done by the same service modules as the pages (harness.web.invites, cohort, reports).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.orm import Session

from grader.errors import UsageError
from grader.exercise import list_exercises
from grader.report.model import Report
from harness.store.models import Invite, Recruiter
from harness.web import invite_changes as changes
from harness.web import invites as svc
from harness.web.api_models import (
    CohortOut,
    CohortRowOut,
    CountIn,
    DeadlineIn,
    InviteCreated,
    InviteDetail,
    InviteOut,
    InvitesIn,
    JobOut,
    Problem,
    ReissueIn,
    ShowScoreIn,
    utc,
)
from harness.web.auth import api_recruiter, client_of, db
from harness.web.cohort import cohort_rows
from harness.web.invites import InviteIn
from harness.web.params import path_id as _id
from harness.web.reports import inside, latest_result, report_file
from harness.web.views import public_base

log = logging.getLogger(__name__)
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": Problem, "description": "refused, with a one-line reason "
                                                   "(or a body that is not JSON)"},
                                            401: {"model": Problem, "description": "no valid API token"},
                                            404: {"model": Problem, "description": "no such invite, job or file"}}
router = APIRouter(dependencies=[Depends(api_recruiter)], responses=_ERRORS, tags=["recruiter API"])
T = TypeVar("T")



def _invite(session: Session, invite_id: int, me: Recruiter) -> Invite:
    try:
        return svc.get_invite(session, invite_id, viewer=me)
    except svc.NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


def _committed(session: Session, change: Callable[[], T]) -> T:
    """Make one change and commit it; a refused one (UsageError) rolls back and answers 400 with its reason."""
    try:
        out = change()
    except UsageError as exc:
        session.rollback()
        raise HTTPException(status_code=400, detail=str(exc)) from None
    session.commit()
    return out


def _create(request: Request, session: Session, specs: list[InviteIn], me: Recruiter) -> list[InviteCreated]:
    created = _committed(session, lambda: svc.create_invites(session, specs, by=me, client=client_of(request),
                                                             base_url=public_base(request),
                                                             settings=request.app.state.settings))
    return [_created(c) for c in created]


def _created(c: svc.Created) -> InviteCreated:
    return InviteCreated(**InviteOut.of(c.invite).model_dump(), link=c.link, email_queued=c.emailed,
                         email_note=c.email_note or None)


@router.get("/exercises", response_model=list[str], summary="The exercises invites can name")
def exercises() -> list[str]:
    return list_exercises()


@router.get("/invites", response_model=list[InviteOut], summary="Every invite, newest first")
def list_invites(exercise: str | None = None, session: Session = Depends(db),
                 me: Recruiter = Depends(api_recruiter)) -> list[InviteOut]:
    if exercise is not None and exercise not in list_exercises():
        return []  # and no query: an arbitrary string (a NUL, say) never reaches the database
    return [InviteOut.of(i) for i in svc.list_invites(session, exercise, viewer=me)]


@router.post("/invites", response_model=InviteCreated, status_code=201,
             summary="Create an invite; the response carries its link (shown this once)")
def create_invite(spec: InviteIn, request: Request, session: Session = Depends(db),
                  me: Recruiter = Depends(api_recruiter)) -> InviteCreated:
    return _create(request, session, [spec], me)[0]


@router.post("/invites/bulk", response_model=list[InviteCreated], status_code=201,
             summary="Create many invites: all of them, or none")
def create_invites(body: InvitesIn, request: Request, session: Session = Depends(db),
                   me: Recruiter = Depends(api_recruiter)) -> list[InviteCreated]:
    return _create(request, session, body.invites, me)


@router.get("/invites/{invite_id}", response_model=InviteDetail,
            summary="An invite with its state, timeline, uploads, jobs and results")
def get_invite(invite_id: int = _id(), session: Session = Depends(db),
               me: Recruiter = Depends(api_recruiter)) -> InviteDetail:
    return InviteDetail.of(_invite(session, invite_id, me))


@router.post("/invites/{invite_id}/disable", response_model=InviteOut, summary="Disable the invite's link")
def disable(request: Request, invite_id: int = _id(), session: Session = Depends(db),
            me: Recruiter = Depends(api_recruiter)) -> InviteOut:
    invite = _invite(session, invite_id, me)
    changes.disable(session, invite, by=me, client=client_of(request))
    session.commit()
    return InviteOut.of(invite)


@router.post("/invites/{invite_id}/extend", response_model=InviteOut, summary="Set a new deadline")
def extend(body: DeadlineIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
           me: Recruiter = Depends(api_recruiter)) -> InviteOut:
    invite = _invite(session, invite_id, me)
    _committed(session, lambda: changes.extend(session, invite, body.deadline, by=me, client=client_of(request),
                                               settings=request.app.state.settings))
    return InviteOut.of(invite)


@router.post("/invites/{invite_id}/show-score", response_model=InviteOut,
             summary="Show the score to the candidate, or hide it")
def show_score(body: ShowScoreIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
               me: Recruiter = Depends(api_recruiter)) -> InviteOut:
    invite = _invite(session, invite_id, me)
    changes.set_show_score(session, invite, body.show_score, by=me, client=client_of(request))
    session.commit()
    return InviteOut.of(invite)


@router.post("/invites/{invite_id}/reissue", response_model=InviteCreated,
             summary="A new link for the invite (shown this once); the old link stops working")
def reissue(request: Request, body: ReissueIn | None = None, invite_id: int = _id(), session: Session = Depends(db),
            me: Recruiter = Depends(api_recruiter)) -> InviteCreated:
    invite = _invite(session, invite_id, me)
    created = changes.reissue(session, invite, by=me, base_url=public_base(request), client=client_of(request))
    if body is not None and body.send_email:
        created = svc.send_link(session, request.app.state.settings, created, reissued=True)
    session.commit()
    return _created(created)


@router.post("/invites/{invite_id}/count", response_model=InviteOut,
             summary="Pick the grading that counts for the invite (its score, status and cohort row)")
def count(body: CountIn, request: Request, invite_id: int = _id(), session: Session = Depends(db),
          me: Recruiter = Depends(api_recruiter)) -> InviteOut:
    invite = _invite(session, invite_id, me)
    _committed(session, lambda: changes.set_counted(session, invite, body.job_id, by=me, client=client_of(request)))
    return InviteOut.of(invite)


@router.post("/invites/{invite_id}/rerun", response_model=JobOut, status_code=201,
             summary="Grade the latest upload again (a new job; earlier results stay)")
def rerun(request: Request, invite_id: int = _id(), session: Session = Depends(db),
          me: Recruiter = Depends(api_recruiter)) -> JobOut:
    invite = _invite(session, invite_id, me)
    job = _committed(session, lambda: changes.rerun(session, invite, by=me, client=client_of(request)))
    svc.send(request.app.state.settings, job.id)
    return JobOut.of(job)


@router.get("/invites/{invite_id}/uploads/{upload_id}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the archive as uploaded"}},
            summary="Download an upload")
def download_upload(request: Request, invite_id: int = _id(), upload_id: int = _id(),
                    session: Session = Depends(db), me: Recruiter = Depends(api_recruiter)) -> FileResponse:
    invite = _invite(session, invite_id, me)
    upload = next((u for u in invite.uploads if u.id == upload_id), None)
    path = inside(request.app.state.settings.storage_root, upload.stored_path) if upload else None
    if upload is None or path is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no upload {upload_id} of invite {invite_id}")
    return FileResponse(path, media_type="application/octet-stream", filename=f"{invite.candidate_id}-{upload.id}.bin")


@router.get("/invites/{invite_id}/jobs/{job_id}/report", response_model=Report,
            summary="A grading's report.json (the newest attempt unless `attempt` is given)")
def report(request: Request, invite_id: int = _id(), job_id: int = _id(), attempt: int | None = None,
           session: Session = Depends(db), me: Recruiter = Depends(api_recruiter)) -> JSONResponse:
    invite = _invite(session, invite_id, me)
    try:
        job = svc.get_job(invite, job_id)
    except svc.NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    result = (next((r for r in job.results if r.attempt == attempt), None) if attempt is not None
              else latest_result(job))
    path = report_file(request.app.state.settings, result, "json")
    if path is None:
        raise HTTPException(status_code=404, detail=f"job {job_id} has no report.json"
                            + (f" (attempt {attempt})" if attempt is not None else ""))
    # The grader's file as written (it is report.json v1); validated so a damaged file is a 404, not garbage.
    try:
        parsed = Report.model_validate_json(path.read_bytes())
    except ValueError:
        raise HTTPException(status_code=404, detail=f"job {job_id}'s report.json is unreadable") from None
    return JSONResponse(parsed.model_dump(mode="json"))


@router.get("/cohort/{exercise}", response_model=CohortOut,
            summary="An exercise's cohort: each invite's newest finished grading, dimension by dimension")
def cohort(exercise: str, session: Session = Depends(db), me: Recruiter = Depends(api_recruiter)) -> CohortOut:
    if exercise not in list_exercises():
        raise HTTPException(status_code=404, detail=f"no exercise {exercise[:60]!r}")
    found = cohort_rows(session, exercise, viewer=me)
    rows = [CohortRowOut(invite_id=r.invite_id, candidate_name=r.candidate_name, candidate_id=r.candidate_id,
                         email=r.email, job_id=r.job_id, status=r.status, score=r.score, dimensions=r.dimensions,
                         reason=r.reason, graded_at=utc(r.graded_at)) for r in found]
    return CohortOut(exercise=exercise, rows=rows)
