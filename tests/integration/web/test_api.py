"""The JSON API (/api/v1) on SQLite and on a real PostgreSQL server (a fresh database per module,
migrations applied from empty): tokens, invites (single and bulk), actions, results, cohort, OpenAPI."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _webdata import add_graded_job, add_upload, make_report, new_invite
from sqlalchemy import func, select

from harness.store.db import transaction
from harness.store.models import ApiToken, Event, Invite, Job, JobState, Result, utcnow
from harness.web.security import hash_token

pytestmark = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True, scope="module")
EX = "support-triage"


def _future(days: int = 10) -> str:
    return (utcnow() + dt.timedelta(days=days)).replace(microsecond=0).isoformat() + "Z"


def _count(sessions: Any, model: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def _graded(sessions: Any, settings: Any, name: str, dims: dict[str, float]) -> tuple[int, int]:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, name)
        upload = add_upload(s, settings, invite, content=name.encode())
        job = add_graded_job(s, settings, invite, upload, make_report(dims, submission=name))
        return invite.id, job.id


ROUTES = [("get", "/api/v1/exercises"), ("get", "/api/v1/invites"), ("post", "/api/v1/invites"),
          ("post", "/api/v1/invites/bulk"), ("get", "/api/v1/invites/1"), ("post", "/api/v1/invites/1/disable"),
          ("post", "/api/v1/invites/1/extend"), ("post", "/api/v1/invites/1/show-score"),
          ("post", "/api/v1/invites/1/rerun"), ("get", "/api/v1/invites/1/uploads/1"),
          ("get", "/api/v1/invites/1/jobs/1/report"), ("get", f"/api/v1/cohort/{EX}")]


def test_every_route_refuses_without_a_valid_token(client: Any, app: Any, sessions: Any, settings: Any,
                                                   api_token: str) -> None:
    from fastapi.testclient import TestClient

    _graded(sessions, settings, "Ana", {"validation": 80})
    with transaction(sessions) as s:
        s.scalars(select(ApiToken)).one()  # the fixture's token exists
    revoked_client = TestClient(app, headers={"Authorization": f"Bearer {api_token}"})
    assert revoked_client.get("/api/v1/invites").status_code == 200  # the control: the token works
    with transaction(sessions) as s:
        s.scalars(select(ApiToken)).one().revoked_at = utcnow()
    headers_cases = [{}, {"Authorization": "Bearer swt_not-a-token"}, {"Authorization": f"Basic {api_token}"},
                     {"Authorization": f"Bearer {api_token}"}]  # the last one: revoked
    for headers in headers_cases:
        for method, path in ROUTES:
            response = getattr(client, method)(path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer" and "Ana" not in response.text
    # A recruiter's page session is not an API credential either.
    assert _count(sessions, Invite) == 1 and _count(sessions, Job) == 1


def test_create_one_invite_returns_its_link_once(api: Any, sessions: Any) -> None:
    response = api.post("/api/v1/invites", json={"candidate_name": "Ana", "email": "ana@example.com",
                                                 "exercise": EX, "deadline": _future(), "show_score": True})
    assert response.status_code == 201
    body = response.json()
    token = body["link"].removeprefix("http://testserver/i/")
    assert body["state"] == "created" and body["show_score"] and body["score"] is None
    assert body["deadline"].endswith("Z")
    with sessions() as s:
        assert s.get(Invite, body["id"]).token_hash == hash_token(token)
    listed = api.get("/api/v1/invites").json()
    assert [i["id"] for i in listed] == [body["id"]] and "link" not in listed[0]
    detail = api.get(f"/api/v1/invites/{body['id']}").json()
    assert [e["kind"] for e in detail["timeline"]] == ["created"] and detail["jobs"] == [] and token not in str(detail)
    assert api.get("/api/v1/exercises").json() == ["credit-default", "load-forecast", "support-triage"]


@pytest.mark.parametrize("change,where", [
    ({"deadline": "2001-01-01"}, "deadline"),
    ({"exercise": "nope"}, "exercise"),
    ({"candidate_name": "Ana\x00"}, "candidate_name"),
    ({"email": "two@@example.com"}, "email"),
    ({"surprise": 1}, "surprise"),
    ({"deadline": "0001-01-01T00:00:00+05:00"}, "deadline"),
])
def test_a_bad_invite_is_a_422_naming_the_field(change: dict[str, Any], where: str, api: Any, sessions: Any) -> None:
    spec = {"candidate_name": "Ana", "exercise": EX, "deadline": _future(), **change}
    response = api.post("/api/v1/invites", json=spec)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == where
    assert _count(sessions, Invite) == 0


def test_bulk_creation_is_all_or_nothing(api: Any, sessions: Any) -> None:
    good = [{"candidate_name": n, "exercise": EX, "deadline": _future()} for n in ("Ana", "Ana", "Bo")]
    bad = good + [{"candidate_name": "Cy", "exercise": EX, "deadline": "1999-12-31"}]
    refused = api.post("/api/v1/invites/bulk", json={"invites": bad})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"][:3] == ["body", "invites", 3]
    assert _count(sessions, Invite) == 0 and _count(sessions, Event) == 0
    created = api.post("/api/v1/invites/bulk", json={"invites": good})
    assert created.status_code == 201
    rows = created.json()
    assert len(rows) == 3 and len({r["link"] for r in rows}) == 3 and len({r["candidate_id"] for r in rows}) == 3
    assert _count(sessions, Invite) == 3
    assert api.post("/api/v1/invites/bulk", json={"invites": []}).status_code == 422


def test_disable_extend_and_show_score(api: Any, sessions: Any) -> None:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, "Ana")
    base = f"/api/v1/invites/{invite.id}"
    assert api.post(base + "/disable").json()["disabled_at"] is not None
    past = api.post(base + "/extend", json={"deadline": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and "in the past" in past.json()["detail"]
    new = (utcnow() + dt.timedelta(days=40)).date().isoformat()
    extended = api.post(base + "/extend", json={"deadline": new})
    assert extended.status_code == 200 and extended.json()["deadline"] == f"{new}T23:59:59Z"
    assert api.post(base + "/show-score", json={"show_score": True}).json()["show_score"] is True
    detail = api.get(base).json()
    assert [e["kind"] for e in detail["timeline"]] == ["created", "disabled", "extended", "show_score"]
    with sessions() as s:
        assert s.get(Invite, invite.id).disabled_at is not None


def test_rerun_keeps_the_earlier_result(api: Any, sessions: Any, settings: Any) -> None:
    invite_id, job_id = _graded(sessions, settings, "Ana", {"validation": 70, "monitoring": 50})
    before = api.get(f"/api/v1/invites/{invite_id}").json()
    assert before["state"] == "graded" and before["score"] == 36.0 and before["status"] == "graded"
    rerun = api.post(f"/api/v1/invites/{invite_id}/rerun")
    assert rerun.status_code == 201
    job = rerun.json()
    assert job["rerun_of"] == job_id and job["state"] == "queued" and job["results"] == []
    after = api.get(f"/api/v1/invites/{invite_id}").json()
    assert after["state"] == "queued" and after["score"] == 36.0  # the newest *finished* grading still counts
    first = next(j for j in after["jobs"] if j["id"] == job_id)
    assert first["state"] == "graded" and first["results"][0]["score"] == 36.0
    assert first["results"][0]["dimensions"]["validation"] == 70.0 and first["results"][0]["has_report"]
    again = api.post(f"/api/v1/invites/{invite_id}/rerun")
    assert again.status_code == 400 and "already" in again.json()["detail"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Result)) == 1
        assert [j.state for j in s.scalars(select(Job).order_by(Job.id))] == [JobState.graded, JobState.queued]


def test_the_report_json_and_the_upload(api: Any, sessions: Any, settings: Any) -> None:
    invite_id, job_id = _graded(sessions, settings, "Ana", {"validation": 100, "accuracy": 50})
    report = api.get(f"/api/v1/invites/{invite_id}/jobs/{job_id}/report")
    assert report.status_code == 200
    body = report.json()
    assert body["report_version"] == 1 and body["score"] == 35.0 and body["submission"] == "Ana"
    assert {c["id"] for c in body["checks"]} >= {"drift_alarm_delay", "no_server_errors"}
    assert api.get(f"/api/v1/invites/{invite_id}/jobs/{job_id}/report?attempt=2").status_code == 404
    assert api.get(f"/api/v1/invites/{invite_id}/jobs/{job_id + 1}/report").status_code == 404
    with sessions() as s:
        upload_id = s.get(Job, job_id).upload_id
    got = api.get(f"/api/v1/invites/{invite_id}/uploads/{upload_id}")
    assert got.status_code == 200 and got.content == b"Ana"


def test_the_cohort_as_json(api: Any, sessions: Any, settings: Any) -> None:
    low, _ = _graded(sessions, settings, "Low", {"validation": 10})
    high, _ = _graded(sessions, settings, "High", {"validation": 90, "operations": 60})
    with transaction(sessions) as s:
        new_invite(s, "Waiting")
    cohort = api.get(f"/api/v1/cohort/{EX}").json()
    assert cohort["exercise"] == EX
    assert [r["invite_id"] for r in cohort["rows"]] == [high, low]
    assert cohort["rows"][0]["dimensions"]["operations"] == 60.0 and cohort["rows"][0]["score"] == 36.0
    assert api.get("/api/v1/cohort/credit-default").json()["rows"] == []
    assert api.get("/api/v1/cohort/nope").status_code == 404


def test_unknown_and_out_of_range_ids(api: Any) -> None:
    assert api.get("/api/v1/invites/12345").status_code == 404
    for path in ("/api/v1/invites/0", f"/api/v1/invites/{2**31}", f"/api/v1/invites/{2**70}",
                 "/api/v1/invites/1/jobs/99999999999/report"):
        assert api.get(path).status_code == 422, path
    assert api.post(f"/api/v1/invites/{2**31 - 1}/disable").status_code == 404


def test_the_openapi_describes_the_api_and_only_the_api(client: Any, api: Any) -> None:
    assert client.get("/openapi.json").status_code == 401  # for signed-in callers only
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {"/api/v1/exercises", "/api/v1/invites", "/api/v1/invites/bulk", "/api/v1/invites/{invite_id}",
                "/api/v1/invites/{invite_id}/disable", "/api/v1/invites/{invite_id}/extend",
                "/api/v1/invites/{invite_id}/show-score", "/api/v1/invites/{invite_id}/rerun",
                "/api/v1/invites/{invite_id}/uploads/{upload_id}", "/api/v1/invites/{invite_id}/jobs/{job_id}/report",
                "/api/v1/cohort/{exercise}"}
    assert expected <= set(paths)
    assert not [p for p in paths if p in ("/", "/login", "/admin") or p.startswith(("/cohort", "/invites"))]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    created = paths["/api/v1/invites"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created["$ref"].endswith("/InviteCreated")
    assert "link" in spec["components"]["schemas"]["InviteCreated"]["properties"]
    assert "401" in paths["/api/v1/invites"]["get"]["responses"]


def test_strings_the_database_cannot_hold_are_refused_not_crashed(api: Any, client: Any, admin_account: Any) -> None:
    # PostgreSQL refuses a NUL in a text parameter with an error; it must never get one.
    assert api.get("/api/v1/invites", params={"exercise": "a\x00b"}).json() == []
    assert api.get("/api/v1/cohort/a%00b").status_code == 404
    from _webdata import csrf_of

    token = csrf_of(client.get("/login").text)
    login = client.post("/login", data={"email": "admin\x00@example.com", "password": "x", "csrf_token": token})
    assert login.status_code == 401 and "wrong e-mail or password" in login.text
