"""Recruiter pages about results: submission downloads, the report page and its files, the cohort
view of an exercise (table, plot, CSV, zip of everything). The admin page is harness.web.admin."""
from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.exercise import DIMENSIONS, list_exercises
from harness.store.models import Invite, Recruiter
from harness.web import invites as svc
from harness.web.auth import db, page_recruiter
from harness.web.cohort import cohort_csv, cohort_plot, cohort_rows, stream_zip, zip_entries
from harness.web.params import path_id as _id
from harness.web.reports import (
    MEDIA_TYPES,
    accuracy_line,
    chart,
    inside,
    latest_result,
    load_anchors,
    load_figures,
    load_report,
    report_file,
    summarize,
    verdict,
)
from harness.web.views import render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)



# The grader's report.html as a document of its own: no scripts, no requests out, no forms.
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"


def _not_found(request: Request, what: str) -> HTMLResponse:
    return render(request, "recruiter/not_found.html", status_code=404, what=what)


def download_name(name: str) -> str:
    """A candidate's file name made safe for a Content-Disposition header."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "download"


@router.get("/invites/{invite_id}/uploads/{upload_id}")
def download_upload(request: Request, invite_id: int = _id(), upload_id: int = _id(),
                    me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    try:
        invite = svc.get_invite(session, invite_id, viewer=me)
    except svc.NotFound:
        invite = None
    upload = next((u for u in invite.uploads if u.id == upload_id), None) if invite else None
    path = inside(request.app.state.settings.storage_root, upload.stored_path) if upload else None
    if upload is None or path is None or not path.is_file():
        return _not_found(request, f"no upload {upload_id} of invite {invite_id}")
    return FileResponse(path, media_type="application/octet-stream",
                        filename=f"{invite.candidate_id}-{upload.id}-{download_name(upload.filename)}")


def _job_result(session: Session, invite_id: int, job_id: int, attempt: int | None,  # type: ignore[no-untyped-def]
                me: Recruiter):
    invite = svc.get_invite(session, invite_id, viewer=me)
    job = svc.get_job(invite, job_id)
    result = (next((r for r in job.results if r.attempt == attempt), None) if attempt is not None
              else latest_result(job))
    if attempt is not None and result is None:
        raise svc.NotFound(f"job {job_id} has no attempt {attempt}")
    return invite, job, result


@router.get("/invites/{invite_id}/jobs/{job_id}/report", response_class=HTMLResponse)
def report_page(request: Request, invite_id: int = _id(), job_id: int = _id(), attempt: int | None = None,
                me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> HTMLResponse:
    try:
        invite, job, result = _job_result(session, invite_id, job_id, attempt, me)
    except svc.NotFound as exc:
        return _not_found(request, str(exc))
    settings = request.app.state.settings
    report = load_report(settings, result)
    files = [k for k in MEDIA_TYPES if report_file(settings, result, k) is not None]
    summary = summarize(report, result)
    anchors = load_anchors(invite.exercise)
    return render(request, "recruiter/report.html", invite=invite, job=job, result=result, report=report,
                  summary=summary, files=files, dimensions=DIMENSIONS, verdict=verdict(summary, anchors),
                  bars=chart(summary, anchors), anchored=anchors is not None,
                  accuracy_explained=accuracy_line(summary.metric), figures=load_figures(settings, result))


@router.get("/invites/{invite_id}/jobs/{job_id}/report.{kind}")
def report_download(request: Request, kind: str, invite_id: int = _id(), job_id: int = _id(),
                    attempt: int | None = None, download: bool = False,
                    me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> Response:
    try:
        invite, job, result = _job_result(session, invite_id, job_id, attempt, me)
    except svc.NotFound as exc:
        return _not_found(request, str(exc))
    path = report_file(request.app.state.settings, result, kind)
    if path is None:
        return _not_found(request, f"job {job_id} has no report.{kind[:10]}")
    response = FileResponse(path, media_type=MEDIA_TYPES[kind],
                            filename=f"{invite.candidate_id}-job{job.id}-report.{kind}" if download else None)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/cohort", response_class=HTMLResponse)
def cohorts(request: Request, me: Recruiter = Depends(page_recruiter), session: Session = Depends(db)) -> HTMLResponse:
    query = select(Invite.exercise, func.count()).group_by(Invite.exercise)
    teams = me.team_ids()
    if teams is not None:
        query = query.where(Invite.team_id.in_(teams))
    counts = dict(session.execute(query).all())
    return render(request, "recruiter/cohorts.html", exercises=[(e, counts.get(e, 0)) for e in list_exercises()])


def _exercise_ok(exercise: str) -> bool:
    return exercise in list_exercises()


@router.get("/cohort/{exercise}.csv")
def cohort_export(request: Request, exercise: str, me: Recruiter = Depends(page_recruiter),
                  session: Session = Depends(db)) -> Response:
    if not _exercise_ok(exercise):
        return _not_found(request, f"no exercise {exercise[:60]!r}")
    return Response(cohort_csv(cohort_rows(session, exercise, viewer=me)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{exercise}-cohort.csv"'})


@router.get("/cohort/{exercise}.png")
def cohort_png(request: Request, exercise: str, me: Recruiter = Depends(page_recruiter),
               session: Session = Depends(db)) -> Response:
    if not _exercise_ok(exercise):
        return _not_found(request, f"no exercise {exercise[:60]!r}")
    return Response(cohort_plot(cohort_rows(session, exercise, viewer=me), exercise), media_type="image/png",
                    headers={"Cache-Control": "no-store"})


@router.get("/cohort/{exercise}.zip")
def cohort_zip(request: Request, exercise: str, me: Recruiter = Depends(page_recruiter),
               session: Session = Depends(db)) -> Response:
    if not _exercise_ok(exercise):
        return _not_found(request, f"no exercise {exercise[:60]!r}")
    entries = zip_entries(request.app.state.settings, cohort_rows(session, exercise, viewer=me))
    return StreamingResponse(stream_zip(entries), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{exercise}-cohort.zip"'})


@router.get("/cohort/{exercise}", response_class=HTMLResponse)
def cohort_page(request: Request, exercise: str, me: Recruiter = Depends(page_recruiter),
                session: Session = Depends(db)) -> HTMLResponse:
    if not _exercise_ok(exercise):
        return _not_found(request, f"no exercise {exercise[:60]!r}")
    return render(request, "recruiter/cohort.html", exercise=exercise, rows=cohort_rows(session, exercise, viewer=me),
                  dimensions=DIMENSIONS)
