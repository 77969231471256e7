"""Signed webhooks against a real receiver (http.server on 127.0.0.1) that verifies every request with the
standardwebhooks library, can fail on purpose, and records what it saw; on SQLite and PostgreSQL.

Time-controlled: the tests pass `now` to deliver_due instead of sleeping through the backoff. Events come
the real way: a grading finished through harness.queue.lease.finish, the candidate's page opened, a
scorecard submitted and a decision recorded through the pages.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from _reviewdata import graded_invite, make_interviewer, post_form
from _webdata import add_upload, csrf_of, new_invite
from conftest import PASSWORD, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from harness.notify import webhooks
from harness.store.db import transaction
from harness.store.models import AuditEvent, Base, WebhookDelivery, WebhookSubscription, utcnow

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")


@dataclass
class Seen:
    headers: dict[str, str]
    body: bytes
    payload: Any  # what verify() returned; None when it refused
    refusal: str
    answered: int


@dataclass
class Receiver:
    """Verifies each request with `secret`, answers 500 while `fail_next` > 0 (then 204), records it all."""

    port: int = 0
    secret: str = ""
    fail_next: int = 0
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/shiftwork"

    def types(self) -> list[str]:
        return [s.payload["type"] for s in self.seen if s.payload]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            payload, refusal = None, ""
            try:
                payload = Webhook(receiver.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                refusal = str(exc)
            with receiver.lock:
                failing = receiver.fail_next > 0
                receiver.fail_next -= 1 if failing else 0
                status = 401 if refusal else 500 if failing else 204
                receiver.seen.append(Seen(headers, body, payload, refusal, status))
            self.send_response(status)
            self.send_header("Content-Length", "0" if status == 204 else "14")
            self.end_headers()
            if status != 204:
                self.wfile.write(b"not today, hi!")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.port = server.server_address[1]
    # shutdown() waits up to one poll: the default half second, paid by every test
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, receiver: Receiver) -> Any:
    """The web tests' settings, with the receiver's host:port allowed (http:// on loopback)."""
    from harness.store.settings import build_settings

    return build_settings(tmp_path / "data", database_url=db_url, env={}, embedded_worker=False, heartbeat_s=10.0,
                          webhook_allowed_hosts=(f"127.0.0.1:{receiver.port}",))


def subscribe(api: Any, receiver: Receiver, events: list[str], team: str | None = None) -> int:
    r = api.post("/api/v1/webhooks", json={"url": receiver.url, "events": events, "team": team})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return int(r.json()["id"])


def deliver(settings: Any, sessions: Any, now: dt.datetime | None = None) -> int:
    return webhooks.deliver_due(settings, sessions, now or utcnow())


def finish_a_grading(settings: Any, sessions: Any, score: float = 81.5) -> int:
    """An invite with an upload and a queued job, claimed by a worker and finished the worker's way."""
    from harness.queue.jobs import create_job
    from harness.queue.lease import Outcome, claim, finish
    from harness.store.models import JobState

    with transaction(sessions) as s:
        invite, _ = new_invite(s, "Ada")
        job = create_job(s, invite, add_upload(s, settings, invite))
        invite_id, job_id = invite.id, job.id
    got = claim(sessions, job_id, "w1", lease_s=30)
    assert got is not None
    assert finish(sessions, got, Outcome(JobState.graded, "graded", score=score, dimensions={"accuracy": 90.0},
                                         report_dir=f"reports/{job_id}/attempt-1"), settings)
    return invite_id


def the_delivery(sessions: Any) -> WebhookDelivery:
    with sessions() as s:
        (only,) = s.scalars(select(WebhookDelivery)).all()
        s.expunge(only)
        return only


def test_a_finished_grading_reaches_the_receiver_signed(settings: Any, sessions: Any, api: Any,
                                                        receiver: Receiver) -> None:
    subscribe(api, receiver, ["grading.finished"])
    invite_id = finish_a_grading(settings, sessions, score=81.5)
    assert deliver(settings, sessions) == 1
    (seen,) = receiver.seen
    assert seen.refusal == "" and seen.answered == 204  # the receiver verified the signature
    assert seen.payload["type"] == "grading.finished"
    assert seen.payload["timestamp"].endswith("Z")
    data = seen.payload["data"]
    assert (data["invite_id"], data["status"], data["score"]) == (invite_id, "graded", 81.5)
    assert "Ada" not in seen.body.decode()  # the candidate's name stays in the app
    assert seen.headers["Content-Type"] == "application/json" and "shiftwork" in seen.headers["User-Agent"]
    assert seen.headers["webhook-id"].startswith("msg_")
    # the body is exactly the bytes stored (and signed): compact, keys sorted
    assert seen.body == json.dumps(seen.payload, separators=(",", ":"), sort_keys=True).encode()
    assert seen.body.decode() == the_delivery(sessions).payload
    assert deliver(settings, sessions) == 0 and len(receiver.seen) == 1  # delivered once
    # a wrong secret does not verify: the check above means something
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(seen.body, seen.headers)


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_try(
        settings: Any, sessions: Any, api: Any, logged_in: Any, receiver: Receiver) -> None:
    sub_id = subscribe(api, receiver, ["grading.finished"])
    receiver.fail_next = 3
    finish_a_grading(settings, sessions)
    now = utcnow()
    assert deliver(settings, sessions, now) == 0 and len(receiver.seen) == 1
    assert deliver(settings, sessions, now + dt.timedelta(seconds=20)) == 0  # too early: backoff is 30 s
    assert len(receiver.seen) == 1
    for wait_s in (31, 62, 122):  # 30, 60, 120 s of backoff
        pending = the_delivery(sessions)
        assert pending.state == "pending" and pending.next_attempt_at > now
        now += dt.timedelta(seconds=wait_s)
        deliver(settings, sessions, now)
    assert [s.answered for s in receiver.seen] == [500, 500, 500, 204]
    assert all(s.refusal == "" for s in receiver.seen)  # each try verified, with its own fresh timestamp
    assert len({s.headers["webhook-id"] for s in receiver.seen}) == 1
    assert len({s.headers["webhook-timestamp"] for s in receiver.seen}) == 4
    done = the_delivery(sessions)
    assert (done.state, done.attempts) == ("delivered", 4)

    listed = api.get(f"/api/v1/webhooks/{sub_id}/deliveries").json()
    assert [a["status_code"] for a in listed[0]["log"]] == [500, 500, 500, 204]
    assert listed[0]["log"][0]["error"] == "HTTP 500: not today, hi!" and listed[0]["log"][3]["error"] == ""
    assert listed[0]["message_id"] == receiver.seen[0].headers["webhook-id"] and listed[0]["state"] == "delivered"
    page = logged_in.get(f"/webhooks/{sub_id}").text
    assert page.count('class="attempt" data-status="500"') == 3 and page.count('data-status="204"') == 1
    assert done.message_id in page and page.count("HTTP 500: not today, hi!") == 3
    assert "grading.finished: delivered" in logged_in.get("/webhooks").text

    # by hand, from the API then from the page: the same message, a fifth and a sixth request, logged manual
    r = api.post(f"/api/v1/webhook-deliveries/{done.id}/redeliver")
    assert r.status_code == 200 and r.json()["state"] == "redeliver"
    assert api.post(f"/api/v1/webhook-deliveries/{done.id}/redeliver").status_code == 400  # already queued
    assert deliver(settings, sessions) == 1 and len(receiver.seen) == 5
    assert receiver.seen[4].headers["webhook-id"] == receiver.seen[0].headers["webhook-id"]
    assert post_form(logged_in, f"/webhooks/{sub_id}", f"/webhook-deliveries/{done.id}/redeliver",
                     {}).status_code == 303
    assert deliver(settings, sessions) == 1 and len(receiver.seen) == 6
    log = api.get(f"/api/v1/webhooks/{sub_id}/deliveries").json()[0]["log"]
    assert [a["manual"] for a in log] == [False] * 4 + [True, True]
    assert logged_in.get(f"/webhooks/{sub_id}").text.count('data-manual="yes"') == 2
    with sessions() as s:
        audited = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert audited.count("webhook_redelivered") == 2 and "webhook_created" in audited


def test_a_delivery_gives_up_after_a_day(settings: Any, sessions: Any, api: Any, receiver: Receiver) -> None:
    subscribe(api, receiver, ["grading.finished"])
    receiver.fail_next = 10**6
    finish_a_grading(settings, sessions)
    created = the_delivery(sessions).created_at
    deliver(settings, sessions, created)
    # the receiver's clock check aside (a day ahead is refused, and answered 401): every try fails
    now, tries = created, 1
    while the_delivery(sessions).state == "pending":
        now = the_delivery(sessions).next_attempt_at + dt.timedelta(seconds=1)
        deliver(settings, sessions, now)
        tries += 1
        assert tries < 40
    gone = the_delivery(sessions)
    assert gone.state == "failed" and gone.attempts == tries and now - created < dt.timedelta(days=1, hours=4)


def test_two_dispatchers_never_send_one_delivery_twice(settings: Any, sessions: Any, api: Any,
                                                       receiver: Receiver) -> None:
    subscribe(api, receiver, ["grading.finished"])
    finish_a_grading(settings, sessions)
    barrier, sent = threading.Barrier(4), []

    def run() -> None:
        barrier.wait()
        sent.append(deliver(settings, sessions))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(sent) == [0, 0, 0, 1] and len(receiver.seen) == 1


def test_the_secret_is_sealed_shown_once_and_never_logged(settings: Any, sessions: Any, api: Any, logged_in: Any,
                                                          receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    page = logged_in.get("/webhooks").text
    made = logged_in.post("/webhooks", data={"csrf_token": csrf_of(page), "team": "Default", "url": receiver.url,
                                             "events": ["grading.finished", "invite.opened"]})
    assert made.status_code == 200, made.text
    secret = made.text.split('id="webhook-secret" class="invite-link" value="')[1].split('"')[0]
    assert secret.startswith("whsec_") and len(Webhook(secret)._whsecret) == 32
    receiver.secret = secret
    body = secret.removeprefix("whsec_")
    with sessions() as s:
        sub = s.scalars(select(WebhookSubscription)).one()
        sub_id, sealed = sub.id, sub.secret_sealed
    assert sealed and body not in sealed
    finish_a_grading(settings, sessions)
    assert deliver(settings, sessions) == 1 and receiver.seen[0].refusal == ""  # signed with that very secret
    # no clear copy anywhere in the database
    with sessions() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).all():
                assert body not in repr(tuple(row)), table.name
    # never again on a page or in an API answer
    for client, path in ((logged_in, "/webhooks"), (logged_in, f"/webhooks/{sub_id}"), (logged_in, "/admin"),
                         (api, "/api/v1/webhooks"), (api, f"/api/v1/webhooks/{sub_id}"),
                         (api, f"/api/v1/webhooks/{sub_id}/deliveries")):
        r = client.get(path)
        assert r.status_code == 200 and body not in r.text, path
    assert "whsec_••••••••" in logged_in.get(f"/webhooks/{sub_id}").text
    assert "secret" not in api.get(f"/api/v1/webhooks/{sub_id}").json()
    # a new secret: shown once, the old one signs nothing any more
    rotated = post_form(logged_in, f"/webhooks/{sub_id}", f"/webhooks/{sub_id}/rotate", {})
    fresh = rotated.text.split('id="webhook-secret" class="invite-link" value="')[1].split('"')[0]
    assert fresh != secret and fresh.startswith("whsec_")
    finish_a_grading(settings, sessions)
    deliver(settings, sessions)
    assert receiver.seen[-1].refusal == "No matching signature found"  # the receiver still holds the old one
    assert "created webhook" in caplog.text and "webhook msg_" in caplog.text  # the logs were captured
    assert body not in caplog.text and fresh.removeprefix("whsec_") not in caplog.text
    with sessions() as s:
        details = " ".join(e.detail for e in s.scalars(select(AuditEvent)))
    assert body not in details and fresh.removeprefix("whsec_") not in details


def test_invite_opened_scorecard_submitted_and_decision_recorded_reach_a_subscriber(
        app: Any, settings: Any, sessions: Any, api: Any, logged_in: Any, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.web import bundles

    monkeypatch.setattr(bundles, "start_in_background", lambda *a, **k: None)  # no bundle build: not the point
    subscribe(api, receiver, ["invite.opened", "scorecard.submitted", "decision.recorded"])
    with transaction(sessions) as s:
        invite, _, link = graded_invite(s, settings)
        make_interviewer(s, "ivy@example.com")
        invite_id = invite.id
    with TestClient(app, follow_redirects=False) as candidate:
        assert candidate.get(link.removeprefix("http://testserver")).status_code == 200
        assert candidate.get(link.removeprefix("http://testserver")).status_code == 200  # opened once
    assert deliver(settings, sessions) == 1 and receiver.types() == ["invite.opened"]
    assert receiver.seen[0].payload["data"]["invite_id"] == invite_id

    from harness.store.models import Recruiter

    with sessions() as s:
        ivy_id = s.scalar(select(Recruiter.id).where(Recruiter.email == "ivy@example.com"))
    assert post_form(logged_in, f"/invites/{invite_id}", f"/invites/{invite_id}/interviewers",
                     {"interviewer_id": str(ivy_id)}).status_code == 303
    with TestClient(app, follow_redirects=False) as ivy:
        assert log_in(ivy, "ivy@example.com", PASSWORD).status_code == 303
        page = ivy.get(f"/reviews/{invite_id}").text
        import re

        scores = {f"score:{q}": "3" for q in set(re.findall(r'name="score:([^"]+)"', page))}
        r = ivy.post(f"/reviews/{invite_id}/scorecard", data={"csrf_token": csrf_of(page), **scores,
                                                              "recommendation": "yes", "summary": "solid",
                                                              "action": "submit"})
        assert r.status_code == 303, r.text
    url = f"/invites/{invite_id}/decision"
    assert post_form(logged_in, url, url, {"outcome": "advance", "reason": "strong drift work"}).status_code == 303
    assert deliver(settings, sessions) == 2
    assert receiver.types() == ["invite.opened", "scorecard.submitted", "decision.recorded"]
    assert all(s.refusal == "" for s in receiver.seen)
    assert receiver.seen[1].payload["data"]["recommendation"] == "yes"
    decided = receiver.seen[2].payload["data"]
    assert decided["outcome"] == "advance" and "strong drift work" not in receiver.seen[2].body.decode()


def test_only_the_events_subscribed_to_and_only_the_teams_own(settings: Any, sessions: Any, api: Any,
                                                              receiver: Receiver) -> None:
    subscribe(api, receiver, ["decision.recorded"])  # the Default team's
    finish_a_grading(settings, sessions)  # grading.finished: not subscribed
    with transaction(sessions) as s:
        from harness.store.teams import team_named

        other = team_named(s, "Elsewhere")
        invite, _ = new_invite(s, "Bo")
        invite.team_id = other.id
        s.flush()
        from harness.notify import emit

        emit(s, settings, invite, "decision.recorded", {"decision_id": 1, "outcome": "hold"})  # another team's
    assert deliver(settings, sessions) == 0 and receiver.seen == []


def test_a_recruiter_manages_only_their_teams_subscriptions(app: Any, settings: Any, sessions: Any, api: Any,
                                                           logged_in: Any, receiver: Receiver) -> None:
    from harness.web.accounts import create_api_token, create_recruiter

    sub_id = subscribe(api, receiver, ["grading.finished"])
    finish_a_grading(settings, sessions)
    deliver(settings, sessions)
    delivery_id = the_delivery(sessions).id
    with transaction(sessions) as s:
        create_recruiter(s, "rita@example.com", PASSWORD, teams=["Elsewhere"])
        make_interviewer(s, "ivy@example.com")
        rita_token = create_api_token(s, "rita@example.com")
        ivy_token = create_api_token(s, "ivy@example.com")
    rita = TestClient(app, follow_redirects=False)
    ivy = TestClient(app, follow_redirects=False)
    rita_api = TestClient(app, follow_redirects=False, headers={"Authorization": f"Bearer {rita_token}"})
    ivy_api = TestClient(app, follow_redirects=False, headers={"Authorization": f"Bearer {ivy_token}"})
    try:
        assert log_in(rita, "rita@example.com", PASSWORD).status_code == 303
        assert log_in(ivy, "ivy@example.com", PASSWORD).status_code == 303
        listing = rita.get("/webhooks")
        assert listing.status_code == 200 and receiver.url not in listing.text
        assert 'value="Elsewhere"' in listing.text and 'value="Default"' not in listing.text
        assert rita.get(f"/webhooks/{sub_id}").status_code == 404
        page = rita.get("/webhooks").text
        for action in (f"/webhook-deliveries/{delivery_id}/redeliver", f"/webhooks/{sub_id}/delete",
                       f"/webhooks/{sub_id}/rotate", f"/webhooks/{sub_id}/active"):
            assert rita.post(action, data={"csrf_token": csrf_of(page)}).status_code == 404, action
        assert rita_api.get("/api/v1/webhooks").json() == []
        for method, path in (("GET", f"/api/v1/webhooks/{sub_id}"), ("GET", f"/api/v1/webhooks/{sub_id}/deliveries"),
                             ("DELETE", f"/api/v1/webhooks/{sub_id}"),
                             ("POST", f"/api/v1/webhook-deliveries/{delivery_id}/redeliver"),
                             ("POST", f"/api/v1/webhooks/{sub_id}/rotate-secret")):
            assert rita_api.request(method, path).status_code == 404, path
        refused = rita_api.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["invite.opened"],
                                                          "team": "Default"})
        assert refused.status_code == 400 and "not a team of yours" in refused.json()["detail"]
        own = rita_api.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["invite.opened"]})
        assert own.status_code == 201 and own.json()["team"] == "Elsewhere"
        assert [w["team"] for w in rita_api.get("/api/v1/webhooks").json()] == ["Elsewhere"]
        assert sorted(w["team"] for w in api.get("/api/v1/webhooks").json()) == ["Default", "Elsewhere"]
        # an interviewer has no webhooks at all
        assert ivy.get("/webhooks").status_code == 303  # sent to their reviews
        assert ivy.post(f"/webhook-deliveries/{delivery_id}/redeliver",
                        data={"csrf_token": csrf_of(ivy.get("/reviews").text)}).status_code == 403
        assert ivy_api.get("/api/v1/webhooks").status_code == 403
        assert ivy_api.post(f"/api/v1/webhook-deliveries/{delivery_id}/redeliver").status_code == 403
    finally:
        for c in (rita, ivy, rita_api, ivy_api):
            c.close()
    assert the_delivery(sessions).state == "delivered"  # nothing was queued again
    # the admin deletes it: gone with its deliveries, audited
    assert post_form(logged_in, f"/webhooks/{sub_id}", f"/webhooks/{sub_id}/delete", {}).status_code == 303
    with sessions() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "webhook_deleted")) is not None


@pytest.mark.parametrize("url, reason", [
    ("http://93.184.215.14/hook", "webhook URL http://93.184.215.14/hook: only https:// is allowed"),
    ("https://10.0.0.3/hook", "webhook URL https://10.0.0.3/hook: resolves to 10.0.0.3, a private address; "
                              "allow the host with --webhook-allowed-host if it is yours"),
    ("https://127.0.0.1:9/hook", "webhook URL https://127.0.0.1:9/hook: resolves to 127.0.0.1, a loopback address"),
])
def test_a_url_the_policy_refuses_is_refused_with_its_reason(api: Any, logged_in: Any, sessions: Any, url: str,
                                                             reason: str) -> None:
    r = api.post("/api/v1/webhooks", json={"url": url, "events": ["grading.finished"]})
    assert r.status_code == 400 and r.json()["detail"].startswith(reason)
    page = logged_in.get("/webhooks").text
    r = logged_in.post("/webhooks", data={"csrf_token": csrf_of(page), "team": "Default", "url": url,
                                          "events": ["grading.finished"]})
    assert r.status_code == 400 and reason.replace("'", "&#39;") in r.text
    assert 'id="webhook-secret"' not in r.text
    no_events = api.post("/api/v1/webhooks", json={"url": "https://93.184.215.14/h", "events": []})
    assert no_events.status_code == 422
    unknown = api.post("/api/v1/webhooks", json={"url": "https://93.184.215.14/h", "events": ["invite.eaten"]})
    assert unknown.status_code == 400 and "not an event: 'invite.eaten'" in unknown.json()["detail"]
    none = logged_in.post("/webhooks", data={"csrf_token": csrf_of(page), "team": "Default",
                                             "url": "https://93.184.215.14/h"})
    assert none.status_code == 400 and "pick at least one event" in none.text
    forged = logged_in.post("/webhooks", data={"csrf_token": "forged", "team": "Default",
                                               "url": "https://93.184.215.14/h", "events": ["grading.finished"]})
    assert forged.status_code == 403
    with sessions() as s:
        assert s.scalars(select(WebhookSubscription)).all() == []


def test_a_delivery_the_policy_refuses_now_fails_that_try_with_the_reason(
        settings: Any, sessions: Any, api: Any, receiver: Receiver) -> None:
    sub_id = subscribe(api, receiver, ["grading.finished"])
    with transaction(sessions) as s:  # as if the address had changed since the subscription was made
        s.get(WebhookSubscription, sub_id).url = "https://10.0.0.3/hook"
    finish_a_grading(settings, sessions)
    assert deliver(settings, sessions) == 0 and receiver.seen == []
    (attempt,) = api.get(f"/api/v1/webhooks/{sub_id}/deliveries").json()[0]["log"]
    assert attempt["status_code"] is None and "resolves to 10.0.0.3, a private address" in attempt["error"]
    assert the_delivery(sessions).state == "pending"  # retried later, with backoff
