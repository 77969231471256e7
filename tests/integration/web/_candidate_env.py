"""What the candidate-side tests share: an app on SQLite or PostgreSQL, invites made with the models,
one bundle built once per test process by the app's own code, and a real uvicorn server."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import select

EXERCISE = "support-triage"
CANDIDATE = "ada"
SECRET = "candidate-tests-grader-secret-5c1d9e-0123456789abcdef"
UPLOAD_CAP = 64 * 1024


@dataclass
class Env:
    settings: Any
    app: Any
    client: Any
    enqueued: list[int] = field(default_factory=list)

    @property
    def sessions(self) -> Any:
        return self.app.state.sessions

    def invite(self, *, name: str = "Ada Lovelace", deadline: dt.datetime | None = None, show_score: bool = False,
               disabled: bool = False, bundle: "Source | None" = None) -> tuple[str, int]:
        """A fresh invite (token, id); with `bundle`, a copy of the built bundle is already in place."""
        from harness.store.db import transaction
        from harness.store.models import Invite, utcnow
        from harness.web.security import new_token
        from harness.store.teams import default_team
        from harness.store.timeline import record

        token, token_hash = new_token()
        with transaction(self.sessions) as s:
            inv = Invite(token_hash=token_hash, candidate_name=name, candidate_id=CANDIDATE, exercise=EXERCISE,
                         deadline=deadline or utcnow() + dt.timedelta(days=3), show_score=show_score,
                         disabled_at=utcnow() if disabled else None, created_at=utcnow(),
                         team_id=default_team(s).id)
            s.add(inv)
            s.flush()
            record(s, inv, "created")
            invite_id = inv.id
        if bundle is not None:
            out = self.settings.folder("bundles") / str(invite_id)
            out.mkdir(parents=True)
            shutil.copytree(bundle.folder, out / bundle.folder.name, symlinks=True)
            shutil.copyfile(bundle.zip_path, out / bundle.zip_path.name)
        return token, invite_id

    def rows(self, model: Any, **where: Any) -> list[Any]:
        with self.sessions() as s:
            q = select(model)
            for key, value in where.items():
                q = q.where(getattr(model, key) == value)
            return list(s.scalars(q))

    def events(self, invite_id: int) -> list[str]:
        from harness.store.models import Event

        return [e.kind for e in self.rows(Event, invite_id=invite_id)]


def make_env(data_dir: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch | None,
             **overrides: Any) -> Env:
    """An app on a fresh data folder; with `monkeypatch`, enqueue() is recorded instead of sent."""
    from fastapi.testclient import TestClient

    from harness.web import candidate
    from harness.web.app import create_app
    from harness.store.settings import build_settings

    settings = build_settings(data_dir, database_url=database_url, env={}, **overrides)
    app = create_app(settings)
    env = Env(settings=settings, app=app, client=TestClient(app, follow_redirects=False))

    def enqueue(_settings: Any, job_id: int) -> None:
        # The queue is out of scope here: record the call, and prove the job was committed before it.
        from harness.store.models import Job

        assert env.rows(Job, id=job_id), "enqueue() was called before the job was committed"
        env.enqueued.append(job_id)

    if monkeypatch is not None:
        monkeypatch.setattr(candidate, "enqueue", enqueue)
    return env


def database_url(kind: str, tmp: Path) -> Iterator[str | None]:
    """None (SQLite in the data folder) or a fresh PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    url = os.environ.get("SHIFTWORK_TEST_POSTGRES_URL", "")
    required = os.environ.get("SHIFTWORK_REQUIRE_POSTGRES") == "1"
    if not url:
        if required:
            pytest.fail("SHIFTWORK_REQUIRE_POSTGRES=1 but SHIFTWORK_TEST_POSTGRES_URL is not set")
        pytest.skip("SHIFTWORK_TEST_POSTGRES_URL is not set")
    import psycopg

    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if required:
            pytest.fail(f"PostgreSQL at {url} does not answer: {exc}")
        pytest.skip(f"PostgreSQL does not answer: {exc}")
    name = f"sw_candidate_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class Source:
    """The one bundle the app built in this process (page open + two concurrent downloads)."""

    env: Env
    token: str
    invite_id: int
    folder: Path
    zip_path: Path
    builds: int  # how many times package_bundle ran for it


_SOURCE: dict[str, Source] = {}


def built_source(root: Path) -> Source:
    """Built once per process through the app's code: a first open starts the build in the background,
    two threads ask for it at once; all three must end with one build."""
    if "source" in _SOURCE:
        return _SOURCE["source"]
    from harness.web import bundles

    mp = pytest.MonkeyPatch()
    mp.setenv("SHIFTWORK_SECRET", SECRET)  # never the machine's own grader secret
    env = make_env(root / "data", None, None)
    calls: list[str] = []
    real = bundles.package_bundle

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("candidate", ""))
        return real(*args, **kwargs)

    try:
        mp.setattr(bundles, "package_bundle", counting)  # where the app calls it
        token, invite_id = env.invite()
        page = env.client.get(f"/i/{token}")
        assert page.status_code == 200, page.text
        assert 'id="preparing"' in page.text  # not built yet: the page says so and the build runs behind it
        from harness.store.models import Invite

        invite = env.rows(Invite, id=invite_id)[0]
        got: list[Any] = []
        threads = [threading.Thread(target=lambda: got.append(bundles.ensure(env.settings, env.sessions, invite)))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        deadline = time.monotonic() + 600
        while bundles.building(invite_id) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        mp.undo()
    assert len(got) == 2 and got[0] == got[1] and got[0].ready
    _SOURCE["source"] = Source(env, token, invite_id, got[0].folder, got[0].zip_path, len(calls))
    return _SOURCE["source"]


class Server:
    """A real uvicorn server for `app` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def env_fixture(prefix: str, **settings: Any) -> Any:
    """A module-scoped `env` fixture on SQLite and on PostgreSQL: an app with `settings` passed to make_env."""

    @pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
    def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
        tmp = tmp_path_factory.mktemp(f"{prefix}-{request.param}")
        gen = database_url(request.param, tmp)
        url = next(gen)
        mp = pytest.MonkeyPatch()
        try:
            yield make_env(tmp / "data", url, mp, **settings)
        finally:
            mp.undo()
            gen.close()

    return env
