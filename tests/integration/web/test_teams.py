"""Teams: a recruiter sees only their teams' invites, uploads, reports and cohorts; an administrator
sees every team's. The test walks the app's route table, so a new route cannot escape it: every route
is either one of an invite's (another team gets 404), a listing (another team's rows never appear),
a team's setting (another team's is a 404), or named here as holding no team's data. An invite's
review routes (/reviews/N, an interviewer's) answer the invite's team's assigned interviewer."""
from __future__ import annotations

import io
import zipfile
from typing import Any, Iterator

import pytest
from _webdata import add_graded_job, add_upload, csrf_of, make_report, new_invite, route_table
from conftest import PASSWORD, log_in
from fastapi.testclient import TestClient

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")
EX = "support-triage"
NAME = "Rosalind Redteam"
NO_TEAM_DATA = {"/login", "/logout", "/admin", "/admin/recruiters/{recruiter_id}/unlock", "/openapi.json",
                "/api/v1/exercises", "/admin/interviewers",
                "/admin/mail", "/admin/mail/test", "/admin/mail/messages/{message_id}/retry",  # admins only
                "/admin/mail/templates/{name}",
                "/admin/greenhouse", "/admin/greenhouse/keys", "/admin/greenhouse/keys/{key_id}/revoke",  # admins only
                # a partner key decides, not an account: its team's scoping is test_greenhouse's
                "/greenhouse/list_tests", "/greenhouse/send_test", "/greenhouse/test_status", "/greenhouse/response_error"}
LISTINGS = {"/", "/invites", "/invites/bulk", "/invites/import", "/cohort", "/cohort/{exercise}",
            "/cohort/{exercise}.csv", "/cohort/{exercise}.png", "/cohort/{exercise}.zip", "/api/v1/invites",
            "/api/v1/invites/bulk", "/api/v1/cohort/{exercise}", "/reviews", "/api/v1/reviews", "/teams",
            "/api/v1/teams", "/api/v1/interviewers"}
TEAM_SETTINGS = {"/teams/{team_id}/blind-review", "/api/v1/teams/{team_id}/blind-review"}
# a team's webhooks: their scoping (another team's gets 404 on pages and API) is test_webhooks's
WEBHOOKS = {"/webhooks", "/webhooks/{sub_id}", "/webhooks/{sub_id}/active", "/webhooks/{sub_id}/delete",
            "/webhooks/{sub_id}/rotate", "/webhook-deliveries/{delivery_id}/redeliver", "/api/v1/webhooks",
            "/api/v1/webhooks/{sub_id}", "/api/v1/webhooks/{sub_id}/deliveries",
            "/api/v1/webhooks/{sub_id}/rotate-secret", "/api/v1/webhook-deliveries/{delivery_id}/redeliver"}
API_BODIES = {"/extend": {"deadline": "2099-01-01"}, "/show-score": {"show_score": True},
              "/interviewers": {"interviewer_ids": []}, "/decision": {"outcome": "hold", "reason": "r"},
              "/feedback": {"released": False}, "/scorecard": {"answers": {}}, "/blind-review": {"blind_review": True}}
WHO = ("red", "blue", "root", "redrev", "bluerev")
REVIEWS = ("/reviews/", "/api/v1/reviews/")  # an interviewer's routes: the assigned one of the team answers


class Member:
    def __init__(self, app: Any, email: str, token: str) -> None:
        self.page = TestClient(app, follow_redirects=False)
        assert log_in(self.page, email, PASSWORD).status_code == 303
        self.api = TestClient(app, follow_redirects=False, headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.page.close()
        self.api.close()


@pytest.fixture
def world(app: Any, sessions: Any, settings: Any) -> Iterator[dict[str, Any]]:
    from harness.store.db import transaction
    from harness.store.models import INTERVIEWER, Assignment
    from harness.store.teams import team_named
    from harness.web.accounts import create_api_token, create_recruiter

    with transaction(sessions) as s:
        create_recruiter(s, "red@example.com", PASSWORD, teams=["Red"])
        create_recruiter(s, "blue@example.com", PASSWORD, teams=["Blue"])
        create_recruiter(s, "root@example.com", PASSWORD, admin=True)
        reviewer = create_recruiter(s, "redrev@example.com", PASSWORD, teams=["Red"], role=INTERVIEWER)
        create_recruiter(s, "bluerev@example.com", PASSWORD, teams=["Blue"], role=INTERVIEWER)
        tokens = {who: create_api_token(s, f"{who}@example.com") for who in WHO}
        invite, _ = new_invite(s, NAME, exercise=EX)
        invite.team_id = team_named(s, "Red").id
        upload = add_upload(s, settings, invite)
        job = add_graded_job(s, settings, invite, upload, make_report({"validation": 80.0}))
        s.add(Assignment(invite_id=invite.id, interviewer_id=reviewer.id))
        ids = {"invite_id": invite.id, "upload_id": upload.id, "job_id": job.id, "candidate_id": invite.candidate_id,
               "team_id": invite.team_id}
    members = {who: Member(app, f"{who}@example.com", tokens[who]) for who in WHO}
    yield {"ids": ids, **members}
    for m in members.values():
        m.close()


def _fill(path: str, ids: dict[str, Any], kind: str = "json") -> str:
    return (path.replace("{invite_id}", str(ids["invite_id"])).replace("{upload_id}", str(ids["upload_id"]))
            .replace("{job_id}", str(ids["job_id"])).replace("{kind}", kind).replace("{exercise}", EX)
            .replace("{team_id}", str(ids["team_id"])).replace("{message_id}", "1"))


def _call(member: Member, method: str, path: str, job_id: int = 1) -> Any:
    if path.startswith("/api/"):
        body = next((b for suffix, b in API_BODIES.items() if path.endswith(suffix)), None)
        if path.endswith("/count"):
            body = {"job_id": job_id}
        return member.api.request(method, path, json=body)
    if method == "POST":
        home = member.page.get("/", follow_redirects=True).text  # an interviewer's home is /reviews
        return member.page.post(path, data={"csrf_token": csrf_of(home),
                                            "deadline": "2099-01-01", "job_id": str(job_id)})
    return member.page.request(method, path)


def test_another_team_gets_404_on_every_route_of_an_invite_and_never_sees_it_listed(world: dict[str, Any],
                                                                                     app: Any) -> None:
    ids, red, blue, root = world["ids"], world["red"], world["blue"], world["root"]
    redrev, bluerev = world["redrev"], world["bluerev"]
    table = [(p, m) for p, m in route_table(app) if not p.startswith("/i/")]  # candidate links: the token decides
    unclassified = ({p for p, _ in table} - NO_TEAM_DATA - LISTINGS - TEAM_SETTINGS - WEBHOOKS
                    - {p for p, _ in table if "{invite_id}" in p})
    assert not unclassified, f"routes no team test covers: {sorted(unclassified)}"
    invite_routes = [(p, m) for p, m in table if "{invite_id}" in p]
    assert len(invite_routes) >= 15
    for path, methods in invite_routes + [(p, m) for p, m in table if p in TEAM_SETTINGS]:
        for method in sorted(methods - {"HEAD"}):
            for kind in (["json", "html", "md"] if "{kind}" in path else ["json"]):
                url = _fill(path, ids, kind)
                # another team's recruiter, and its interviewer on an invite's review routes
                for outsider in ((blue, bluerev) if path.startswith(REVIEWS) else (blue,)):
                    r = _call(outsider, method, url, ids["job_id"])
                    assert r.status_code == 404, (method, url, r.status_code, r.text[:200])
                    assert NAME not in r.text and ids["candidate_id"] not in r.text, (method, url)
    # the same routes answer the invite's own team (so the 404s above are the team's, not bad ids)
    for path, methods in invite_routes:
        if "GET" in methods:
            url = _fill(path, ids)
            insiders = (redrev,) if path.startswith(REVIEWS) else (red, root)  # an administrator sees every team
            for insider in insiders:
                assert _call(insider, "GET", url).status_code == 200, url
    for member, sees in ((blue, False), (red, True), (root, True)):
        for url in ("/", f"/cohort/{EX}", f"/cohort/{EX}.csv", "/api/v1/invites", f"/api/v1/cohort/{EX}"):
            r = _call(member, "GET", url)
            assert r.status_code == 200 and (NAME in r.text) == sees, (url, sees)
        counts = _call(member, "GET", "/cohort").text
        assert (f'data-exercise="{EX}">{EX}</a> <span class="muted">(1 invite)' in counts) == sees
        archive = zipfile.ZipFile(io.BytesIO(_call(member, "GET", f"/cohort/{EX}.zip").content))
        assert any(ids["candidate_id"] in n for n in archive.namelist()) == sees, archive.namelist()
    for member, sees in ((bluerev, False), (redrev, True)):  # an interviewer's listings: their assigned invites
        for url in ("/reviews", "/api/v1/reviews"):
            r = _call(member, "GET", url)
            assert r.status_code == 200 and (NAME in r.text) == sees, (url, sees)
    for member, sees in ((blue, False), (red, True), (root, True)):  # teams and their interviewers
        for url in ("/teams", "/api/v1/teams", "/api/v1/interviewers"):
            r = _call(member, "GET", url)
            assert r.status_code == 200 and ("redrev@example.com" in r.text) == sees, (url, sees)


def test_a_recruiter_of_several_teams_names_one_and_of_none_cannot_create(app: Any, sessions: Any) -> None:
    from harness.store.db import transaction
    from harness.web.accounts import add_to_team, create_api_token, create_recruiter

    with transaction(sessions) as s:
        create_recruiter(s, "two@example.com", PASSWORD, teams=["Red", "Blue"])
        create_recruiter(s, "three@example.com", PASSWORD, teams=["Green"])
        token = create_api_token(s, "two@example.com")
        add_to_team(s, "three@example.com", "Red")
    spec = {"candidate_name": "Ana", "exercise": EX, "deadline": "2099-01-01"}
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as api:
        refused = api.post("/api/v1/invites", json=spec)
        assert refused.status_code == 400 and "several teams" in refused.json()["detail"]
        assert api.post("/api/v1/invites", json={**spec, "team": "Green"}).status_code == 400  # not theirs
        made = api.post("/api/v1/invites", json={**spec, "team": "Blue"})
        assert made.status_code == 201 and made.json()["team"] == "Blue"
    page = TestClient(app, follow_redirects=False)
    assert log_in(page, "two@example.com", PASSWORD).status_code == 303
    home = page.get("/").text
    assert 'id="invite-team"' in home and ">Blue<" in home
    created = page.post("/invites", data={"csrf_token": csrf_of(home), "candidate_name": "Bo", "exercise": EX,
                                          "deadline": "2099-01-01", "team": "Red"})
    assert created.status_code == 200
    page.close()
    # "three" joined Red: sees Bo (Red) but not Ana (Blue)
    page = TestClient(app, follow_redirects=False)
    assert log_in(page, "three@example.com", PASSWORD).status_code == 303
    home = page.get("/").text
    assert "Bo" in home and "Ana" not in home
    page.close()
