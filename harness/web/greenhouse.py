"""Greenhouse's Assessment Partner API, our side: Greenhouse calls these (mounted at settings.greenhouse_path).

Written from Greenhouse's documentation, https://developers.greenhouse.io/assessment.html (its source:
github.com/grnhse/greenhouse-api-docs, source/includes/assessment/). What it says:

- Auth: every call is HTTP Basic over HTTPS; "that API key as the username ... Greenhouse will append a
  : (colon) to the API token and then Base64 encode" (an empty password). One org-level key per customer;
  keys "fewer than 171 characters". Errors: 401 "Unsuccessful authentication with the provided API key",
  404 "The requested resource could not be found"; success is any 200-level code. No error body is
  documented: ours is {"detail": "<one line>"}.
- General: properties without a value are `null`; snake_case; Greenhouse may add properties (we ignore them).
- GET list_tests -> a JSON array of {"partner_test_id": String, "partner_test_name": String}.
- POST send_test, JSON body: "partner_test_id"; "candidate": {"first_name", "last_name", "resume_url"
  (optional), "phone_number" (optional), "email", "greenhouse_profile_url"}; "url" (where to send the
  PATCH). The example nests the candidate's fields, the table lists them flat: both are read. The
  partner e-mails the test to `email` and answers {"partner_interview_id": String}.
- PATCH <url> ("Mark Test as Completed"): sent by the partner when the candidate completes the test,
  with the same Basic Authorization; "No parameters are necessary"; the answer is only a status code;
  Greenhouse then calls test_status. (harness.notify.greenhouse sends it.) Polling test_status hourly
  is the deprecated alternative; Greenhouse stops at partner_status "complete" or after 8 weeks.
- GET test_status?partner_interview_id=... -> {"partner_status": String (required; "complete" when the
  results are available, no other value is defined), "partner_profile_url": String (required when
  complete: "URL to the candidate's page on the Test Partner's website"), "partner_score": Number
  (optional), "metadata": a non-nested object of primitive values (optional)}. There is no
  partner_report_url: the profile URL is the link to the report.
- POST response_error: Greenhouse reports our malformed answers: {"api_call", "errors": [String],
  optional "partner_test_id", "partner_test_name", "partner_interview_id", "candidate_email"};
  the answer is {"status": 200}.

Ours: a test is an exercise; a partner interview an invite of the key's team. Before complete,
partner_status is sent, started, submitted or expired. The profile URL is the recruiter's invite page.
Never in an answer: the candidate's link, a held-back detail of the grading.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import ShiftworkError, UsageError
from grader.exercise import list_exercises, load_exercise
from harness.notify.mail import queue_invite_link
from harness.store.audit import audit
from harness.store.models import Invite, JobState, PartnerInterview, PartnerKey, utcnow
from harness.store.timeline import counted_job
from harness.web.auth import client_of, db
from harness.web.greenhouse_models import (PartnerTest, Primitive, ResponseErrorIn, ResponseErrorOut, SendTestIn,
                                           SendTestOut, StatusOut)
from harness.web.invites import create_invites, one_line, spec_from_form
from harness.web.partner_keys import key_for
from harness.web.views import public_base

log = logging.getLogger(__name__)
REALM = "shiftwork greenhouse"
DEADLINE_DAYS = 7  # send_test carries no deadline: the candidate gets a week
_basic = HTTPBasic(auto_error=False, realm=REALM,
                   description="A partner key (`shiftwork admin partner-key`) as the username, no password")
_REFUSED = "a valid partner key is required (HTTP Basic: the key as the username, an empty password)"


def _no_store(response: Response) -> None:
    # Answers name candidates and are per key: no cache keeps them.
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(tags=["Greenhouse assessment partner"], dependencies=[Depends(_no_store)],
                   responses={401: {"description": _REFUSED}})


def partner_key(creds: HTTPBasicCredentials | None = Depends(_basic), session: Session = Depends(db)) -> PartnerKey:
    """The active key the call is made with (its team is the organisation); 401 otherwise. The password
    is not looked at: Greenhouse sends none."""
    key = key_for(session, creds.username) if creds is not None else None
    if key is None:
        raise HTTPException(status_code=401, detail=_REFUSED, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
    key.last_used_at = utcnow()
    session.commit()
    return key


def _refuse(session: Session, status: int, reason: str) -> HTTPException:
    session.rollback()
    return HTTPException(status_code=status, detail=reason)


def _title(exercise: str) -> str:
    try:
        return load_exercise(exercise).title
    except ShiftworkError:  # a broken exercise.toml still lists, under its id
        return exercise


@router.get("/list_tests", response_model=list[PartnerTest], summary="The tests: every exercise")
def list_tests(key: PartnerKey = Depends(partner_key)) -> list[PartnerTest]:
    return [PartnerTest(partner_test_id=ex, partner_test_name=_title(ex)) for ex in list_exercises()]


_SEND_TEST_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["partner_test_id", "candidate"],
    "properties": {"partner_test_id": {"type": "string"}, "url": {"type": "string"},
                   "candidate": {"type": "object", "required": ["email"],
                                 "properties": {k: {"type": "string"} for k in (
                                     "first_name", "last_name", "email", "resume_url", "phone_number",
                                     "greenhouse_profile_url")}}}}}}}}


@router.post("/send_test", response_model=SendTestOut, openapi_extra=_SEND_TEST_BODY,
             responses={400: {"description": "a field is missing or wrong"}, 404: {"description": "no such test"},
                        503: {"description": "this server sends no e-mail, so the test could not reach anyone"}},
             summary="Invite the candidate to the test: the link goes out by e-mail")
def send_test(request: Request, payload: Any = Body(None), key: PartnerKey = Depends(partner_key),
              session: Session = Depends(db)) -> SendTestOut:
    try:
        body = SendTestIn.model_validate(payload)
    except ValidationError as exc:
        raise _refuse(session, 400, one_line(exc)) from None
    if body.partner_test_id not in list_exercises():
        raise _refuse(session, 404, f"no test {body.partner_test_id[:100]!r} (list_tests names them)")
    settings = request.app.state.settings
    deadline = (utcnow() + dt.timedelta(days=DEADLINE_DAYS)).isoformat(timespec="seconds")
    try:
        spec = spec_from_form(candidate_name=body.candidate.full_name, email=body.candidate.email,
                              exercise=body.partner_test_id, deadline=deadline, team=key.team.name)
        created = create_invites(session, [spec], by=None, base_url=public_base(request),
                                 client=client_of(request))[0]
    except UsageError as exc:
        raise _refuse(session, 400, str(exc)) from None
    # The link goes only into the (sealed) e-mail: never into the answer. No e-mail, no invite: an invite
    # nobody receives would wait in Greenhouse for weeks.
    if queue_invite_link(session, settings, created.invite, created.link) is None:
        raise _refuse(session, 503, "this server sends no e-mail (no SMTP server is set), so the test "
                                    "cannot reach the candidate: its administrator sets one (`serve --smtp-host`)")
    interview = PartnerInterview(partner_interview_id=secrets.token_hex(16), key_id=key.id,
                                 invite_id=created.invite.id, test_id=body.partner_test_id,
                                 callback_url=body.url or "", created_at=utcnow())
    session.add(interview)
    audit(session, "greenhouse_send_test", actor=f"partner key {key.id}", target=f"invite {created.invite.id}",
          detail=f"test {body.partner_test_id}, partner interview {interview.partner_interview_id}, team "
                 f"{key.team.name}" + ("" if body.url else ", no callback URL"), client=client_of(request))
    session.commit()
    log.info("Greenhouse (partner key %d) sent test %s: invite %d", key.id, body.partner_test_id, created.invite.id)
    return SendTestOut(partner_interview_id=interview.partner_interview_id)


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def partner_status(invite: Invite, now: dt.datetime) -> str:
    """complete once the grading that counts is graded (a report exists, whatever its score); before:
    sent, started (opened), submitted (uploaded: queued, grading, or a grading to rerun), expired."""
    job = counted_job(invite)
    if job is not None and job.state == JobState.graded:
        return "complete"
    if invite.uploads:
        return "submitted"
    if invite.disabled_at is not None or invite.deadline <= now:
        return "expired"
    return "started" if invite.opened_at is not None else "sent"


def status_of(invite: Invite, profile_url: str, now: dt.datetime) -> StatusOut:
    status = partner_status(invite, now)
    job = counted_job(invite) if status == "complete" else None
    result = job.final if job is not None else None
    metadata: dict[str, Primitive] = {"Exercise": _title(invite.exercise), "Deadline": _time(invite.deadline)}
    if invite.uploads:
        metadata["Submitted At"] = _time(invite.uploads[-1].created_at)
    if job is not None and result is not None:
        metadata["Graded At"] = _time(job.finished_at)
        metadata["Result"] = result.status  # graded, or why it could not be (e.g. build_failed)
    score = round(result.score, 1) if result is not None and result.score is not None else None
    return StatusOut(partner_status=status, partner_profile_url=profile_url, partner_score=score,
                     metadata={k: v for k, v in metadata.items() if v is not None})


@router.get("/test_status", response_model=StatusOut, responses={404: {"description": "no such partner interview"}},
            summary="The test's status, score and the link to its report")
def test_status(request: Request, partner_interview_id: str = "", key: PartnerKey = Depends(partner_key),
                session: Session = Depends(db)) -> StatusOut:
    wanted = partner_interview_id.strip()
    if not wanted:
        raise HTTPException(status_code=400, detail="partner_interview_id is required")
    interview = None
    if len(wanted) <= 64 and "\x00" not in wanted:
        # the organisation's own: any key of the team (a rotated key's interviews stay visible), none of another's
        interview = session.scalar(select(PartnerInterview).join(PartnerKey)
                                   .where(PartnerInterview.partner_interview_id == wanted,
                                          PartnerKey.team_id == key.team_id))
    if interview is None:
        raise HTTPException(status_code=404, detail=f"no partner interview {wanted[:64]!r}")
    profile = f"{public_base(request)}/invites/{interview.invite_id}"
    return status_of(interview.invite, profile, utcnow())


@router.post("/response_error", response_model=ResponseErrorOut,
             summary="Greenhouse reports an answer of ours it could not read")
def response_error(request: Request, payload: Any = Body(None), key: PartnerKey = Depends(partner_key),
                   session: Session = Depends(db)) -> ResponseErrorOut:
    try:
        body = ResponseErrorIn.model_validate(payload)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=one_line(exc)) from None
    errors = "; ".join(e[:300] for e in body.errors)[:1500]
    about = f"partner interview {body.partner_interview_id[:64]}" if body.partner_interview_id else ""
    # %r: the text is Greenhouse's, so no line of it can pass for a log line of ours
    log.warning("Greenhouse could not read our %r answer (partner key %d%s): %r", body.api_call, key.id,
                f", {about}" if about else "", errors)
    audit(session, "greenhouse_response_error", actor=f"partner key {key.id}", target=about,
          detail=f"{body.api_call}: {errors}", client=client_of(request))
    session.commit()
    return ResponseErrorOut()
