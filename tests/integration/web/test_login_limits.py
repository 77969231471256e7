"""Sign-in limits: wrong passwords per account and attempts per client in a moving window (429 with
Retry-After), a lockout an administrator lifts, and the audit log that shows it all."""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import pytest
from _webdata import csrf_of
from conftest import ADMIN_EMAIL, PASSWORD, log_in, make_account
from sqlalchemy import select

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                                     indirect=True, scope="module")


def _actions(sessions: Any) -> list[str]:
    from harness.store.models import AuditEvent

    with sessions() as s:
        return [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_thirty_wrong_passwords_meet_a_429_before_the_thirtieth(client: Any, admin_account: Any,
                                                                sessions: Any) -> None:
    codes = [log_in(client, admin_account.email, f"wrong {i}").status_code for i in range(30)]
    assert 429 in codes and codes.index(429) < 29, codes
    first = codes.index(429)
    assert set(codes[:first]) == {401} and set(codes[first:]) == {429}
    refused = log_in(client, admin_account.email, PASSWORD)  # the right password does not get past the window
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "too many wrong passwords" in refused.text and "try again in" in refused.text
    actions = _actions(sessions)
    assert actions.count("sign_in_failed") == first and "sign_in_refused" in actions and "sign_in" not in actions


def test_one_client_trying_many_accounts_meets_the_client_window(client: Any, admin_account: Any) -> None:
    codes = [log_in(client, f"guess{i}@example.com", "wrong").status_code for i in range(31)]
    assert codes[:30] == [401] * 30 and codes[30] == 429
    assert log_in(client, admin_account.email, PASSWORD).status_code == 429  # the address, not the account


@pytest.fixture
def strict_app(settings: Any) -> Iterator[Any]:
    """Lockout after 5 wrong passwords (the moving window set wide so that the lockout is what stops them)."""
    from harness.web.app import create_app

    app = create_app(dataclasses.replace(settings, login_limit_account="1000/minute", lockout_after=5))
    yield app
    app.state.engine.dispose()


def test_a_lockout_holds_until_an_admin_lifts_it(strict_app: Any) -> None:
    from conftest import _empty
    from fastapi.testclient import TestClient

    _empty(strict_app.state.engine)
    sessions = strict_app.state.sessions
    admin = make_account(sessions, ADMIN_EMAIL, admin=True)
    rita = make_account(sessions, "rita@example.com", admin=False)
    with TestClient(strict_app, follow_redirects=False) as attacker, \
            TestClient(strict_app, follow_redirects=False) as admin_client:
        assert [log_in(attacker, rita.email, "wrong").status_code for _ in range(5)] == [401] * 5
        locked = log_in(attacker, rita.email, PASSWORD)
        assert locked.status_code == 429 and "locked" in locked.text and int(locked.headers["retry-after"]) > 60
        assert log_in(admin_client, admin.email, PASSWORD).status_code == 303  # other accounts are not locked
        page = admin_client.get("/admin").text
        assert 'data-email="rita@example.com"' in page and "sign_in_failed" in page
        assert "<title>Admin · shiftwork</title>" in page and page.count('id="audit-log"') == 1
        # a recruiter who is not an administrator cannot lift it
        with TestClient(strict_app, follow_redirects=False) as other:
            make_account(sessions, "sam@example.com", admin=False)
            assert log_in(other, "sam@example.com", PASSWORD).status_code == 303
            token = csrf_of(other.get("/").text)
            assert other.post(f"/admin/recruiters/{rita.id}/unlock", data={"csrf_token": token}).status_code == 403
        assert log_in(attacker, rita.email, PASSWORD).status_code == 429
        token = csrf_of(page)
        done = admin_client.post(f"/admin/recruiters/{rita.id}/unlock", data={"csrf_token": token})
        assert done.status_code == 303
        page = admin_client.get("/admin").text
        assert 'data-email="rita@example.com"' not in page and "account_unlocked" in page
        assert log_in(attacker, rita.email, PASSWORD).status_code == 303
    actions = _actions(sessions)
    assert actions.count("sign_in_failed") == 5 and "account_unlocked" in actions and actions[-1] == "sign_in"


def test_invite_changes_and_score_visibility_are_audited(api: Any, sessions: Any) -> None:
    from harness.store.models import AuditEvent

    created = api.post("/api/v1/invites", json={"candidate_name": "Ana", "email": "ana@example.com",
                                                "exercise": "support-triage", "deadline": "2099-01-01"})
    assert created.status_code == 201
    iid = created.json()["id"]
    assert api.post(f"/api/v1/invites/{iid}/show-score", json={"show_score": True}).status_code == 200
    assert api.post(f"/api/v1/invites/{iid}/disable").status_code == 200
    with sessions() as s:
        rows = [(e.action, e.actor, e.target) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert rows == [("invite_created", ADMIN_EMAIL, f"invite {iid}"), ("score_shown", ADMIN_EMAIL, f"invite {iid}"),
                    ("invite_disabled", ADMIN_EMAIL, f"invite {iid}")]


def test_good_sign_ins_from_one_address_are_not_limited(client: Any, admin_account: Any) -> None:
    """An office behind one address: forty good sign-ins in a row all pass."""
    assert [log_in(client, admin_account.email, PASSWORD).status_code for _ in range(40)] == [303] * 40
