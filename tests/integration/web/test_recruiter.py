"""Recruiter pages through the app's own HTTP stack (TestClient): login, CSRF, invites, actions,
reports, cohorts, the admin page. Graded data is made in the database with a real report.json."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from typing import Any

import pytest
from _webdata import add_graded_job, add_upload, csrf_of, make_report, new_invite
from conftest import OTHER_EMAIL, PASSWORD, log_in, make_account
from sqlalchemy import func, select

from harness.store.db import transaction
from harness.store.models import Event, Invite, Job, JobState, Result, Worker, utcnow
from harness.web.security import hash_token

EX = "support-triage"


def _count(sessions: Any, model: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def _future(days: int = 10) -> str:
    return (utcnow() + dt.timedelta(days=days)).date().isoformat()


def _graded(sessions: Any, settings: Any, name: str, dims: dict[str, float], **kw: Any) -> tuple[int, int]:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, name)
        upload = add_upload(s, settings, invite, content=f"zip of {name}".encode())
        job = add_graded_job(s, settings, invite, upload, make_report(dims, submission=name, **kw))
        return invite.id, job.id


# --- login, logout, CSRF ------------------------------------------------------------------------

def test_login_refuses_wrong_password_and_unknown_email_alike(client: Any, admin_account: Any) -> None:
    wrong = log_in(client, admin_account.email, "not the password")
    unknown = log_in(client, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    for page in (wrong, unknown):
        assert "wrong e-mail or password" in page.text
        assert admin_account.email not in page.text and "nobody@example.com" not in page.text
    assert client.get("/").status_code == 303


def test_login_opens_the_pages_and_logout_closes_them(client: Any, admin_account: Any) -> None:
    assert client.get("/").headers["location"] == "/login?next=%2F"
    ok = log_in(client, admin_account.email.upper(), admin_account.password)  # e-mails are case-insensitive
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    index = client.get("/")
    assert index.status_code == 200 and 'id="create-invite"' in index.text and 'id="logout"' in index.text
    out = client.post("/logout", data={"csrf_token": csrf_of(index.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/").status_code == 303


def test_login_goes_back_to_where_it_was_asked_but_never_off_site(client: Any, admin_account: Any) -> None:
    token = csrf_of(client.get("/login?next=/cohort").text)
    ok = client.post("/login", data={"email": admin_account.email, "password": PASSWORD, "csrf_token": token,
                                     "next": "/cohort"})
    assert ok.headers["location"] == "/cohort"
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
    token = csrf_of(client.get("/login").text)
    away = client.post("/login", data={"email": admin_account.email, "password": PASSWORD, "csrf_token": token,
                                       "next": "//evil.example/x"})
    assert away.headers["location"] == "/"


def _other_session_token(app: Any, sessions: Any) -> str:
    from fastapi.testclient import TestClient

    make_account(sessions, OTHER_EMAIL, admin=False)
    with TestClient(app, follow_redirects=False) as other:
        assert log_in(other, OTHER_EMAIL, PASSWORD).status_code == 303
        return csrf_of(other.get("/").text)


@pytest.mark.parametrize("forgery", ["none", "wrong", "other-session", "right"])
def test_a_forged_form_is_refused(forgery: str, app: Any, logged_in: Any, sessions: Any) -> None:
    fields = {"candidate_name": "Mallory's pick", "exercise": EX, "deadline": _future()}
    if forgery == "wrong":
        fields["csrf_token"] = "0" * 64
    elif forgery == "other-session":
        fields["csrf_token"] = _other_session_token(app, sessions)
    elif forgery == "right":  # the control: the same form with this session's token works
        fields["csrf_token"] = csrf_of(logged_in.get("/").text)
    response = logged_in.post("/invites", data=fields)
    if forgery == "right":
        assert response.status_code == 200 and _count(sessions, Invite) == 1
    else:
        assert response.status_code == 403
        assert "security token is missing or wrong" in response.text and "\n" not in response.json()["detail"]
        assert _count(sessions, Invite) == 0


def test_a_forged_login_form_is_refused(client: Any, admin_account: Any) -> None:
    client.get("/login")
    response = client.post("/login", data={"email": admin_account.email, "password": PASSWORD})
    assert response.status_code == 403 and client.get("/").status_code == 303


def _routes(invite_id: int, job_id: int, upload_id: int) -> tuple[list[str], list[str]]:
    gets = ["/", "/logout", f"/invites/{invite_id}", f"/invites/{invite_id}/uploads/{upload_id}",
            f"/invites/{invite_id}/jobs/{job_id}/report", f"/invites/{invite_id}/jobs/{job_id}/report.json",
            f"/invites/{invite_id}/jobs/{job_id}/report.md", f"/invites/{invite_id}/jobs/{job_id}/report.html",
            "/cohort", f"/cohort/{EX}", f"/cohort/{EX}.csv", f"/cohort/{EX}.png", f"/cohort/{EX}.zip", "/admin"]
    posts = ["/invites", "/invites/import", f"/invites/{invite_id}/disable", f"/invites/{invite_id}/extend",
             f"/invites/{invite_id}/show-score", f"/invites/{invite_id}/rerun"]
    return gets, posts


def test_every_recruiter_page_refuses_without_a_session(client: Any, app: Any, sessions: Any, settings: Any) -> None:
    invite_id, job_id = _graded(sessions, settings, "Ana", {"validation": 80})
    with sessions() as s:
        upload_id = s.get(Job, job_id).upload_id
    gets, posts = _routes(invite_id, job_id, upload_id)
    for path in gets:
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        assert "Ana" not in response.text and "evidence" not in response.text, path
    # An anonymous session has a valid form token (the login form's): it still opens nothing.
    token = csrf_of(client.get("/login").text)
    for path in posts:
        response = client.post(path, data={"csrf_token": token, "deadline": _future(), "candidate_name": "X",
                                           "exercise": EX, "show_score": "true"},
                               files={"file": ("a.csv", b"name,exercise,deadline\nX,support-triage,2100-01-01\n")}
                               if path.endswith("import") else None)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    with sessions() as s:
        invite = s.get(Invite, invite_id)
        assert invite.disabled_at is None and not invite.show_score and len(invite.jobs) == 1
    assert _count(sessions, Invite) == 1


def test_the_admin_page_is_for_administrators(client: Any, sessions: Any) -> None:
    make_account(sessions, OTHER_EMAIL, admin=False)
    log_in(client, OTHER_EMAIL, PASSWORD)
    assert client.get("/").status_code == 200
    assert client.get("/admin").status_code == 403
    assert 'id="nav-admin"' not in client.get("/").text


# --- invites ---------------------------------------------------------------------------------------

def test_creating_an_invite_shows_its_link_once(logged_in: Any, sessions: Any) -> None:
    page = logged_in.get("/")
    response = logged_in.post("/invites", data={"candidate_name": "Ana Lúcia", "email": "Ana@Example.com",
                                                "exercise": EX, "deadline": _future(), "show_score": "true",
                                                "csrf_token": csrf_of(page.text)})
    assert response.status_code == 200
    link = re.search(r'id="invite-link" class="invite-link" value="([^"]+)"', response.text).group(1)
    assert re.fullmatch(r"http://testserver/i/[A-Za-z0-9_-]{32}", link)
    token = link.rsplit("/", 1)[1]
    with sessions() as s:
        invite = s.scalars(select(Invite)).one()
        assert invite.token_hash == hash_token(token) and token not in invite.token_hash
        assert invite.email == "ana@example.com" and invite.show_score
        assert re.fullmatch(r"ana-lucia-[0-9a-f]{6}", invite.candidate_id)
        assert [e.kind for e in invite.events] == ["created"]
    index = logged_in.get("/")
    assert token not in index.text and token not in logged_in.get(f"/invites/{invite.id}").text
    row = re.search(rf'id="invite-row-{invite.id}".*?</tr>', index.text, re.S).group(0)
    assert "Ana Lúcia" in row and 'data-state="created"' in row


def test_two_invites_for_the_same_name_get_different_candidate_ids(logged_in: Any, sessions: Any) -> None:
    for _ in range(2):
        logged_in.post("/invites", data={"candidate_name": "Ana", "exercise": EX, "deadline": _future(),
                                         "csrf_token": csrf_of(logged_in.get("/").text)})
    with sessions() as s:
        ids = [i.candidate_id for i in s.scalars(select(Invite))]
    assert len(set(ids)) == 2 and all(i.startswith("ana-") for i in ids)


@pytest.mark.parametrize("field,value,message", [
    ("deadline", "2001-01-01", "is in the past"),
    ("deadline", "next tuesday", "not a date"),
    ("exercise", "no-such-exercise", "unknown exercise"),
    ("candidate_name", "  ", "candidate name is empty"),
    ("email", "not-an-address", "not an e-mail address"),
])
def test_a_bad_invite_is_refused_with_one_line(field: str, value: str, message: str, logged_in: Any,
                                               sessions: Any) -> None:
    fields = {"candidate_name": "Ana", "exercise": EX, "deadline": _future(), field: value,
              "csrf_token": csrf_of(logged_in.get("/").text)}
    response = logged_in.post("/invites", data=fields)
    assert response.status_code == 400
    error = re.search(r'id="error">([^<]*)<', response.text).group(1)
    assert message in error and "Traceback" not in response.text
    assert _count(sessions, Invite) == 0


def _import(client: Any, content: bytes, show_score: bool = False) -> Any:
    data = {"csrf_token": csrf_of(client.get("/").text)}
    if show_score:
        data["show_score"] = "true"
    return client.post("/invites/import", data=data, files={"file": ("invites.csv", content, "text/csv")})


def test_a_csv_creates_every_invite_and_shows_every_link(logged_in: Any, sessions: Any) -> None:
    content = (f"name,email,exercise,deadline\nAna,ana@example.com,{EX},{_future()}\n"
               f"Bo Li,,credit-default,{_future(20)}T12:00\n\n\"Chen, Wei\",wei@example.com,{EX},{_future()}\n")
    response = _import(logged_in, content.encode(), show_score=True)
    assert response.status_code == 200
    links = re.findall(r'class="invite-link" value="([^"]+)"', response.text)
    assert len(links) == 3 and len(set(links)) == 3
    with sessions() as s:
        invites = {i.candidate_name: i for i in s.scalars(select(Invite))}
    assert set(invites) == {"Ana", "Bo Li", "Chen, Wei"}
    assert invites["Bo Li"].exercise == "credit-default" and invites["Bo Li"].email is None
    assert invites["Bo Li"].deadline.hour == 12 and invites["Ana"].deadline.hour == 23
    assert all(i.show_score for i in invites.values())
    assert {hash_token(link.rsplit("/", 1)[1]) for link in links} == {i.token_hash for i in invites.values()}


@pytest.mark.parametrize("content,message", [
    (f"name,email,exercise,deadline\nAna,,{EX},2100-01-01\nBo,,nope,2100-01-01\n", "row 3: exercise: unknown exercise"),
    ("name,email,exercise,deadline\nAna,,support-triage,2100-01-01\nBo,,support-triage,2000-01-01\n",
     "row 3: deadline: the deadline 2000-01-01 23:59 UTC is in the past"),
    ("name,email,exercise,deadline\nAna,,support-triage\n", "row 2: 3 fields, the header has 4"),
    ("nom,exercise,deadline\nAna,support-triage,2100-01-01\n", "row 1: the header must name the columns"),
    ("name,email,exercise,deadline\n", "has a header but no invites"),
    ("", "the CSV file is empty"),
])
def test_a_csv_with_one_bad_row_creates_nothing(content: str, message: str, logged_in: Any, sessions: Any) -> None:
    response = _import(logged_in, content.encode())
    assert response.status_code == 400
    assert message in re.search(r'id="error">([^<]*)<', response.text).group(1).replace("&#39;", "'")
    assert _count(sessions, Invite) == 0 and _count(sessions, Event) == 0


def test_a_csv_that_is_not_text_is_refused(logged_in: Any, sessions: Any) -> None:
    response = _import(logged_in, b"\xff\xfe\x00garbage")
    assert response.status_code == 400 and "not UTF-8 text" in response.text and _count(sessions, Invite) == 0


def _invite_page_token(client: Any, invite_id: int) -> str:
    return csrf_of(client.get(f"/invites/{invite_id}").text)


def test_disable_extend_and_show_score_buttons(logged_in: Any, sessions: Any) -> None:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, "Ana")
        invite_id, old_deadline = invite.id, invite.deadline
    page = logged_in.get(f"/invites/{invite_id}")
    assert 'id="disable-invite"' in page.text and "active" in page.text
    assert logged_in.post(f"/invites/{invite_id}/disable", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    page = logged_in.get(f"/invites/{invite_id}")
    assert 'id="disable-invite"' not in page.text and "disabled" in page.text and "no longer open it" in page.text

    past = logged_in.post(f"/invites/{invite_id}/extend", data={"deadline": "2001-02-03",
                                                               "csrf_token": csrf_of(page.text)})
    assert past.status_code == 400 and "in the past" in past.text
    new = _future(30)
    assert logged_in.post(f"/invites/{invite_id}/extend",
                          data={"deadline": new, "csrf_token": _invite_page_token(logged_in, invite_id)}
                          ).status_code == 303
    logged_in.post(f"/invites/{invite_id}/show-score",
                   data={"show_score": "true", "csrf_token": _invite_page_token(logged_in, invite_id)})
    with sessions() as s:
        invite = s.get(Invite, invite_id)
        assert invite.disabled_at is not None and invite.show_score
        assert invite.deadline == dt.datetime.fromisoformat(new + "T23:59:59") != old_deadline
        kinds = [e.kind for e in invite.events]
    assert kinds == ["created", "disabled", "extended", "show_score"]
    page = logged_in.get(f"/invites/{invite_id}")
    assert re.search(r'id="invite-show-score-value">yes<', page.text) and new in page.text
    assert "Hide the score from the candidate" in page.text


def test_rerun_makes_a_new_job_and_keeps_the_earlier_result(logged_in: Any, sessions: Any, settings: Any) -> None:
    invite_id, job_id = _graded(sessions, settings, "Ana", {"validation": 70, "monitoring": 40})
    page = logged_in.get(f"/invites/{invite_id}")
    assert 'id="rerun-invite"' in page.text
    response = logged_in.post(f"/invites/{invite_id}/rerun", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    with sessions() as s:
        jobs = list(s.scalars(select(Job).where(Job.invite_id == invite_id).order_by(Job.id)))
        assert [j.state for j in jobs] == [JobState.graded, JobState.queued]
        assert jobs[1].rerun_of == job_id and jobs[1].upload_id == jobs[0].upload_id
        assert [r.score for r in s.scalars(select(Result))] == [jobs[0].results[0].score]
        assert jobs[1].enqueued_at is not None  # committed, then handed to the broker
        new_id = jobs[1].id
    page = logged_in.get(f"/invites/{invite_id}")
    old_row = re.search(rf'id="job-{job_id}".*?</tr>', page.text, re.S).group(0)
    new_row = re.search(rf'id="job-{new_id}".*?</tr>', page.text, re.S).group(0)
    assert "33.0" in old_row and "graded" in old_row  # 0.3*70 + 0.3*40
    assert f"rerun of {job_id}" in new_row and "queued" in new_row
    assert re.search(r'id="invite-state" data-state="queued"', page.text)
    again = logged_in.post(f"/invites/{invite_id}/rerun", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 400 and "queued or running already" in again.text
    assert _count(sessions, Job) == 2


def test_rerun_without_an_upload_is_refused(logged_in: Any, sessions: Any) -> None:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, "Ana")
    response = logged_in.post(f"/invites/{invite.id}/rerun", data={"csrf_token": _invite_page_token(logged_in, invite.id)})
    assert response.status_code == 400 and "has not uploaded" in response.text and _count(sessions, Job) == 0


def test_an_unknown_or_huge_invite_id_is_a_404(logged_in: Any) -> None:
    page = logged_in.get("/invites/999")
    assert page.status_code == 404 and 'id="not-found"' in page.text and "999" in page.text
    token = csrf_of(logged_in.get("/").text)
    for action in ("disable", "extend", "show-score", "rerun"):
        answer = logged_in.post(f"/invites/999/{action}", data={"csrf_token": token})
        assert answer.status_code == 404 and 'id="not-found"' in answer.text, action
    assert logged_in.get(f"/invites/{2**40}").status_code == 422  # beyond any id: refused before the database


# --- reports ------------------------------------------------------------------------------------------

def test_the_report_page_leads_with_the_summary(logged_in: Any, sessions: Any, settings: Any) -> None:
    invite_id, job_id = _graded(sessions, settings, "Ana", {"validation": 90, "monitoring": 20, "degradation": 60,
                                                             "operations": 100, "accuracy": 80},
                                failing=("drift_alarm_delay", "no_server_errors"),
                                debrief=["Walk us through how your drift alarm decides."])
    page = logged_in.get(f"/invites/{invite_id}")
    assert f'href="/invites/{invite_id}/jobs/{job_id}/report"' in page.text
    report = logged_in.get(f"/invites/{invite_id}/jobs/{job_id}/report")
    assert report.status_code == 200
    html = report.text
    assert re.search(r'id="report-score">65\.0<', html)  # 27 + 6 + 9 + 15 + 8
    shown = re.search(r'id="habits-shown">(.*?)</ul>', html, re.S).group(1)
    missing = re.search(r'id="habits-missing">(.*?)</ul>', html, re.S).group(1)
    assert "Invalid records flagged as invalid" in shown and "Drift alarm soon after each onset" not in shown
    assert "Drift alarm soon after each onset" in missing and "contract duty" in missing  # the failed gate
    assert "No 5xx" in missing and "No 5xx" not in shown
    assert "Walk us through how your drift alarm decides." in re.search(r'id="debrief">(.*?)</ol>', html, re.S).group(1)
    # above the fold: the verdict and the chart against the exercise's own solutions; the rest after
    assert (html.index('id="verdict"') < html.index('id="report-dimensions"') < html.index('id="habits-shown"')
            < html.index('id="report-details"') < html.index('id="report-full"'))
    verdict = re.search(r'id="verdict"[^>]*>([^<]*)<', html).group(1)
    assert verdict.startswith("Between the robust demo (29) and the reference (100)"), verdict
    assert html.count('data-anchor="reference"') == 5 and html.count('data-anchor="accuracy-only"') == 5
    assert 'id="accuracy-explained"' in html and "plain model" in html
    assert "<iframe" not in html
    figures = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)"', html)
    assert [alt for _, alt in figures] == ["Drift alarms: the test figure"]

    base = f"/invites/{invite_id}/jobs/{job_id}/report"
    as_json = logged_in.get(base + ".json?download=true")
    assert as_json.status_code == 200 and as_json.json()["score"] == 65.0
    assert "attachment" in as_json.headers["content-disposition"]
    md = logged_in.get(base + ".md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown") and "65.0" in md.text
    full = logged_in.get(base + ".html")
    assert full.status_code == 200 and "shiftwork report" in full.text
    assert "sandbox" in full.headers["content-security-policy"] and "default-src 'none'" in full.headers[
        "content-security-policy"]
    assert logged_in.get(base + ".exe").status_code == 404


def test_a_grading_without_a_report_shows_its_reason(logged_in: Any, sessions: Any, settings: Any) -> None:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, "Ana")
        upload = add_upload(s, settings, invite)
        job = add_graded_job(s, settings, invite, upload, None, state=JobState.failed,
                             reason="the archive holds a link pointing outside it")
    page = logged_in.get(f"/invites/{invite.id}/jobs/{job.id}/report")
    assert page.status_code == 200 and "the archive holds a link pointing outside it" in page.text
    assert 'id="report-frame"' not in page.text
    assert logged_in.get(f"/invites/{invite.id}/jobs/{job.id}/report.json").status_code == 404
    row = re.search(rf'id="invite-row-{invite.id}".*?</tr>', logged_in.get("/").text, re.S).group(0)
    assert 'data-state="failed"' in row and "crashed" in row


def test_a_report_folder_outside_the_data_dir_is_never_served(logged_in: Any, sessions: Any, settings: Any,
                                                               tmp_path: Any) -> None:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "report.json").write_text('{"not": "yours"}')
    invite_id, job_id = _graded(sessions, settings, "Ana", {"validation": 50})
    with transaction(sessions) as s:
        s.scalars(select(Result)).one().report_dir = "../outside"
    assert logged_in.get(f"/invites/{invite_id}/jobs/{job_id}/report.json").status_code == 404
    page = logged_in.get(f"/invites/{invite_id}/jobs/{job_id}/report")
    assert page.status_code == 200 and 'id="report-files-none"' in page.text and "yours" not in page.text


def test_an_upload_downloads_as_it_was_received(logged_in: Any, sessions: Any, settings: Any) -> None:
    with transaction(sessions) as s:
        invite, _ = new_invite(s, "Ana")
        upload = add_upload(s, settings, invite, content=b"the candidate's bytes", filename='../"evil".zip')
    page = logged_in.get(f"/invites/{invite.id}")
    assert upload.sha256 in page.text and "21 B" in page.text
    got = logged_in.get(f"/invites/{invite.id}/uploads/{upload.id}")
    assert got.status_code == 200 and got.content == b"the candidate's bytes"
    assert '"' not in got.headers["content-disposition"].split("filename=", 1)[1].strip('"')
    assert "/" not in got.headers["content-disposition"]
    assert logged_in.get(f"/invites/{invite.id}/uploads/{upload.id + 1}").status_code == 404


# --- cohort --------------------------------------------------------------------------------------------

def test_the_cohort_shows_every_graded_invite_side_by_side(logged_in: Any, sessions: Any, settings: Any) -> None:
    best, _ = _graded(sessions, settings, "Ana", {"validation": 90, "monitoring": 80, "accuracy": 70})
    worst, _ = _graded(sessions, settings, "=cmd|' /C calc'!A0", {"validation": 10, "monitoring": 30})
    with transaction(sessions) as s:
        new_invite(s, "Not graded yet")
        new_invite(s, "Other exercise", exercise="credit-default")
    page = logged_in.get(f"/cohort/{EX}")
    rows = re.findall(r'class="cohort-row" data-invite-id="(\d+)"', page.text)
    assert rows == [str(best), str(worst)] and "Not graded yet" not in page.text
    assert 'id="cohort-plot"' in page.text

    exported = logged_in.get(f"/cohort/{EX}.csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["invite_id"] for r in table] == [str(best), str(worst)]
    assert table[0]["validation"] == "90.0" and table[0]["monitoring"] == "80.0" and table[1]["score"] == "12.0"
    assert table[1]["candidate_name"].startswith("'=")  # a spreadsheet must not run it as a formula

    png = logged_in.get(f"/cohort/{EX}.png")
    assert png.headers["content-type"] == "image/png"
    from PIL import Image

    image = Image.open(io.BytesIO(png.content))
    assert image.size == (800, 400)

    archive = logged_in.get(f"/cohort/{EX}.zip")
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        names = zf.namelist()
        assert zf.read("cohort.csv").decode() == exported.text
        with sessions() as s:
            ana = s.get(Invite, best)
            assert zf.read(f"{ana.candidate_id}/submission.zip") == b"zip of Ana"
            assert zf.read(f"{ana.candidate_id}/report.json").startswith(b"{")
    assert sum(n.endswith("/report.html") for n in names) == 2 and len(names) == 1 + 2 * 4


def test_an_unknown_cohort_is_a_404(logged_in: Any) -> None:
    for suffix in ("", ".csv", ".png", ".zip"):
        assert logged_in.get(f"/cohort/nope{suffix}").status_code == 404


def test_an_empty_cohort_still_plots(logged_in: Any) -> None:
    assert "No graded invites" in logged_in.get(f"/cohort/{EX}").text
    assert logged_in.get(f"/cohort/{EX}.png").content[:8] == b"\x89PNG\r\n\x1a\n"


# --- admin ----------------------------------------------------------------------------------------------

def _worker(sessions: Any, name: str, *, engine: str, seen_s_ago: float, refusing: str = "",
            busy: int | None = None) -> None:
    with transaction(sessions) as s:
        s.add(Worker(name=name, host="here", pid=42, engine=engine, ready=True, refusing=refusing, busy_job=busy,
                     seen_at=utcnow() - dt.timedelta(seconds=seen_s_ago)))


BANNER = "jobs stay queued: no grading worker with a Docker engine is running"


def test_the_admin_page_says_when_no_worker_can_grade(logged_in: Any, sessions: Any, settings: Any) -> None:
    page = logged_in.get("/admin")
    assert BANNER in page.text and 'id="no-workers"' in page.text
    _worker(sessions, "gone-one", engine="docker 20.10", seen_s_ago=31)  # 3 x 10 s heartbeat passed
    _worker(sessions, "no-engine", engine="", seen_s_ago=1, refusing="no Docker engine answers")
    _worker(sessions, "no-image", engine="docker 20.10", seen_s_ago=1,
            refusing="no base image shiftwork/base:py311 here (run `make base-image`)")
    page = logged_in.get("/admin")
    # the banner names the real reasons of the workers alive, not "no worker"
    assert BANNER not in page.text and 'data-worker="gone-one" data-alive="no"' in page.text
    banner = re.search(r'id="no-worker-banner">([^<]*)<', page.text)
    assert banner is not None and "no-engine: no Docker engine answers" in banner.group(1)
    assert "no-image: no base image shiftwork/base:py311 here" in banner.group(1).replace("&#96;", "`")
    _worker(sessions, "good", engine="docker 20.10", seen_s_ago=2, busy=7)
    page = logged_in.get("/admin")
    assert 'id="no-worker-banner"' not in page.text and 'data-worker="good" data-alive="yes"' in page.text and "job 7" in page.text


def test_queue_depth_and_the_banner_on_the_invites_page(logged_in: Any, sessions: Any, settings: Any) -> None:
    invite_id, _ = _graded(sessions, settings, "Ana", {"validation": 50})
    assert BANNER not in logged_in.get("/").text  # nothing waits: nothing to warn about
    logged_in.post(f"/invites/{invite_id}/rerun", data={"csrf_token": _invite_page_token(logged_in, invite_id)})
    assert BANNER in logged_in.get("/").text
    page = logged_in.get("/admin")
    assert re.search(r'id="queue-queued">1<', page.text) and re.search(r'id="queue-grading">0<', page.text)

