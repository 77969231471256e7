"""Interviewers and scorecards through the pages (TestClient), on SQLite and PostgreSQL: assignment, the
kit page, draft then submit, independence (no other scorecard before one's own is in, never another's
draft), what a scorecard keeps of the kit it scored, and an interviewer kept off every recruiter route."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from _reviewdata import fixture_report, graded_invite, make_interviewer, post_form
from _webdata import add_graded_job, add_upload, csrf_of, make_report, route_table
from conftest import PASSWORD, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from harness.store.db import transaction
from harness.store.models import AuditEvent, Scorecard

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")
NAME = "Ana Lucia Pereira"


def _client(app: Any, email: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    assert log_in(c, email, PASSWORD).status_code == 303
    return c


@pytest.fixture
def world(app: Any, sessions: Any, settings: Any, logged_in: Any) -> Iterator[dict[str, Any]]:
    """An invite graded with a kit; interviewers Ivy and Jon of its team, Kim of another team."""
    with transaction(sessions) as s:
        invite, job, link = graded_invite(s, settings, NAME)
        ivy = make_interviewer(s, "ivy@example.com")
        jon = make_interviewer(s, "jon@example.com")
        kim = make_interviewer(s, "kim@example.com", team="Elsewhere")
        ids = {"invite": invite.id, "job": job.id, "ivy": ivy.id, "jon": jon.id, "kim": kim.id}
    clients = {who: _client(app, f"{who}@example.com") for who in ("ivy", "jon", "kim")}
    yield {"ids": ids, "recruiter": logged_in, **clients}
    for c in clients.values():
        c.close()


def _assign(recruiter: Any, invite_id: int, interviewer_id: int) -> Any:
    return post_form(recruiter, f"/invites/{invite_id}", f"/invites/{invite_id}/interviewers",
                     {"interviewer_id": str(interviewer_id)})


def _scores(page: str) -> dict[str, Any]:
    """Every question of the kit form answered 3, with a note."""
    import re

    qids = sorted(set(re.findall(r'name="score:([^"]+)"', page)))
    assert qids, "no kit question in the form"
    data: dict[str, Any] = {f"score:{q}": "3" for q in qids}
    data.update({f"notes:{q}": f"note on {q}" for q in qids})
    return data


def _fill(client: Any, invite_id: int, action: str, **extra: Any) -> Any:
    page = client.get(f"/reviews/{invite_id}").text
    data = {**_scores(page), "recommendation": "yes", "summary": "solid", "action": action, **extra}
    return client.post(f"/reviews/{invite_id}/scorecard", data={"csrf_token": csrf_of(page), **data})


def test_an_interviewer_sees_only_what_is_assigned_and_never_a_recruiter_page(world: dict[str, Any], app: Any) -> None:
    ids, recruiter, ivy, kim = world["ids"], world["recruiter"], world["ivy"], world["kim"]
    assert ivy.get("/reviews/%d" % ids["invite"]).status_code == 404  # not assigned yet
    assert NAME not in ivy.get("/reviews").text
    refused = _assign(recruiter, ids["invite"], ids["kim"])  # another team's interviewer cannot be assigned
    assert refused.status_code == 303
    assert "not an interviewer of team" in recruiter.get(f"/invites/{ids['invite']}").text
    assert _assign(recruiter, ids["invite"], ids["ivy"]).status_code == 303
    invite_page = recruiter.get(f"/invites/{ids['invite']}").text
    assert 'data-email="ivy@example.com"' in invite_page and "not started" in invite_page
    listing = ivy.get("/reviews").text
    assert NAME in listing and f'href="/reviews/{ids["invite"]}"' in listing  # blind review is off by default
    page = ivy.get(f"/reviews/{ids['invite']}")
    assert page.status_code == 200
    kit = fixture_report().interview_kit
    assert kit is not None
    for q in kit.questions:  # the questions, their evidence, anchors and follow-ups from report.json's kit
        assert f'id="q-{q.id}"' in page.text
        assert q.follow_up.title in page.text
    first = kit.questions[0]
    assert first.anchors[3].text.split(",")[0].replace("'", "&#39;") in page.text
    assert first.evidence[0].value in page.text
    assert kim.get(f"/reviews/{ids['invite']}").status_code == 404 and NAME not in kim.get("/reviews").text
    # every recruiter route: a page sends the interviewer to /reviews, anything else is refused
    for path, methods in route_table(app):
        if path.startswith(("/i/", "/reviews", "/api/", "/login", "/logout", "/openapi", "/greenhouse/")):
            continue
        url = (path.replace("{invite_id}", str(ids["invite"])).replace("{job_id}", str(ids["job"]))
               .replace("{upload_id}", "1").replace("{kind}", "json").replace("{exercise}", "support-triage")
               .replace("{recruiter_id}", "1").replace("{team_id}", "1"))
        for method in sorted(methods - {"HEAD"}):
            r = ivy.request(method, url, data={"csrf_token": csrf_of(page.text)} if method == "POST" else None)
            expected = {"GET": (303, 403), "POST": (403,)}[method]
            assert r.status_code in expected, (method, url, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"] == "/reviews", url
            assert NAME not in r.text, url
    # and a recruiter has no reviews of their own: the review pages are an interviewer's
    assert recruiter.get(f"/reviews/{ids['invite']}").status_code == 404


def test_draft_then_submit_and_the_others_hidden_until_then(world: dict[str, Any], sessions: Any) -> None:
    ids, recruiter, ivy, jon = world["ids"], world["recruiter"], world["ivy"], world["jon"]
    for who in ("ivy", "jon"):
        assert _assign(recruiter, ids["invite"], ids[who]).status_code == 303
    url = f"/reviews/{ids['invite']}"
    saved = _fill(ivy, ids["invite"], "save", summary="Ivy's private draft")
    assert saved.status_code == 303
    page = ivy.get(url).text
    assert 'data-status="draft"' in page and "Ivy&#39;s private draft" in page and 'id="others-hidden"' in page
    # Jon sees nothing of Ivy's draft, before and after submitting his own (drafts are their writer's)
    assert "Ivy&#39;s private draft" not in jon.get(url).text
    incomplete = jon.post(f"{url}/scorecard", data={"csrf_token": csrf_of(jon.get(url).text), "action": "submit",
                                                    "recommendation": "no"})
    assert incomplete.status_code == 400 and "score every question" in incomplete.text
    form = jon.get(url).text
    assert _fill(jon, ids["invite"], "submit", summary="Jon's verdict").status_code == 303
    jon_page = jon.get(url).text
    assert 'data-status="submitted"' in jon_page and "Ivy&#39;s private draft" not in jon_page
    assert 'id="no-others"' in jon_page and 'name="score:' not in jon_page  # read-only now
    # Ivy, still in draft, does not see Jon's submitted scorecard
    assert "Jon&#39;s verdict" not in ivy.get(url).text
    again = jon.post(f"{url}/scorecard", data={"csrf_token": csrf_of(form), **_scores(form), "action": "save",
                                               "recommendation": "no", "summary": "changed my mind"})
    assert again.status_code == 400 and "read-only" in again.text and "changed my mind" not in jon.get(url).text
    assert _fill(ivy, ids["invite"], "submit", summary="Ivy's verdict").status_code == 303
    both = ivy.get(url).text
    assert "Jon&#39;s verdict" in both and 'data-interviewer="jon@example.com"' in both
    assert "Ivy&#39;s verdict" in jon.get(url).text
    with sessions() as s:
        cards = list(s.scalars(select(Scorecard).order_by(Scorecard.id)))
        assert [c.summary for c in cards] == ["Ivy's verdict", "Jon's verdict"]
        assert all(c.submitted_at is not None for c in cards)
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "scorecard_submitted")).all()
        assert sorted(a.actor for a in audited) == ["ivy@example.com", "jon@example.com"]


def test_a_scorecard_keeps_the_kit_it_scored_through_a_regrade(world: dict[str, Any], sessions: Any,
                                                                settings: Any) -> None:
    ids, recruiter, ivy = world["ids"], world["recruiter"], world["ivy"]
    _assign(recruiter, ids["invite"], ids["ivy"])
    assert _fill(ivy, ids["invite"], "submit").status_code == 303
    kit = fixture_report().interview_kit
    assert kit is not None
    with sessions() as s:
        card = s.scalars(select(Scorecard)).one()
        before = (card.kit_version, card.templates_sha, card.job_id, card.result_id, card.questions, card.answers)
        assert card.kit_version == kit.kit_version and card.templates_sha == kit.templates_sha
        assert card.job_id == ids["job"] and [q["id"] for q in card.questions] == [q.id for q in kit.questions]
    # a regrade with another kit (another run's report) now counts: the scorecard is untouched
    other = fixture_report("support-triage-robust-demo")
    with transaction(sessions) as s:
        from harness.store.models import Invite

        invite = s.get(Invite, ids["invite"])
        upload = add_upload(s, settings, invite, b"second upload", filename="second.zip")
        newer = add_graded_job(s, settings, invite, upload, other)
        newer_id = newer.id
    with sessions() as s:
        card = s.scalars(select(Scorecard)).one()
        assert (card.kit_version, card.templates_sha, card.job_id, card.result_id, card.questions,
                card.answers) == before
    page = ivy.get(f"/reviews/{ids['invite']}").text
    assert 'id="stale-note"' in page and f"job {ids['job']}" in page
    decision = recruiter.get(f"/invites/{ids['invite']}/decision").text
    assert f"scored job {ids['job']}" in decision and f"job {newer_id}" in decision


def test_the_decision_page_and_a_decision_with_its_reason(world: dict[str, Any], sessions: Any) -> None:
    ids, recruiter, ivy, jon = world["ids"], world["recruiter"], world["ivy"], world["jon"]
    for who in ("ivy", "jon"):
        _assign(recruiter, ids["invite"], ids[who])
    assert _fill(ivy, ids["invite"], "submit").status_code == 303
    page = jon.get(f"/reviews/{ids['invite']}").text
    data = _scores(page)
    first = next(iter(k for k in data if k.startswith("score:")))
    data[first] = "1"  # Jon disagrees on the first question by two points
    r = jon.post(f"/reviews/{ids['invite']}/scorecard",
                 data={"csrf_token": csrf_of(page), **data, "recommendation": "strong_no", "action": "submit"})
    assert r.status_code == 303
    url = f"/invites/{ids['invite']}/decision"
    decision = recruiter.get(url).text
    report = fixture_report()
    assert f"{report.score:.1f}" in decision  # the automatic grade
    assert decision.count('class="scorecard"') == 2
    assert f'data-question="{first.removeprefix("score:")}" data-range="2"' in decision
    assert 'data-range="0"' in decision and 'data-recommendation="strong no">1<' in decision
    empty = post_form(recruiter, url, url, {"outcome": "advance", "reason": "  "})
    assert empty.status_code == 400 and "needs a reason" in empty.text
    made = post_form(recruiter, url, url, {"outcome": "hold", "reason": "split on the drift question; one more call"})
    assert made.status_code == 303
    shown = recruiter.get(url).text
    assert 'data-outcome="hold"' in shown and "split on the drift question; one more call" in shown
    admin = recruiter.get("/admin").text
    assert 'data-action="decision_recorded"' in admin and "hold: split on the drift question" in admin
    assert 'id="invite-decision" data-outcome="hold"' in recruiter.get(f"/invites/{ids['invite']}").text


def test_every_new_form_refuses_a_missing_or_forged_token(world: dict[str, Any]) -> None:
    ids, recruiter, ivy = world["ids"], world["recruiter"], world["ivy"]
    _assign(recruiter, ids["invite"], ids["ivy"])
    inv = ids["invite"]
    for client, path in ((recruiter, f"/invites/{inv}/decision"), (recruiter, f"/invites/{inv}/interviewers"),
                         (recruiter, f"/invites/{inv}/interviewers/remove"), (recruiter, f"/invites/{inv}/feedback"),
                         (recruiter, "/teams/1/blind-review"), (recruiter, "/admin/interviewers"),
                         (ivy, f"/reviews/{inv}/scorecard")):
        for token in (None, "forged"):
            data = {"outcome": "hold", "reason": "r", "interviewer_id": str(ids["ivy"]), "release": "true",
                    "blind_review": "true", "action": "save", **({"csrf_token": token} if token else {})}
            assert client.post(path, data=data).status_code == 403, (path, token)


def test_a_report_without_a_kit_still_takes_a_recommendation(app: Any, sessions: Any, settings: Any,
                                                              logged_in: Any) -> None:
    with transaction(sessions) as s:
        invite, _, _ = graded_invite(s, settings, "Bo Old", report=make_report({"validation": 70.0}))
        ivy = make_interviewer(s, "ivy@example.com")
        ids = (invite.id, ivy.id)
    _assign(logged_in, ids[0], ids[1])
    ivy_client = _client(app, "ivy@example.com")
    page = ivy_client.get(f"/reviews/{ids[0]}").text
    assert 'id="no-kit"' in page
    r = ivy_client.post(f"/reviews/{ids[0]}/scorecard", data={"csrf_token": csrf_of(page), "action": "submit",
                                                              "recommendation": "yes"})
    assert r.status_code == 303
    assert 'data-recommendation="yes"' in logged_in.get(f"/invites/{ids[0]}/decision").text
    ivy_client.close()
