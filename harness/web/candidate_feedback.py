"""/i/<token>/feedback: the candidate's feedback, once the recruiter released it (harness.web.feedback
says what it holds: public words only). Before that, or after it is withdrawn, the page is a 404
that looks like any unknown page under the link, so it tells nothing."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from grader.report.model import Report
from harness.store.models import Result
from harness.store.timeline import counted_job
from harness.web.feedback import build_feedback
from harness.web.links import Refused, load_invite, page, refusal, settings_of
from harness.web.reports import load_report

router = APIRouter()


@router.get("/i/{token}/feedback", include_in_schema=False)
def candidate_feedback(request: Request, token: str) -> Response:
    settings = settings_of(request)
    try:
        with request.app.state.sessions() as session:
            invite = load_invite(session, token)
            if invite.feedback_released_at is None:
                raise Refused(404, "not found")
            job = counted_job(invite)
            result: Result | None = job.final if job is not None else None
            report: Report | None = load_report(settings, result)
            feedback = build_feedback(invite, result, report)
            title = invite.exercise
    except Refused as exc:
        return refusal(request, exc)
    return page("candidate/feedback.html", feedback=feedback, title=title, token=token)
