"""E-mail through a real SMTP server on 127.0.0.1 (aiosmtpd): the invite link (page and API), the reminder
(time-controlled: send_due gets `now`), cancelled and moved reminders, the recruiter's graded notice,
failures and retries, STARTTLS with AUTH, admin templates and the /admin/mail page. No grading runs."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme
from _smtp_env import Logins, SmtpServer, server_tls_context
from _webdata import add_graded_job, add_upload, csrf_of, make_report, new_invite
from sqlalchemy import select

from harness.notify import emit, mail
from harness.notify.dispatch import dispatch_due
from harness.store.db import transaction
from harness.store.models import Base, Invite, Message, utcnow
from harness.store.settings import SmtpSettings, build_settings

pytestmark = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True, scope="module")
EX = "support-triage"
ADA = "ada@example.com"
SENDER = "hiring@example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, smtp: SmtpServer) -> Any:
    """The conftest's settings, with an SMTP server (plain, on 127.0.0.1) and links on http://testserver."""
    return build_settings(tmp_path / "data", database_url=db_url, env={}, embedded_worker=False,
                          public_url="http://testserver", reminder_before_h=24.0,
                          smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", sender=SENDER,
                                            timeout_s=5.0))


@pytest.fixture(autouse=True)
def _no_bundle_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Opening the candidate page starts a bundle build on a thread; these tests only need the page.
    from harness.web import bundles

    monkeypatch.setattr(bundles, "start_in_background", lambda *a, **k: False)


def _send(app: Any, now: dt.datetime | None = None) -> int:
    return mail.send_due(app.state.settings, app.state.sessions, now or utcnow())


def _deadline(days: float = 3) -> dt.datetime:
    return (utcnow() + dt.timedelta(days=days)).replace(microsecond=0)


def _api_invite(api: Any, *, email: str | None = ADA, deadline: dt.datetime | None = None,
                send_email: bool = True) -> dict[str, Any]:
    r = api.post("/api/v1/invites", json={"candidate_name": "Ada Lovelace", "email": email, "exercise": EX,
                                          "deadline": (deadline or _deadline()).isoformat() + "Z",
                                          "send_email": send_email})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _messages(app: Any, **where: Any) -> list[Message]:
    with app.state.sessions() as s:
        return list(s.scalars(select(Message).filter_by(**where).order_by(Message.id)))


def _assert_nothing_in_clear(app: Any, *secrets: str) -> None:
    """Every text column of every table: no link, no token."""
    with app.state.sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).all():
                for value in row:
                    text = json.dumps(value) if isinstance(value, (dict, list)) else value
                    if isinstance(text, str):
                        for secret in secrets:
                            assert secret not in text, f"{table.name} holds a secret in clear"


# --- the link ------------------------------------------------------------------------------------


def test_invite_form_with_send_by_email_delivers_one_message_whose_link_works(logged_in: Any, app: Any,
                                                                               smtp: SmtpServer) -> None:
    page = logged_in.get("/")
    assert 'id="invite-send-email"' in page.text
    r = logged_in.post("/invites", data={"csrf_token": csrf_of(page.text), "candidate_name": "Ada Lovelace",
                                         "email": ADA, "exercise": EX, "deadline": _deadline(5).date().isoformat(),
                                         "send_email": "true"})
    assert r.status_code == 200 and 'id="link-emailed"' in r.text and ADA in r.text
    shown = r.text.split('id="invite-link" class="invite-link" value="')[1].split('"')[0]  # still shown once
    assert shown.startswith("http://testserver/i/")

    sent = dispatch_due(app.state.settings, app.state.sessions)  # the dispatch thread's own pass
    assert sent.mail == 1 and len(smtp.kept) == 1
    got = smtp.kept[0]
    assert got.rcpt_tos == [ADA] and got.sender == SENDER and got.message["To"] == ADA
    assert got.message["Message-ID"] and got.message["Date"] and "Support" in got.message["Subject"]
    assert shown in got.part("plain") and f'href="{shown}"' in got.part("html")
    assert "Ada Lovelace" in got.part("plain")
    assert logged_in.get(shown).status_code == 200  # the candidate page

    assert _send(app) == 0 and len(smtp.kept) == 1  # once; the reminder waits for its time
    assert [(m.kind, m.state) for m in _messages(app)] == [("invite_link", "sent"), ("reminder", "queued")]
    _assert_nothing_in_clear(app, shown, shown.rpartition("/")[2])
    detail = logged_in.get(f"/invites/{_messages(app)[0].invite_id}")
    assert 'id="invite-mail"' in detail.text and 'data-state="sent"' in detail.text


def test_csv_import_can_send_each_link_by_email(logged_in: Any, app: Any, smtp: SmtpServer) -> None:
    page = logged_in.get("/")
    deadline = _deadline(5).date().isoformat()
    data = f"name,email,exercise,deadline\nAda,{ADA},{EX},{deadline}\nBo,,{EX},{deadline}\n".encode()
    r = logged_in.post("/invites/import", data={"csrf_token": csrf_of(page.text), "send_email": "true"},
                       files={"file": ("invites.csv", data, "text/csv")})
    assert r.status_code == 200, r.text
    assert "(e-mailed)" in r.text and "(not e-mailed: the invite has no e-mail address)" in r.text
    assert _send(app) == 1 and smtp.kept[0].rcpt_tos == [ADA]


def test_api_send_email_queues_the_link_and_says_why_not_when_it_cannot(app: Any, api: Any,
                                                                      smtp: SmtpServer) -> None:
    created = _api_invite(api)
    assert created["email_queued"] is True and created["email_note"] is None
    assert _send(app) == 1 and len(smtp.kept) == 1
    assert smtp.kept[0].rcpt_tos == [ADA]
    assert created["link"] in smtp.kept[0].part("plain") and created["link"] in smtp.kept[0].part("html")
    assert api.get(created["link"]).status_code == 200
    _assert_nothing_in_clear(app, created["link"], created["link"].rpartition("/")[2])

    no_address = _api_invite(api, email=None)
    assert no_address["email_queued"] is False and no_address["email_note"] == "the invite has no e-mail address"
    not_asked = _api_invite(api, send_email=False)
    assert not_asked["email_queued"] is False and not_asked["email_note"] is None
    app.state.settings = dataclasses.replace(app.state.settings, smtp=None)
    no_server = _api_invite(api)
    assert no_server["email_queued"] is False and no_server["email_note"] == "no SMTP server set"
    assert len(_messages(app, kind="invite_link")) == 1 and _send(app) == 0 and len(smtp.kept) == 1


# --- the reminder --------------------------------------------------------------------------------


def test_the_reminder_arrives_at_its_time_with_the_same_working_link(app: Any, api: Any, smtp: SmtpServer) -> None:
    deadline = _deadline(3)
    created = _api_invite(api, deadline=deadline)
    assert _send(app) == 1
    at = deadline - dt.timedelta(hours=24)
    assert _send(app, at - dt.timedelta(minutes=1)) == 0 and len(smtp.kept) == 1
    assert _send(app, at + dt.timedelta(minutes=1)) == 1 and len(smtp.kept) == 2
    reminder = smtp.kept[1]
    assert reminder.message["Subject"].startswith("Reminder") and reminder.rcpt_tos == [ADA]
    assert created["link"] in reminder.part("plain") and created["link"] in reminder.part("html")
    assert f"{deadline:%Y-%m-%d %H:%M} UTC" in reminder.part("plain")
    assert api.get(created["link"]).status_code == 200
    assert _send(app, at + dt.timedelta(hours=2)) == 0 and len(smtp.kept) == 2


def test_a_reissue_cancels_the_old_reminder_and_mails_the_new_link(logged_in: Any, app: Any, api: Any,
                                                                   smtp: SmtpServer) -> None:
    deadline = _deadline(3)
    old = _api_invite(api, deadline=deadline)
    assert _send(app) == 1
    page = logged_in.get(f"/invites/{old['id']}")
    assert 'id="reissue-send-email"' in page.text
    r = logged_in.post(f"/invites/{old['id']}/reissue", data={"csrf_token": csrf_of(page.text), "send_email": "true"})
    assert r.status_code == 200 and 'id="link-emailed"' in r.text
    new_link = r.text.split('id="invite-link" class="invite-link" value="')[1].split('"')[0]
    assert new_link != old["link"]
    states = [(m.kind, m.state) for m in _messages(app)]
    assert states == [("invite_link", "sent"), ("reminder", "cancelled"), ("invite_link", "queued"),
                      ("reminder", "queued")]
    assert _send(app) == 1
    assert new_link in smtp.kept[1].part("plain") and "no longer works" in smtp.kept[1].part("plain")
    assert _send(app, deadline - dt.timedelta(hours=23)) == 1 and len(smtp.kept) == 3  # one reminder, the new link
    assert new_link in smtp.kept[2].part("plain") and old["link"] not in smtp.kept[2].part("plain")

    # through the API, without send_email: the reminder of the old link goes, nothing new is queued
    again = api.post(f"/api/v1/invites/{old['id']}/reissue")
    assert again.status_code == 200 and again.json()["email_queued"] is False
    with_mail = api.post(f"/api/v1/invites/{old['id']}/reissue", json={"send_email": True})
    assert with_mail.status_code == 200 and with_mail.json()["email_queued"] is True
    assert _send(app) == 1 and with_mail.json()["link"] in smtp.kept[3].part("plain")


def test_a_submission_or_a_disable_cancels_the_reminder_and_an_extension_moves_it(app: Any, api: Any,
                                                                                 smtp: SmtpServer) -> None:
    deadline = _deadline(3)
    submitted, disabled, extended = (_api_invite(api, deadline=deadline) for _ in range(3))
    assert _send(app) == 3
    with transaction(app.state.sessions) as s:
        invite = s.get(Invite, submitted["id"])
        emit(s, app.state.settings, invite, "submission.received", {"upload_id": 1})
    assert api.post(f"/api/v1/invites/{disabled['id']}/disable").status_code == 200
    later = deadline + dt.timedelta(days=2)
    assert api.post(f"/api/v1/invites/{extended['id']}/extend",
                    json={"deadline": later.isoformat() + "Z"}).status_code == 200
    for invite_id in (submitted["id"], disabled["id"]):
        assert [m.state for m in _messages(app, invite_id=invite_id, kind="reminder")] == ["cancelled"]
    assert _send(app, deadline - dt.timedelta(hours=23)) == 0 and len(smtp.kept) == 3  # none at the old time
    assert _send(app, later - dt.timedelta(hours=23)) == 1 and len(smtp.kept) == 4
    moved = smtp.kept[3]
    assert moved.message["Subject"].startswith("Reminder") and extended["link"] in moved.part("plain")
    assert f"{later:%Y-%m-%d %H:%M} UTC" in moved.part("plain")  # rendered with the deadline as it is now


# --- the recruiter's notice ----------------------------------------------------------------------


def test_a_finished_grading_mails_the_invites_creator_with_the_invite_url(app: Any, api: Any, admin_account: Any,
                                                                         smtp: SmtpServer) -> None:
    created = _api_invite(api, send_email=False)
    with transaction(app.state.sessions) as s:
        invite = s.get(Invite, created["id"])
        upload = add_upload(s, app.state.settings, invite)
        report = make_report({"validation": 0.9, "monitoring": 0.8, "degradation": 0.7, "operations": 0.9,
                              "accuracy": 0.6})
        job = add_graded_job(s, app.state.settings, invite, upload, report)
        emit(s, app.state.settings, invite, "grading.finished", {"job_id": job.id, "status": "graded",
                                                                 "score": report.score})
        orphan, _ = new_invite(s, "Nobody's")  # made by no one (a CLI import): no notice
        emit(s, app.state.settings, orphan, "grading.finished", {"job_id": 0, "status": "crashed", "score": None})
    notices = _messages(app, kind="graded_notice")
    assert [(m.recipient, m.invite_id, m.body_sealed) for m in notices] == [(admin_account.email, created["id"], "")]
    assert _send(app) == 1
    got = smtp.kept[0]
    assert got.rcpt_tos == [admin_account.email] and "Ada Lovelace" in got.message["Subject"]
    url = f"http://testserver/invites/{created['id']}"
    assert url in got.part("plain") and f'href="{url}"' in got.part("html")
    assert f"{report.score:.1f}" in got.part("plain") and "graded" in got.part("plain")


# --- failures ------------------------------------------------------------------------------------


def test_a_server_that_is_down_is_shown_and_retried_then_delivered_once(logged_in: Any, app: Any, api: Any,
                                                                        smtp: SmtpServer) -> None:
    smtp.stop()
    created = _api_invite(api)
    now = utcnow()
    assert _send(app, now) == 0
    [message] = _messages(app, kind="invite_link")
    assert message.state == "queued" and message.attempts == 1 and message.next_attempt_at > now
    assert "cannot reach the SMTP server" in message.last_error and "\n" not in message.last_error
    page = logged_in.get(f"/invites/{created['id']}")
    assert "cannot reach the SMTP server" in page.text and "retry now" in page.text

    smtp.start()
    assert _send(app, now + dt.timedelta(seconds=5)) == 0 and smtp.kept == []  # its next try is not due yet
    assert _send(app, message.next_attempt_at + dt.timedelta(seconds=1)) == 1
    assert _send(app, message.next_attempt_at + dt.timedelta(minutes=10)) == 0
    assert len(smtp.kept) == 1 and created["link"] in smtp.kept[0].part("plain")
    [message] = _messages(app, kind="invite_link")
    assert (message.state, message.attempts, message.last_error) == ("sent", 2, "")


def test_a_server_down_for_a_day_fails_the_message_with_backoff_between_tries(app: Any, api: Any,
                                                                              smtp: SmtpServer) -> None:
    smtp.stop()
    _api_invite(api, deadline=_deadline(0.5))
    first = now = utcnow()
    waits = []
    for _ in range(40):
        assert _send(app, now) == 0
        [message] = _messages(app, kind="invite_link")
        if message.state != "queued":
            break
        waits.append((message.next_attempt_at - now).total_seconds())
        now = message.next_attempt_at + dt.timedelta(seconds=1)
    assert message.state == "failed" and message.last_error.endswith("(gave up after a day of tries)")
    assert waits[:3] == [30.0, 60.0, 120.0] and max(waits) == 3 * 3600.0
    assert dt.timedelta(hours=20) < now - first <= dt.timedelta(days=1, seconds=60)
    assert message.attempts == len(waits) + 1


def test_a_refused_recipient_fails_at_once_and_retry_now_sends_it(logged_in: Any, app: Any, api: Any,
                                                                 smtp: SmtpServer) -> None:
    smtp.handler.refuse.add(ADA)
    created = _api_invite(api)
    assert _send(app) == 0
    [message] = _messages(app, kind="invite_link")
    assert message.state == "failed" and message.attempts == 1
    assert message.last_error == "recipient refused: 550 5.1.1 no such mailbox here"
    page = logged_in.get(f"/invites/{created['id']}")
    assert "recipient refused: 550" in page.text and f'action="/invites/{created["id"]}/messages/{message.id}/retry"' \
        in page.text
    assert _send(app, utcnow() + dt.timedelta(hours=1)) == 0  # failed: no more tries on its own

    smtp.handler.refuse.clear()
    r = logged_in.post(f"/invites/{created['id']}/messages/{message.id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert logged_in.post(f"/invites/{created['id']}/messages/{message.id}/retry").status_code == 403  # no CSRF
    assert _send(app) == 1 and smtp.kept[0].rcpt_tos == [ADA]
    [reminder] = _messages(app, kind="reminder")  # scheduled, never tried: "retry now" does not send it early
    row = page.text.split(f'id="mail-{reminder.id}"')[1].split("</tr>")[0]
    assert "retry-mail" not in row and 'data-state="queued"' in row
    r = logged_in.post(f"/invites/{created['id']}/messages/{reminder.id}/retry",
                       data={"csrf_token": csrf_of(page.text)})
    assert "not tried yet" in logged_in.get(r.headers["location"]).text
    assert _messages(app, kind="reminder")[0].next_attempt_at == reminder.next_attempt_at
    with transaction(app.state.sessions) as s:
        other = new_invite(s, "Other")[0].id
    assert logged_in.post(f"/invites/{other}/messages/{message.id}/retry",
                          data={"csrf_token": csrf_of(page.text)}).status_code == 404  # not that invite's


def test_two_dispatchers_never_send_one_message_twice(app: Any, api: Any, smtp: SmtpServer) -> None:
    for _ in range(6):
        _api_invite(api, deadline=_deadline(0.5))  # within the reminder window: link e-mails only
    now, counts = utcnow(), []
    threads = [threading.Thread(target=lambda: counts.append(_send(app, now))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(counts) == 6 and len(smtp.kept) == 6
    assert sorted(m.message["To"] for m in smtp.kept) == [ADA] * 6
    assert len({m.message["Message-ID"] for m in smtp.kept}) == 6


# --- STARTTLS and AUTH ---------------------------------------------------------------------------


def test_starttls_with_login_works_and_the_password_is_never_logged_nor_shown(
        app: Any, api: Any, logged_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # create_default_context trusts the test CA
    password = "s3cret-Pa55word-for-smtp"
    logins = Logins("mailer", password)
    tls = SmtpServer(tls_context=server_tls_context(ca), require_starttls=True, auth_required=True,
                     auth_require_tls=True, authenticator=logins).start()
    try:
        smtp_settings = SmtpSettings(host="127.0.0.1", port=tls.port, security="starttls", user="mailer",
                                     password=password, sender=SENDER, timeout_s=5.0)
        app.state.settings = dataclasses.replace(app.state.settings, smtp=smtp_settings)
        caplog.set_level(logging.DEBUG)
        created = _api_invite(api)
        assert _send(app) == 1 and logins.seen and all(ok for _, ok in logins.seen)
        assert len(tls.kept) == 1 and created["link"] in tls.kept[0].part("plain")

        # a wrong password: retried, the reason says the login was refused, and names no password
        wrong = "Wr0ng-pa55word-guess"
        app.state.settings = dataclasses.replace(app.state.settings,
                                                 smtp=dataclasses.replace(smtp_settings, password=wrong))
        _api_invite(api)
        assert _send(app) == 0
        failed = _messages(app, kind="invite_link")[-1]
        assert failed.state == "queued" and "refused the login of mailer" in failed.last_error
        assert wrong not in failed.last_error

        # a server whose certificate nobody trusts: not sent
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
        app.state.settings = dataclasses.replace(app.state.settings, smtp=smtp_settings)
        assert _send(app, utcnow() + dt.timedelta(minutes=5)) == 0
        assert "certificate" in _messages(app, kind="invite_link")[-1].last_error

        page = logged_in.get("/admin/mail")
        assert page.status_code == 200 and "mailer (password set) at 127.0.0.1" in page.text
        for secret in (password, wrong):
            assert secret not in page.text
            assert not [r for r in caplog.records if secret in r.getMessage()]
    finally:
        tls.stop()


# --- templates and the admin page ----------------------------------------------------------------


def test_an_override_template_changes_what_is_sent_and_a_broken_one_fails_the_message(
        app: Any, api: Any, logged_in: Any, smtp: SmtpServer) -> None:
    overrides = app.state.settings.data_dir / "mail-templates"
    overrides.mkdir()
    (overrides / "invite_link.txt.j2").write_text("Custom words for {{ candidate_name }}: {{ link }}\n")
    created = _api_invite(api)
    assert _send(app) == 1
    assert smtp.kept[0].part("plain") == f"Custom words for Ada Lovelace: {created['link']}\n"
    assert created["link"] in smtp.kept[0].part("html")  # the shipped HTML part still
    page = logged_in.get("/admin/mail")
    assert 'data-name="invite_link.txt.j2" data-overridden="yes"' in page.text

    (overrides / "invite_link.html.j2").write_text("<p>{{ link }} by {{ no_such_variable }}</p>")
    broken = _api_invite(api)
    assert _send(app) == 0
    message = _messages(app, kind="invite_link")[-1]
    assert message.state == "failed" and "\n" not in message.last_error
    assert "invite_link.html.j2" in message.last_error and "'no_such_variable' is undefined" in message.last_error
    page = logged_in.get("/admin/mail")
    assert "template-problem" in page.text and "&#39;no_such_variable&#39; is undefined" in page.text
    assert message.last_error.split(": ")[0] in page.text
    assert broken["link"] not in page.text  # bodies are never shown

    (overrides / "reminder.subject.j2").write_text("{% if %}")
    page = logged_in.get("/admin/mail")
    assert "reminder.subject.j2" in page.text and "line 1" in page.text

    (overrides / "invite_link.html.j2").unlink()  # fixed: retry now sends it
    r = logged_in.post(f"/admin/mail/messages/{message.id}/retry", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert _send(app) == 1 and broken["link"] in smtp.kept[1].part("html")


def test_an_admin_edits_a_template_in_the_app_and_a_broken_one_is_refused_unsaved(
        app: Any, api: Any, client: Any, logged_in: Any, other_account: Any, smtp: SmtpServer) -> None:
    name = "invite_link.subject.j2"
    override = app.state.settings.data_dir / "mail-templates" / name
    page = logged_in.get(f"/admin/mail/templates/{name}")
    assert page.status_code == 200 and "The shipped template is in use" in page.text
    assert "candidate_name" in page.text and "link" in page.text  # the variables it may use
    token = csrf_of(page.text)
    assert logged_in.post(f"/admin/mail/templates/{name}", data={"text": "x"}).status_code == 403  # no CSRF token
    # a template that does not render is refused: nothing written, the admin's text kept in the form
    bad = logged_in.post(f"/admin/mail/templates/{name}", data={"csrf_token": token,
                                                                "text": "Hi {{ candidate_nam }} <keep me>"})
    assert bad.status_code == 400 and "candidate_nam" in bad.text and "is undefined" in bad.text
    assert "Hi {{ candidate_nam }} &lt;keep me&gt;" in bad.text and not override.exists()
    unclosed = logged_in.post(f"/admin/mail/templates/{name}", data={"csrf_token": token, "text": "{% if %}"})
    assert unclosed.status_code == 400 and "line 1" in unclosed.text and not override.exists()
    # a good one is saved and used by the next e-mail
    ok = logged_in.post(f"/admin/mail/templates/{name}",
                        data={"csrf_token": token, "text": "{{ exercise }} for {{ candidate_name }}"})
    assert ok.status_code == 303 and override.read_text() == "{{ exercise }} for {{ candidate_name }}"
    assert "Your override is in use" in logged_in.get(ok.headers["location"]).text
    _api_invite(api)
    assert _send(app) == 1 and smtp.kept[-1].message["Subject"].endswith("for Ada Lovelace")
    # back to the shipped one
    reset = logged_in.post(f"/admin/mail/templates/{name}", data={"csrf_token": token, "reset": "1"})
    assert reset.status_code == 303 and not override.exists()
    # no such template (a name is never a path); another account than an admin: refused
    assert logged_in.get("/admin/mail/templates/..%2Fsecret_key").status_code == 404
    assert logged_in.post("/admin/mail/templates/nope.j2", data={"csrf_token": token, "text": "x"}).status_code == 404
    from conftest import log_in

    logged_in.post("/logout", data={"csrf_token": token})
    assert log_in(client, other_account.email, other_account.password).status_code == 303
    assert client.get(f"/admin/mail/templates/{name}").status_code == 403


def test_admin_mail_page_shows_the_settings_and_the_outbox_and_sends_a_test(
        app: Any, client: Any, logged_in: Any, other_account: Any, smtp: SmtpServer, admin_account: Any) -> None:
    page = logged_in.get("/admin/mail")
    assert page.status_code == 200
    assert f"127.0.0.1:{smtp.port} (none), from {SENDER}" in page.text and "24 h" in page.text
    assert 'id="outbox-empty"' in page.text and str(app.state.settings.data_dir / "mail-templates") in page.text
    assert logged_in.post("/admin/mail/test").status_code == 403  # no CSRF token
    r = logged_in.post("/admin/mail/test", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert len(smtp.kept) == 1 and smtp.kept[0].rcpt_tos == [admin_account.email]
    page = logged_in.get("/admin/mail")
    assert f"a test e-mail was sent to {admin_account.email}" in page.text
    assert 'data-kind="test" data-state="sent"' in page.text

    with transaction(app.state.sessions) as s:
        invite, _ = new_invite(s, "Bo", email="bo@example.com")
        mail.queue_graded_notice(s, app.state.settings, invite, {})  # made by no one: nothing queued
    app.state.settings = dataclasses.replace(app.state.settings, smtp=None)
    page = logged_in.get("/admin/mail")
    assert 'id="smtp-unset"' in page.text
    r = logged_in.post("/admin/mail/test", data={"csrf_token": csrf_of(page.text)})
    assert "no SMTP server set" in logged_in.get(r.headers["location"]).text and len(smtp.kept) == 1

    from conftest import log_in

    logged_in.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert log_in(client, other_account.email, other_account.password).status_code == 303
    assert client.get("/admin/mail").status_code == 403
