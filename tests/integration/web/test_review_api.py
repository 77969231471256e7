"""The hiring workflow's JSON API (/api/v1), on SQLite and PostgreSQL: interviewers and their assignment,
scorecards (PUT a draft, read, delete, submit), blind review, the decision, candidate feedback, teams —
with who may do what (an interviewer's token is refused on the recruiter API; a recruiter's has no
reviews; an interviewer reads no other's draft, no unassigned invite, no name under blind review
before submitting) and the OpenAPI describing all of it."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from _reviewdata import PASSWORD, fixture_report, graded_invite, make_interviewer
from fastapi.testclient import TestClient

from harness.store.db import transaction
from harness.web.accounts import create_api_token

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")
NAME, EMAIL = "Ana Lucia Pereira", "ana.pereira@example.com"


@pytest.fixture
def world(app: Any, sessions: Any, settings: Any, api: Any) -> Iterator[dict[str, Any]]:
    with transaction(sessions) as s:
        invite, job, _ = graded_invite(s, settings, NAME, email=EMAIL)
        ids = {"invite": invite.id, "job": job.id, "team": invite.team_id, "cid": invite.candidate_id}
        for who, team in (("ivy", "Default"), ("jon", "Default"), ("kim", "Elsewhere")):
            ids[who] = make_interviewer(s, f"{who}@example.com", team=team).id
        tokens = {who: create_api_token(s, f"{who}@example.com") for who in ("ivy", "jon", "kim")}
    clients = {who: TestClient(app, headers={"Authorization": f"Bearer {t}"}) for who, t in tokens.items()}
    yield {"ids": ids, "admin": api, **clients}
    for c in clients.values():
        c.close()


def _answers(kit: dict[str, Any], score: int = 3) -> dict[str, Any]:
    return {q["id"]: {"score": score, "notes": f"on {q['id']}"} for q in kit["questions"]}


def test_interviewers_assignment_and_scorecards_end_to_end(world: dict[str, Any], sessions: Any) -> None:
    ids, admin, ivy, jon, kim = world["ids"], world["admin"], world["ivy"], world["jon"], world["kim"]
    inv = ids["invite"]
    listed = admin.get("/api/v1/interviewers").json()
    assert {i["email"] for i in listed} == {"ivy@example.com", "jon@example.com", "kim@example.com"}  # admin: all
    refused = admin.put(f"/api/v1/invites/{inv}/interviewers", json={"interviewer_ids": [ids["ivy"], ids["kim"]]})
    assert refused.status_code == 400 and "not an interviewer of team" in refused.json()["detail"]
    assert admin.get(f"/api/v1/invites/{inv}/interviewers").json() == []  # all or nothing
    assigned = admin.put(f"/api/v1/invites/{inv}/interviewers", json={"interviewer_ids": [ids["ivy"], ids["jon"]]})
    assert assigned.status_code == 200
    assert [(a["interviewer"]["email"], a["scorecard"]) for a in assigned.json()] == [
        ("ivy@example.com", "not started"), ("jon@example.com", "not started")]
    # the interviewer's side
    assert [r["invite_id"] for r in ivy.get("/api/v1/reviews").json()] == [inv]
    assert kim.get("/api/v1/reviews").json() == [] and kim.get(f"/api/v1/reviews/{inv}").status_code == 404
    review = ivy.get(f"/api/v1/reviews/{inv}").json()
    kit = fixture_report().interview_kit
    assert kit is not None and review["kit"]["templates_sha"] == kit.templates_sha
    assert review["candidate"] == {"name": NAME, "email": EMAIL, "candidate_id": ids["cid"], "blind": False}
    assert review["own"] is None and review["others"] == []
    bad = ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": {"no-such-question": {"score": 2}}})
    assert bad.status_code == 400 and "no question" in bad.json()["detail"]
    assert ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": {}, "recommendation": "maybe"}
                   ).status_code == 422
    draft = ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": _answers(review["kit"]),
                                                              "recommendation": "yes", "summary": "Ivy's draft"})
    assert draft.status_code == 200 and draft.json()["status"] == "draft"
    card = draft.json()
    assert (card["kit_version"], card["templates_sha"], card["job_id"]) == (kit.kit_version, kit.templates_sha,
                                                                          ids["job"])
    # nobody else reads a draft: not Jon, not the recruiter's API
    assert "Ivy's draft" not in jon.get(f"/api/v1/reviews/{inv}").text
    assert admin.get(f"/api/v1/invites/{inv}/scorecards").json() == []
    assert ivy.delete(f"/api/v1/reviews/{inv}/scorecard").status_code == 204
    assert ivy.get(f"/api/v1/reviews/{inv}").json()["own"] is None
    assert ivy.post(f"/api/v1/reviews/{inv}/scorecard/submit").status_code == 400  # nothing to submit
    partial = {q["id"]: {"score": 4} for q in review["kit"]["questions"][:2]}
    ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": partial, "recommendation": "strong_yes"})
    unscored = ivy.post(f"/api/v1/reviews/{inv}/scorecard/submit")
    assert unscored.status_code == 400 and "score every question" in unscored.json()["detail"]
    ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": _answers(review["kit"], 4),
                                                      "recommendation": "strong_yes", "summary": "Ivy: strong"})
    submitted = ivy.post(f"/api/v1/reviews/{inv}/scorecard/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": {}}).status_code == 400  # read-only
    assert ivy.delete(f"/api/v1/reviews/{inv}/scorecard").status_code == 400
    assert jon.get(f"/api/v1/reviews/{inv}").json()["others"] == []  # Jon has not submitted
    jon.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": _answers(review["kit"], 2), "recommendation": "no"})
    assert jon.post(f"/api/v1/reviews/{inv}/scorecard/submit").status_code == 200
    others = jon.get(f"/api/v1/reviews/{inv}").json()["others"]
    assert [o["interviewer"] for o in others] == ["ivy@example.com"] and others[0]["summary"] == "Ivy: strong"
    # the recruiter's side: scorecards, the decision page, a decision
    assert len(admin.get(f"/api/v1/invites/{inv}/scorecards").json()) == 2
    page = admin.get(f"/api/v1/invites/{inv}/decision").json()
    assert page["score"] == fixture_report().score and page["status"] == "graded"
    assert page["recommendations"] == {"strong no": 0, "no": 1, "yes": 0, "strong yes": 1}
    assert all(row["range"] == 2 and row["low"] == 2 and row["high"] == 4 for row in page["spread"])
    assert len(page["spread"]) == len(kit.questions) and page["decisions"] == []
    assert admin.post(f"/api/v1/invites/{inv}/decision", json={"outcome": "advance", "reason": ""}
                      ).status_code == 422
    made = admin.post(f"/api/v1/invites/{inv}/decision", json={"outcome": "advance", "reason": "strong on drift"})
    assert made.status_code == 201 and made.json()["decided_by"] == "admin@example.com"
    assert made.json()["score"] == fixture_report().score
    assert admin.get(f"/api/v1/invites/{inv}/decision").json()["decisions"][0]["reason"] == "strong on drift"


def test_an_interviewers_token_has_no_recruiter_api_and_a_recruiters_no_reviews(world: dict[str, Any]) -> None:
    ids, admin, ivy = world["ids"], world["admin"], world["ivy"]
    inv = ids["invite"]
    admin.put(f"/api/v1/invites/{inv}/interviewers", json={"interviewer_ids": [ids["ivy"]]})
    for method, path in (("get", "/api/v1/invites"), ("get", f"/api/v1/invites/{inv}"),
                         ("get", f"/api/v1/invites/{inv}/jobs/{ids['job']}/report"),
                         ("get", f"/api/v1/invites/{inv}/scorecards"), ("get", f"/api/v1/invites/{inv}/decision"),
                         ("post", f"/api/v1/invites/{inv}/disable"), ("get", "/api/v1/interviewers"),
                         ("get", "/api/v1/teams"), ("get", "/api/v1/cohort/support-triage")):
        r = getattr(ivy, method)(path)
        assert r.status_code == 403, (method, path, r.status_code)
        assert NAME not in r.text
    assert admin.get("/api/v1/reviews").status_code == 404
    assert admin.get(f"/api/v1/reviews/{inv}").status_code == 404
    made = ivy.post("/api/v1/interviewers", json={"email": "x@example.com", "password": "long enough pw"})
    assert made.status_code == 403


def test_blind_review_through_the_api(world: dict[str, Any]) -> None:
    ids, admin, ivy = world["ids"], world["admin"], world["ivy"]
    inv = ids["invite"]
    admin.put(f"/api/v1/invites/{inv}/interviewers", json={"interviewer_ids": [ids["ivy"]]})
    assert admin.get("/api/v1/teams").json()[0]["blind_review"] is False  # off by default
    on = admin.put(f"/api/v1/teams/{ids['team']}/blind-review", json={"blind_review": True})
    assert on.status_code == 200 and on.json()["blind_review"] is True
    assert admin.put("/api/v1/teams/999999/blind-review", json={"blind_review": True}).status_code == 404
    for path in ("/api/v1/reviews", f"/api/v1/reviews/{inv}"):
        body = ivy.get(path).text
        for secret in (NAME, "Pereira", EMAIL, ids["cid"], "ana-pereira-final"):
            assert secret not in body, (path, secret)
    review = ivy.get(f"/api/v1/reviews/{inv}").json()
    assert review["candidate"]["blind"] is True and review["candidate"]["name"].startswith("Candidate ")
    assert review["candidate"]["name"] == ivy.get("/api/v1/reviews").json()[0]["candidate"]["name"]  # stable
    ivy.put(f"/api/v1/reviews/{inv}/scorecard", json={"answers": _answers(review["kit"]), "recommendation": "yes"})
    ivy.post(f"/api/v1/reviews/{inv}/scorecard/submit")
    assert ivy.get(f"/api/v1/reviews/{inv}").json()["candidate"]["name"] == NAME
    assert admin.get(f"/api/v1/invites/{inv}/decision").json()["candidate_name"] == NAME


def test_feedback_release_and_interviewer_accounts(world: dict[str, Any], app: Any) -> None:
    ids, admin = world["ids"], world["admin"]
    inv = ids["invite"]
    preview = admin.get(f"/api/v1/invites/{inv}/feedback").json()
    assert preview["released_at"] is None and preview["score"] is None and preview["shown"]
    released = admin.post(f"/api/v1/invites/{inv}/feedback", json={"released": True, "show_score": True}).json()
    assert released["released_at"].endswith("Z") or "+00:00" in released["released_at"]
    assert released["score"] == fixture_report().score
    assert admin.post(f"/api/v1/invites/{inv}/feedback", json={"released": False}).json()["released_at"] is None
    made = admin.post("/api/v1/interviewers", json={"email": "Lee@Example.com", "name": "Lee", "password": PASSWORD,
                                                    "team": "Default"})
    assert made.status_code == 201 and made.json()["email"] == "lee@example.com" and made.json()["teams"] == ["Default"]
    again = admin.post("/api/v1/interviewers", json={"email": "lee@example.com", "password": PASSWORD})
    assert again.status_code == 400 and "exists already" in again.json()["detail"]


def test_the_openapi_describes_the_hiring_api(api: Any) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in (("/api/v1/interviewers", "get"), ("/api/v1/interviewers", "post"), ("/api/v1/teams", "get"),
                         ("/api/v1/teams/{team_id}/blind-review", "put"),
                         ("/api/v1/invites/{invite_id}/interviewers", "put"),
                         ("/api/v1/invites/{invite_id}/scorecards", "get"),
                         ("/api/v1/invites/{invite_id}/decision", "get"),
                         ("/api/v1/invites/{invite_id}/decision", "post"),
                         ("/api/v1/invites/{invite_id}/feedback", "post"), ("/api/v1/reviews", "get"),
                         ("/api/v1/reviews/{invite_id}", "get"), ("/api/v1/reviews/{invite_id}/scorecard", "put"),
                         ("/api/v1/reviews/{invite_id}/scorecard", "delete"),
                         ("/api/v1/reviews/{invite_id}/scorecard/submit", "post")):
        assert method in paths.get(path, {}), (path, method)
    schemas = spec["components"]["schemas"]
    assert {"ScorecardIn", "ScorecardOut", "DecisionIn", "DecisionPageOut", "FeedbackOut", "ReviewOut",
            "InterviewKit"} <= set(schemas)
    assert schemas["DecisionIn"]["properties"]["outcome"]["enum"] == ["advance", "hold", "reject"]
    assert not [p for p in paths if p.startswith(("/reviews", "/teams"))]  # the pages stay out of it
