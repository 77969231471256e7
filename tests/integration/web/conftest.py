"""Shared fixtures of the web tests: a database (SQLite, or a fresh PostgreSQL database per module),
settings on a temporary data dir, the app, clients (anonymous, logged in, with an API token).

A module runs on PostgreSQL too by parametrizing `db_url` indirectly:

    pytestmark = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                                         marks=pytest.mark.postgres)], indirect=True, scope="module")

PostgreSQL comes from SHIFTWORK_TEST_POSTGRES_URL; without it (or without an answer) the
PostgreSQL variant skips, unless SHIFTWORK_REQUIRE_POSTGRES=1, which makes it fail.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import text

PG_URL_ENV = "SHIFTWORK_TEST_POSTGRES_URL"
PASSWORD = "correct horse battery"
ADMIN_EMAIL = "admin@example.com"
OTHER_EMAIL = "rita@example.com"


def _postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    url = os.environ.get(PG_URL_ENV, "")
    required = os.environ.get("SHIFTWORK_REQUIRE_POSTGRES") == "1"
    miss = pytest.fail if required else pytest.skip
    if not url:
        miss(f"{PG_URL_ENV} is not set (e.g. postgresql://shiftwork:shiftwork@127.0.0.1:5432/shiftwork_test)")
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url).set(drivername="postgresql")
    try:
        admin = psycopg.connect(base.render_as_string(hide_password=False), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        miss(f"PostgreSQL at {base.render_as_string()} does not answer: {str(exc).strip().splitlines()[0]}")
    # A database of its own (not a schema of the shared one): other test processes may use that at once.
    name = f"sw_web_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, at its lowest cost: the default costs about half a second per hash on these machines."""
    from argon2 import PasswordHasher

    from harness.web import auth, security

    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_DUMMY_HASH", [])


@pytest.fixture(scope="module")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One empty database per module (migrations run from empty); tables are emptied per test."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'shiftwork.db'}"
    elif kind == "postgresql":
        yield from _postgres(request)
    else:  # pragma: no cover
        raise ValueError(f"unknown database kind {kind!r}")


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Any:
    from harness.store.settings import build_settings

    return build_settings(tmp_path / "data", database_url=db_url, env={}, embedded_worker=False,
                          heartbeat_s=10.0)


def _empty(engine: Any) -> None:
    from harness.store.models import Base

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def app(settings: Any) -> Any:
    from harness.web.app import create_app

    application = create_app(settings)
    _empty(application.state.engine)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def sessions(app: Any) -> Any:
    return app.state.sessions


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as c:
        yield c


@dataclass
class Account:
    id: int
    email: str
    password: str


def make_account(sessions: Any, email: str, *, admin: bool) -> Account:
    from harness.web.accounts import create_recruiter
    from harness.store.db import transaction

    with transaction(sessions) as s:
        r = create_recruiter(s, email, PASSWORD, name=email.split("@")[0].title(), admin=admin)
        return Account(id=r.id, email=r.email, password=PASSWORD)


@pytest.fixture
def admin_account(sessions: Any) -> Account:
    return make_account(sessions, ADMIN_EMAIL, admin=True)


@pytest.fixture
def other_account(sessions: Any) -> Account:
    return make_account(sessions, OTHER_EMAIL, admin=False)


def log_in(client: Any, email: str, password: str) -> Any:
    from _webdata import csrf_of

    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})


@pytest.fixture
def logged_in(client: Any, admin_account: Account) -> Any:
    """The anonymous client, logged in as the administrator."""
    response = log_in(client, admin_account.email, admin_account.password)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def api_token(sessions: Any, admin_account: Account) -> str:
    from harness.web.accounts import create_api_token
    from harness.store.db import transaction

    with transaction(sessions) as s:
        return create_api_token(s, admin_account.email, name="tests")


@pytest.fixture
def api(app: Any, api_token: str) -> Iterator[Any]:
    """A client sending the administrator's API token."""
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False, headers={"Authorization": f"Bearer {api_token}"}) as c:
        yield c
