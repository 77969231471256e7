"""Blind review (a team setting, off by default): an interviewer of the team sees a stable pseudonym and a
submission scrubbed of identity (file name, git authors, the name in the README) until their own scorecard
is submitted; the recruiters of the invite always see names."""
from __future__ import annotations

import re
from typing import Any

import pytest
from _reviewdata import graded_invite, make_interviewer, post_form
from _webdata import csrf_of
from conftest import PASSWORD, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from harness.store.db import transaction
from harness.store.models import AuditEvent, Team

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")
NAME, EMAIL = "Ana Lucia Pereira", "ana.pereira@example.com"
AUTHOR = ("Lucy Smith-Jones", "lucy.sj@home.example")  # a git author who is not the invite's name
IDENTITY = re.compile(r"\b(ana|lucia|pereira|lucy|smith|jones|lucy\.sj|ana\.pereira)\b", re.IGNORECASE)


def _client(app: Any, email: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    assert log_in(c, email, PASSWORD).status_code == 303
    return c


def _identity(text: str, candidate_id: str) -> list[str]:
    found = IDENTITY.findall(text)
    return found + [s for s in (candidate_id, "ana-pereira-final", "home.example") if s in text]


def test_blind_review_hides_who_the_candidate_is_until_the_scorecard_is_in(app: Any, sessions: Any, settings: Any,
                                                                           logged_in: Any) -> None:
    from harness.web.blind import pseudonym

    with transaction(sessions) as s:
        invite, _, _ = graded_invite(s, settings, NAME, email=EMAIL, author=AUTHOR)
        other, _, _ = graded_invite(s, settings, "Bo Other", email=None, filename="b.zip")
        ivy, jon = make_interviewer(s, "ivy@example.com"), make_interviewer(s, "jon@example.com")
        ids = {"invite": invite.id, "other": other.id, "ivy": ivy.id, "jon": jon.id, "cid": invite.candidate_id}
        team_id = invite.team_id
    for who in ("ivy", "jon"):
        for inv in ("invite", "other"):
            post_form(logged_in, f"/invites/{ids[inv]}", f"/invites/{ids[inv]}/interviewers",
                      {"interviewer_id": str(ids[who])})
    ivy_c, jon_c = _client(app, "ivy@example.com"), _client(app, "jon@example.com")
    url = f"/reviews/{ids['invite']}"
    # off by default: names shown
    teams = logged_in.get("/teams").text
    assert 'data-blind="off"' in teams
    assert NAME in ivy_c.get(url).text and "ana-pereira-final.zip" in ivy_c.get(url).text
    # a recruiter of the team turns it on (audited)
    assert post_form(logged_in, "/teams", f"/teams/{team_id}/blind-review", {"blind_review": "true"}).status_code == 303
    assert 'data-blind="on"' in logged_in.get("/teams").text
    with sessions() as s:
        assert s.get(Team, team_id).blind_review
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "blind_review_on")).one().actor == \
            "admin@example.com"
    alias = pseudonym(settings.secret_key, ids["invite"])
    assert re.fullmatch(r"Candidate [0-9A-F]{4}", alias) and alias != pseudonym(settings.secret_key, ids["other"])
    for client in (ivy_c, jon_c):
        listing, page = client.get("/reviews").text, client.get(url).text
        assert alias in listing and alias in page  # the same pseudonym on every page, for every reviewer
        assert not _identity(listing, ids["cid"]) and not _identity(page, ids["cid"]), _identity(page, ids["cid"])
        assert 'id="blind-note"' in page and "upload " in page and "drift monitor" in page  # scrubbed, not emptied
        assert "[redacted]: support triage" in page  # the README header's name
        assert 'id="q-' in page  # the kit is still there
    # Ivy submits: she sees the name now; Jon, still in draft, does not
    page = ivy_c.get(url).text
    qids = sorted(set(re.findall(r'name="score:([^"]+)"', page)))
    data = {**{f"score:{q}": "2" for q in qids}, "recommendation": "no", "action": "submit"}
    assert ivy_c.post(f"{url}/scorecard", data={"csrf_token": csrf_of(page), **data}).status_code == 303
    after = ivy_c.get(url).text
    assert NAME in after and EMAIL in after and "Lucy Smith-Jones" in after and 'id="blind-note"' not in after
    assert not _identity(jon_c.get(url).text, ids["cid"])
    # the recruiter who owns the invite always sees the name
    for path in (f"/invites/{ids['invite']}", f"/invites/{ids['invite']}/decision"):
        assert NAME in logged_in.get(path).text
    # turned off again: names for everyone
    off = post_form(logged_in, "/teams", f"/teams/{team_id}/blind-review", {"blind_review": "false"})
    assert off.status_code == 303
    assert NAME in jon_c.get(url).text
    ivy_c.close()
    jon_c.close()


def test_only_the_teams_own_recruiters_and_administrators_toggle_it(app: Any, sessions: Any) -> None:
    from harness.web.accounts import create_recruiter

    with transaction(sessions) as s:
        create_recruiter(s, "red@example.com", PASSWORD, teams=["Red"])
        create_recruiter(s, "blue@example.com", PASSWORD, teams=["Blue"])
        make_interviewer(s, "ivy@example.com", team="Red")
        red_id = s.scalar(select(Team.id).where(Team.name == "Red"))
    blue, ivy = _client(app, "blue@example.com"), _client(app, "ivy@example.com")
    assert "Red" not in blue.get("/teams").text
    refused = post_form(blue, "/teams", f"/teams/{red_id}/blind-review", {"blind_review": "true"})
    assert refused.status_code == 404
    assert ivy.post(f"/teams/{red_id}/blind-review", data={"csrf_token": csrf_of(ivy.get("/reviews").text),
                                                           "blind_review": "true"}).status_code == 403
    with sessions() as s:
        assert not s.get(Team, red_id).blind_review
    red = _client(app, "red@example.com")
    assert post_form(red, "/teams", f"/teams/{red_id}/blind-review", {"blind_review": "true"}).status_code == 303
    with sessions() as s:
        assert s.get(Team, red_id).blind_review
    for c in (blue, ivy, red):
        c.close()
