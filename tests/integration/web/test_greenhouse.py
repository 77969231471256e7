"""Greenhouse's Assessment Partner API (issue 22), on SQLite and PostgreSQL: HTTP Basic with a team's
partner key, list_tests, send_test (the link goes out by e-mail, never in the answer), test_status
(scoped to the key's team), response_error, the keys' admin page and CLI, and the completion callback
(a PATCH with the key, retried with backoff) against a real receiver on 127.0.0.1.

The last test is Greenhouse's whole documented sequence against a real grading: list_tests ->
send_test -> the candidate reads the link from the e-mail that reached a real SMTP server (aiosmtpd),
uploads solutions/reference -> a `shiftwork worker` process grades it in docker -> test_status says
complete with a score -> the dispatcher's PATCH reaches the receiver.
"""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import logging
import re
import shutil
import socket
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select

from _queue_env import running_worker, wait_for, zip_folder
from _webdata import add_graded_job, add_upload, csrf_of, make_report, new_invite

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")

GH = "/greenhouse"
EX = "support-triage"
SENDER = "hiring@example.com"


# -- real servers on 127.0.0.1: SMTP (aiosmtpd) and the receiver of Greenhouse's PATCH ---------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def texts(self) -> list[str]:
        out = []
        for m in self.messages:
            part = m.get_body(preferencelist=("plain",))
            out.append(part.get_content() if part is not None else "")
        return out


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    box = Inbox(port=_free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Received:
    method: str
    path: str
    authorization: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Receiver(ThreadingHTTPServer):
    """Greenhouse's side of the PATCH: records each request and answers the next planned status (then 200)."""

    def __init__(self) -> None:
        self.seen: list[Received] = []
        self.plan: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PATCH(self) -> None:  # noqa: N802 (http.server's name)
                size = int(self.headers.get("Content-Length") or 0)
                outer.seen.append(Received("PATCH", self.path, self.headers.get("Authorization", ""),
                                           self.rfile.read(size) if size else b""))
                self.send_response(outer.plan.pop(0) if outer.plan else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802 -- the team's webhook receiver shares the port
                size = int(self.headers.get("Content-Length") or 0)
                outer.seen.append(Received("POST", self.path, self.headers.get("Authorization", ""),
                                           self.rfile.read(size) if size else b"", dict(self.headers.items())))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/integrations/testing_partners/take_home_tests/12345") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    # shutdown() waits up to one poll: the default half second, paid by every test
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, inbox: Inbox, receiver: Receiver) -> Any:
    """The conftest's settings, with e-mail through the test's SMTP server and the receiver allowed (http, local)."""
    from harness.store.settings import SmtpSettings, build_settings

    return build_settings(tmp_path / "data", database_url=db_url, env={}, embedded_worker=False, heartbeat_s=10.0,
                          smtp=SmtpSettings(host="127.0.0.1", port=inbox.port, security="none", sender=SENDER,
                                            timeout_s=10.0),
                          webhook_allowed_hosts=(f"127.0.0.1:{receiver.port}",))


# -- helpers ----------------------------------------------------------------------------------------------
def basic(key: str, password: str = "") -> dict[str, str]:
    """As Greenhouse sends it: the key, a colon, base64."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()}


def make_key(sessions: Any, settings: Any, team: str, name: str = "Greenhouse") -> str:
    from harness.store.db import transaction
    from harness.store.teams import team_named
    from harness.web.partner_keys import create_key

    with transaction(sessions) as s:
        team_named(s, team)
        return create_key(s, settings, team, name=name, by="tests").key


def send_body(email_address: str = "ada@example.com", test: str = EX, url: str | None = None) -> dict[str, Any]:
    """send_test's body as the documentation's example has it."""
    return {"partner_test_id": test,
            "candidate": {"first_name": "Ada", "last_name": "Lovelace", "email": email_address,
                          "phone_number": "123-456-7890", "resume_url": "https://hogwarts.example/resume",
                          "greenhouse_profile_url": "https://app.greenhouse.io/people/17681532?application_id=1"},
            "url": url}


def partner_interview(sessions: Any, key: str, *, callback_url: str = "", days: int = 7) -> tuple[int, str]:
    """A partner interview of `key`'s team made in the database (invite id, partner_interview_id)."""
    from harness.store.db import transaction
    from harness.store.models import PartnerInterview, PartnerKey
    from harness.store.sealed import digest

    with transaction(sessions) as s:
        row = s.scalar(select(PartnerKey).where(PartnerKey.key_hash == digest(key)))
        invite, _ = new_invite(s, "Grace Hopper", email="grace@example.com", days=days)
        invite.team_id = row.team_id
        pid = f"pi-{invite.id}-{row.team_id}"
        s.add(PartnerInterview(partner_interview_id=pid, key_id=row.id, invite_id=invite.id, test_id=EX,
                               callback_url=callback_url))
        return invite.id, pid


def grade(sessions: Any, settings: Any, invite_id: int, dims: dict[str, float] | None = None) -> float:
    """A graded job for the invite, as the worker leaves it, with the grading.finished event it emits."""
    from harness.notify import emit
    from harness.store.db import transaction
    from harness.store.models import Invite

    with transaction(sessions) as s:
        invite = s.get(Invite, invite_id)
        job = add_graded_job(s, settings, invite, add_upload(s, settings, invite),
                             make_report(dims or {"validation": 90, "monitoring": 80, "operations": 70}))
        emit(s, settings, invite, "grading.finished", {"job_id": job.id})
        return float(job.results[0].score)


def test_every_call_without_a_valid_key_is_401_with_a_basic_challenge(app: Any, client: Any, sessions: Any,
                                                                      settings: Any, api_token: str) -> None:
    from harness.store.db import transaction
    from harness.store.models import PartnerKey
    from harness.store.sealed import digest

    key = make_key(sessions, settings, "red")
    revoked = make_key(sessions, settings, "red", name="old")
    with transaction(sessions) as s:
        s.scalar(select(PartnerKey).where(PartnerKey.key_hash == digest(revoked))).revoked_at = dt.datetime(2026, 1, 1)
    calls = [("GET", "/list_tests", None), ("POST", "/send_test", send_body()),
             ("GET", "/test_status?partner_interview_id=x", None), ("POST", "/response_error",
                                                                     {"api_call": "list_tests", "errors": ["e"]})]
    refusals = {"none": {}, "wrong key": basic("ghk_" + "x" * 43), "revoked key": basic(revoked),
                "key as the password": basic("", key), "an API token": {"Authorization": f"Bearer {api_token}"},
                "not base64": {"Authorization": "Basic %%%"}, "too long": basic(key + "x" * 200)}
    for method, path, body in calls:
        for why, headers in refusals.items():
            r = client.request(method, GH + path, json=body, headers=headers)
            assert r.status_code == 401, (path, why, r.text)
            assert r.headers["www-authenticate"].startswith("Basic"), (path, why)
            assert key not in r.text
    # and the valid key passes on the same calls (so the 401s above are the key's)
    assert client.get(GH + "/list_tests", headers=basic(key)).status_code == 200
    assert client.get(GH + "/test_status?partner_interview_id=x", headers=basic(key)).status_code == 404
    with sessions() as s:
        assert s.scalar(select(PartnerKey.last_used_at)
                        .where(PartnerKey.key_hash == digest(key))) is not None
        assert s.scalar(select(PartnerKey.last_used_at).where(PartnerKey.key_hash == digest(revoked))) is None


def test_list_tests_lists_every_exercise_as_a_test(client: Any, sessions: Any, settings: Any) -> None:
    from grader.exercise import list_exercises, load_exercise

    key = make_key(sessions, settings, "red")
    r = client.get(GH + "/list_tests", headers=basic(key))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    tests = r.json()
    assert isinstance(tests, list)  # the documented answer is a bare JSON array
    assert [t["partner_test_id"] for t in tests] == list_exercises() and len(tests) >= 3
    assert {t["partner_test_id"]: t["partner_test_name"] for t in tests}[EX] == load_exercise(EX).title
    assert all(set(t) == {"partner_test_id", "partner_test_name"} for t in tests)


def test_send_test_refuses_a_wrong_body_in_one_line_and_creates_nothing(app: Any, client: Any, sessions: Any,
                                                                       settings: Any) -> None:
    import dataclasses

    from harness.store.models import Invite, Message, PartnerInterview

    key = make_key(sessions, settings, "red")
    no_email = send_body()
    del no_email["candidate"]["email"]
    no_name = send_body()
    no_name["candidate"].update(first_name=None, last_name="")
    cases = [(send_body(test="no-such-exercise"), 404, "no test 'no-such-exercise'"),
             (no_email, 400, "candidate.email"),
             (send_body(email_address="not an address"), 400, "e-mail"),
             (no_name, 400, "neither a first_name nor a last_name"),
             ({"candidate": send_body()["candidate"]}, 400, "partner_test_id"),
             (send_body(url="ftp://greenhouse.example/x"), 400, "url: not an http(s) URL"),
             ([1, 2], 400, "")]
    for body, status, says in cases:
        r = client.post(GH + "/send_test", json=body, headers=basic(key))
        assert r.status_code == status, (body, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and says in detail, detail
    assert client.post(GH + "/send_test", content=b"{not json", headers={**basic(key), "Content-Type":
                                                                         "application/json"}).status_code in (400, 422)
    # no SMTP server: a test nobody would receive is refused, not created
    app.state.settings = dataclasses.replace(settings, smtp=None)
    r = client.post(GH + "/send_test", json=send_body(), headers=basic(key))
    assert r.status_code == 503 and "no SMTP server" in r.json()["detail"], r.text
    with sessions() as s:
        assert s.scalars(select(Invite)).all() == [] and s.scalars(select(PartnerInterview)).all() == []
        assert s.scalars(select(Message)).all() == []


def test_send_test_invites_into_the_key_team_and_emails_the_link_never_answering_it(
        client: Any, sessions: Any, settings: Any, inbox: Inbox) -> None:
    from harness.notify.mail import send_due
    from harness.store.models import AuditEvent, Invite, Message, PartnerInterview, utcnow
    from harness.web.security import hash_token

    key = make_key(sessions, settings, "red")
    r = client.post(GH + "/send_test", json=send_body(url="https://app.greenhouse.io/take_home_tests/1"),
                    headers=basic(key))
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"partner_interview_id"} and "/i/" not in r.text
    pid = r.json()["partner_interview_id"]
    # the table's flat form of the body is read too
    flat = {"partner_test_id": EX, "first_name": "Alan", "last_name": "Turing", "email": "Alan@Example.com"}
    r2 = client.post(GH + "/send_test", json=flat, headers=basic(key))
    assert r2.status_code == 200 and r2.json()["partner_interview_id"] != pid, r2.text
    with sessions() as s:
        pi = s.scalar(select(PartnerInterview).where(PartnerInterview.partner_interview_id == pid))
        invite = pi.invite
        assert (invite.candidate_name, invite.email, invite.exercise) == ("Ada Lovelace", "ada@example.com", EX)
        assert invite.team.name == "red" and pi.key.team.name == "red"
        assert pi.callback_url == "https://app.greenhouse.io/take_home_tests/1" and pi.callback_state == "none"
        assert dt.timedelta(days=6) < invite.deadline - utcnow() <= dt.timedelta(days=7)
        second = s.scalar(select(Invite).where(Invite.candidate_name == "Alan Turing"))
        assert second.email == "alan@example.com" and second.team.name == "red"
        assert [m.kind for m in s.scalars(select(Message).where(Message.invite_id == invite.id)
                                          .order_by(Message.id))] == ["invite_link", "reminder"]
        actions = [a.action for a in s.scalars(select(AuditEvent))]
        assert actions.count("greenhouse_send_test") == 2
        token_hash = invite.token_hash
    assert send_due(settings, sessions, utcnow()) >= 2
    to_ada = [m for m in inbox.messages if m["To"] == "ada@example.com"]
    assert len(to_ada) == 1, [m["To"] for m in inbox.messages]
    links = re.findall(r"http://testserver/i/([A-Za-z0-9_-]+)", to_ada[0].get_body(("plain",)).get_content())
    assert links and hash_token(links[0]) == token_hash  # the e-mail carries the invite's own link


def test_test_status_follows_the_invite_to_complete_and_never_shows_another_team(
        client: Any, sessions: Any, settings: Any) -> None:
    from harness.store.db import transaction
    from harness.store.models import Invite, utcnow

    red, blue = make_key(sessions, settings, "red"), make_key(sessions, settings, "blue")
    red_rotated = make_key(sessions, settings, "red", name="rotated")
    invite_id, pid = partner_interview(sessions, red)
    _, blue_pid = partner_interview(sessions, blue)

    def status(key: str = red, wanted: str = pid) -> Any:
        return client.get(GH + "/test_status", params={"partner_interview_id": wanted}, headers=basic(key))

    first = status()
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["partner_status"] == "sent" and body["partner_score"] is None
    assert body["partner_profile_url"] == f"http://testserver/invites/{invite_id}"
    assert body["metadata"]["Exercise"].startswith("Support ticket triage") and "/i/" not in first.text
    assert all(not isinstance(v, (dict, list)) for v in body["metadata"].values())  # "non-nested"
    # another organisation's key: as unknown as a missing id; its own interview answers it
    for wanted, key in ((pid, blue), (blue_pid, red), ("no-such-id", red), ("x\x00y", red), ("z" * 300, red)):
        r = status(key, wanted)
        assert r.status_code == 404 and "Grace" not in r.text, (wanted, r.text)
    assert status(blue, blue_pid).status_code == 200
    assert client.get(GH + "/test_status", headers=basic(red)).status_code == 400
    with transaction(sessions) as s:
        s.get(Invite, invite_id).opened_at = utcnow()
    assert status().json()["partner_status"] == "started"
    with transaction(sessions) as s:
        invite = s.get(Invite, invite_id)
        add_upload(s, settings, invite)
    assert status().json()["partner_status"] == "submitted"
    score = grade(sessions, settings, invite_id)
    done = status(red_rotated).json()  # any key of the team
    assert done["partner_status"] == "complete" and done["partner_score"] == round(score, 1) and score > 0
    assert done["partner_profile_url"].endswith(f"/invites/{invite_id}")
    assert done["metadata"]["Result"] == "graded" and "Graded At" in done["metadata"]
    # an invite nobody submitted for, past its deadline
    _, late = partner_interview(sessions, red, days=1)
    with transaction(sessions) as s:
        s.scalar(select(Invite).order_by(Invite.id.desc())).deadline = utcnow() - dt.timedelta(hours=1)
    assert status(red, late).json()["partner_status"] == "expired"


def test_response_error_is_logged_and_audited(client: Any, sessions: Any, settings: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    from harness.store.models import AuditEvent

    key = make_key(sessions, settings, "red")
    body = {"api_call": "test_status", "errors": ["partner_status is 'complete' but partner_profile url is missing"],
            "partner_test_id": "12345", "partner_test_name": "Personality Test", "partner_interview_id": "299506",
            "candidate_email": "hpotter@hogwarts.edu"}
    with caplog.at_level(logging.INFO):
        r = client.post(GH + "/response_error", json=body, headers=basic(key))
    assert r.status_code == 200 and r.json() == {"status": 200}
    assert "partner_profile url is missing" in caplog.text and "hpotter" not in caplog.text
    with sessions() as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "greenhouse_response_error")).all()
    assert event.target == "partner interview 299506" and event.detail.startswith("test_status: partner_status")
    assert client.post(GH + "/response_error", json={"errors": []}, headers=basic(key)).status_code == 400


def test_keys_page_shows_a_key_once_stores_it_hashed_and_sealed_and_never_logs_it(
        app: Any, logged_in: Any, client: Any, sessions: Any, settings: Any, other_account: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from conftest import log_in
    from harness.store.db import transaction
    from harness.store.models import Base, PartnerKey
    from harness.store.sealed import Sealer, digest
    from harness.store.teams import team_named

    caplog.set_level(logging.DEBUG)
    with transaction(sessions) as s:
        team_named(s, "red")
    page = logged_in.get("/admin/greenhouse")
    assert page.status_code == 200 and 'id="no-keys"' in page.text
    for call in ("list_tests", "send_test", "test_status", "response_error"):
        assert f"<code>http://testserver/greenhouse/{call}</code>" in page.text
    assert logged_in.post("/admin/greenhouse/keys", data={"team": "red"}).status_code == 403  # no CSRF token
    bad = logged_in.post("/admin/greenhouse/keys", data={"team": "nope", "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 400 and "no team &#39;nope&#39;" in bad.text
    made = logged_in.post("/admin/greenhouse/keys", data={"team": "red", "name": "production",
                                                          "csrf_token": csrf_of(page.text)})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    key = re.search(r'id="new-key" class="invite-link" value="([^"]+)"', made.text).group(1)
    assert key.startswith("ghk_") and len(key) < 171
    assert client.get(GH + "/list_tests", headers=basic(key)).status_code == 200
    # afterwards: redacted on the page, only hashed and sealed in the database, never in a log
    again = logged_in.get("/admin/greenhouse").text
    assert key not in again and key[4:12] not in again and "ghk_••••••••" in again and "production" in again
    with sessions() as s:
        row = s.scalar(select(PartnerKey))
        assert row.key_hash == digest(key) and Sealer(settings.encryption_key).open(row.key_sealed) == key
        for table in Base.metadata.sorted_tables:
            for values in s.execute(table.select()).all():
                assert not any(key in str(v) or key[4:] in str(v) for v in values), (table.name, values)
    assert key not in caplog.text and key[4:] not in caplog.text
    # revoked on the page: refused from then on
    revoked = logged_in.post(f"/admin/greenhouse/keys/{row.id}/revoke", data={"csrf_token": csrf_of(again)})
    assert revoked.status_code == 303
    assert client.get(GH + "/list_tests", headers=basic(key)).status_code == 401
    after = logged_in.get("/admin/greenhouse").text
    assert f'data-key-id="{row.id}" data-state="revoked"' in after and f"revoke-key-{row.id}" not in after
    assert logged_in.post("/admin/greenhouse/keys/999/revoke", data={"csrf_token": csrf_of(after)}).status_code == 404
    # a recruiter who is not an administrator sees none of it
    with TestClient(app, follow_redirects=False) as rita:
        assert log_in(rita, other_account.email, other_account.password).status_code == 303
        assert rita.get("/admin/greenhouse").status_code == 403
        assert rita.post("/admin/greenhouse/keys", data={"team": "red", "csrf_token": csrf_of(
            rita.get("/").text)}).status_code == 403
    with sessions() as s:
        assert s.scalar(select(PartnerKey).where(PartnerKey.id != row.id)) is None


def test_the_cli_prints_a_key_once_lists_them_redacted_and_revokes(app: Any, client: Any, sessions: Any,
                                                                  settings: Any, db_url: str) -> None:
    from typer.testing import CliRunner

    from harness.cli import app as cli
    from harness.store.db import transaction
    from harness.store.teams import team_named

    with transaction(sessions) as s:
        team_named(s, "red")
    env = {"SHIFTWORK_DATABASE_URL": db_url}
    data = ["--data", str(settings.data_dir)]  # its encryption key seals the key the app sends back
    made = CliRunner().invoke(cli, ["admin", "partner-key", "--team", "red", "--name", "gh prod", *data], env=env)
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("ghk_") and "\n" not in key and "shown only now" in made.stderr
    assert client.get(GH + "/list_tests", headers=basic(key)).status_code == 200
    listed = CliRunner().invoke(cli, ["admin", "partner-keys", *data], env=env)
    assert listed.exit_code == 0 and key not in listed.output
    assert re.search(r"^\d+\tred\tghk_•+\tactive\t.*\tgh prod$", listed.stdout, re.M), listed.stdout
    key_id = listed.stdout.split("\t", 1)[0]
    unknown = CliRunner().invoke(cli, ["admin", "partner-key", "--team", "nope", *data], env=env)
    assert unknown.exit_code != 0 and "no team 'nope'" in str(unknown.exception)
    revoked = CliRunner().invoke(cli, ["admin", "partner-key-revoke", key_id, *data], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert client.get(GH + "/list_tests", headers=basic(key)).status_code == 401
    assert "\trevoked " in CliRunner().invoke(cli, ["admin", "partner-keys", *data], env=env).stdout


def test_the_callback_patches_with_the_key_and_retries_with_backoff(logged_in: Any, sessions: Any, settings: Any,
                                                                     receiver: Receiver) -> None:
    from harness.notify import emit
    from harness.notify.greenhouse import callbacks_due
    from harness.store.db import transaction
    from harness.store.models import Invite, JobState, PartnerInterview, PartnerKey, utcnow
    from harness.store.sealed import digest

    key = make_key(sessions, settings, "red")
    invite_id, pid = partner_interview(sessions, key, callback_url=receiver.url())
    unfinished, unfinished_pid = partner_interview(sessions, key, callback_url=receiver.url())

    def row(wanted: str = pid) -> PartnerInterview:
        with sessions() as s:
            return s.scalar(select(PartnerInterview).where(PartnerInterview.partner_interview_id == wanted))

    now = utcnow()
    assert callbacks_due(settings, sessions, now) == 0 and row().callback_state == "none"
    # a grading that could not run is not "complete": no callback for it
    with transaction(sessions) as s:
        invite = s.get(Invite, unfinished)
        add_graded_job(s, settings, invite, add_upload(s, settings, invite), None, state=JobState.failed)
        emit(s, settings, invite, "grading.finished", {})
    assert row(unfinished_pid).callback_state == "none"
    grade(sessions, settings, invite_id)
    assert row().callback_state == "pending" and row().callback_attempts == 0
    receiver.plan = [500]
    now = utcnow()
    assert callbacks_due(settings, sessions, now) == 0
    failed_once = row()
    assert (failed_once.callback_state, failed_once.callback_attempts) == ("pending", 1)
    assert failed_once.callback_last_error == "HTTP 500"
    assert failed_once.callback_next_at == now + dt.timedelta(seconds=30)  # harness.notify.retry's first wait
    assert callbacks_due(settings, sessions, now + dt.timedelta(seconds=20)) == 0 and len(receiver.seen) == 1
    assert callbacks_due(settings, sessions, now + dt.timedelta(seconds=31)) == 1
    sent = row()
    assert (sent.callback_state, sent.callback_attempts, sent.callback_last_error) == ("sent", 2, "")
    # the documented request: PATCH to the URL send_test gave, the key as the Basic username, no body
    assert [(r.method, r.path, r.body) for r in receiver.seen] == [
        ("PATCH", "/integrations/testing_partners/take_home_tests/12345", b"")] * 2
    assert {r.authorization for r in receiver.seen} == {basic(key)["Authorization"]}
    assert callbacks_due(settings, sessions, now + dt.timedelta(hours=1)) == 0 and len(receiver.seen) == 2
    page = logged_in.get("/admin/greenhouse").text
    assert f'data-interview="{pid}" data-callback="sent"' in page
    # a rotated key (the old one revoked): the callback authenticates with the team's new one
    new_key = make_key(sessions, settings, "red", name="rotated")
    with transaction(sessions) as s:
        s.scalar(select(PartnerKey).where(PartnerKey.key_hash == digest(key))).revoked_at = utcnow()
    grade(sessions, settings, invite_id)  # a rerun graded: Greenhouse is told again
    assert callbacks_due(settings, sessions, utcnow()) == 1
    assert receiver.seen[-1].authorization == basic(new_key)["Authorization"]


def test_a_callback_url_the_policy_refuses_is_never_called_and_a_day_of_failures_ends_it(
        sessions: Any, settings: Any, receiver: Receiver) -> None:
    from harness.notify.greenhouse import callbacks_due
    from harness.store.db import transaction
    from harness.store.models import PartnerInterview, utcnow

    key = make_key(sessions, settings, "red")
    refused = {"http://127.0.0.1:1/x": "only https://", "https://127.0.0.1/x": "a loopback address",
               "https://169.254.169.254/latest": "link-local"}
    ids = {}
    for url in refused:
        invite_id, pid = partner_interview(sessions, key, callback_url=url)
        grade(sessions, settings, invite_id)
        ids[pid] = url
    now = utcnow()
    assert callbacks_due(settings, sessions, now) == 0
    with sessions() as s:
        for pi in s.scalars(select(PartnerInterview)):
            says = refused[ids[pi.partner_interview_id]]
            assert pi.callback_state == "pending" and says in pi.callback_last_error, pi.callback_last_error
            assert pi.callback_last_error.startswith("callback URL")
    assert receiver.seen == []
    # a day after the first try, the next failure is the last
    with transaction(sessions) as s:
        for pi in s.scalars(select(PartnerInterview)):
            pi.callback_since = now - dt.timedelta(days=1)
    assert callbacks_due(settings, sessions, now + dt.timedelta(minutes=1)) == 0
    with sessions() as s:
        assert {pi.callback_state for pi in s.scalars(select(PartnerInterview))} == {"failed"}
        assert all(pi.callback_next_at is None for pi in s.scalars(select(PartnerInterview)))


# -- Greenhouse's whole documented sequence against a real grading ---------------------------------------------
SECRET = "greenhouse-flow-tests-grader-secret-3b9d70-0123456789abcdef"
SCENARIOS = "stable-messy,operations"  # as test_api_flow: a reduced held-back set keeps the grading short
GRADED_WITHIN_S = 300.0


def _tail(log: Path) -> Callable[[], str]:
    return lambda: log.read_text(errors="replace")[-3000:] if log.is_file() else "(no worker log)"


@pytest.fixture
def worker(settings: Any, db_url: str, app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`shiftwork worker` on the app's data folder and database (as in test_api_flow); yields its log file."""
    # the in-process app builds the bundle, the worker grades: one grader secret for both, never the machine's
    monkeypatch.setenv("SHIFTWORK_SECRET", SECRET)
    monkeypatch.delenv("SHIFTWORK_GRADE_SCENARIOS", raising=False)
    yield from running_worker(settings, db_url, app, name="greenhouse", scenarios=SCENARIOS)


def _submission(bundle: bytes, dest: Path) -> Path:
    """solutions/reference with the downloaded bundle's data/train.csv and .exercise.json, zipped."""
    from harness.solutions import materialize_solution

    folder = materialize_solution(EX, "reference", dest / "work", seed=7)
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        train = next(n for n in zf.namelist() if n.endswith("data/train.csv"))
        prefix = train[: -len("data/train.csv")]
        for member, target in ((train, "data/train.csv"), (prefix + ".exercise.json", ".exercise.json")):
            with zf.open(member) as src, (folder / target).open("wb") as out:
                shutil.copyfileobj(src, out)
    return zip_folder(folder, dest / "submission.zip")


@pytest.mark.docker
@pytest.mark.slow
def test_greenhouse_lists_sends_polls_and_is_called_back_after_a_real_grading(
        client: Any, api: Any, sessions: Any, settings: Any, inbox: Inbox, receiver: Receiver, worker: Path,
        tmp_path: Path) -> None:
    from standardwebhooks import Webhook

    from harness.notify.dispatch import dispatch_due
    from harness.store.models import PartnerInterview

    key = make_key(sessions, settings, "acme")
    greenhouse = basic(key)
    # the team also has a webhook for grading.finished: the real grading must deliver it signed
    hook = api.post("/api/v1/webhooks", json={"url": receiver.url("/hooks"), "events": ["grading.finished"],
                                              "team": "acme"})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]

    def status(pid: str) -> dict[str, Any]:
        r = client.get(GH + "/test_status", params={"partner_interview_id": pid}, headers=greenhouse)
        assert r.status_code == 200, r.text
        return r.json()

    # 1. list_tests: the stage's test is picked from it
    tests = client.get(GH + "/list_tests", headers=greenhouse).json()
    test = next(t for t in tests if t["partner_test_id"] == EX)
    # 2. send_test with the candidate and the URL to PATCH; the answer is only the partner interview id
    sent = client.post(GH + "/send_test", json=send_body("ada@example.com", test["partner_test_id"], receiver.url()),
                       headers=greenhouse)
    assert sent.status_code == 200, sent.text
    pid = sent.json()["partner_interview_id"]
    assert status(pid)["partner_status"] == "sent"
    # 3. the candidate's e-mail reaches the SMTP server; its link is the candidate's way in
    assert dispatch_due(settings, sessions).mail >= 1
    (mail,) = [m for m in inbox.messages if m["To"] == "ada@example.com"]
    (path,) = set(re.findall(r"http://testserver(/i/[A-Za-z0-9_-]+)", mail.get_body(("plain",)).get_content()))
    page = client.get(path)
    assert page.status_code == 200 and "Ada Lovelace" in page.text
    bundle = client.get(path + "/bundle.zip")
    assert bundle.status_code == 200, bundle.text[:500]
    archive = _submission(bundle.content, tmp_path)
    uploaded = client.post(path + "/upload", data={"csrf_token": csrf_of(client.get(path).text)},
                           files={"file": (archive.name, archive.read_bytes(), "application/zip")},
                           headers={"Accept": "application/json"})
    assert uploaded.status_code == 201, uploaded.text
    assert status(pid)["partner_status"] == "submitted"
    # 4. the worker grades it; Greenhouse polls until complete
    done = wait_for(lambda: (lambda s: s if s["partner_status"] == "complete" else None)(status(pid)),
                    GRADED_WITHIN_S, "test_status to say complete", _tail(worker), every=2.0)
    # the reduced scenario set scores the reference near 55 (see test_api_flow)
    assert done["partner_score"] is not None and done["partner_score"] > 50, done
    assert done["metadata"]["Result"] == "graded"
    assert done["partner_profile_url"].startswith("http://testserver/invites/")
    # 5. the worker's grading.finished scheduled the callback; the dispatcher sends the documented PATCH
    with sessions() as s:
        assert s.scalar(select(PartnerInterview.callback_state)) == "pending"
    sent_now = dispatch_due(settings, sessions)
    assert (sent_now.callbacks, sent_now.webhooks) == (1, 1)
    assert [(r.method, r.path, r.authorization, r.body) for r in receiver.seen if r.method == "PATCH"] == [
        ("PATCH", "/integrations/testing_partners/take_home_tests/12345", greenhouse["Authorization"], b"")]
    (hooked,) = [r for r in receiver.seen if r.method == "POST"]
    event = Webhook(secret).verify(hooked.body, hooked.headers)  # raises unless signed with the team's secret
    assert event["type"] == "grading.finished" and event["data"]["status"] == "graded"
    assert round(event["data"]["score"], 1) == done["partner_score"] and "Ada" not in hooked.body.decode()
    with sessions() as s:
        assert s.scalar(select(PartnerInterview.callback_state)) == "sent"
    assert status(pid) == done  # what Greenhouse reads when the PATCH makes it ask
