"""`shiftwork admin create-user`, `shiftwork admin token` and `shiftwork serve` as a user runs them:
real processes, a real server on 127.0.0.1."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from harness.store.db import make_engine, session_factory
from harness.store.models import ApiToken, Recruiter
from harness.web.security import hash_token, verify_password

SW = [str(Path(sys.executable).parent / "shiftwork")]
PASSWORD = "a long enough password"


def _run(*args: str, password: str | None = PASSWORD, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_")}
    if password is not None:
        env["SHIFTWORK_ADMIN_PASSWORD"] = password
    return subprocess.run([*SW, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def _rows(data: Path, model: type) -> list:
    engine = make_engine(f"sqlite:///{data / 'shiftwork.db'}")
    try:
        with session_factory(engine)() as s:
            return list(s.scalars(select(model)))
    finally:
        engine.dispose()


def test_the_first_user_is_an_admin_and_a_token_is_printed_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _run("admin", "create-user", "Boss@Example.com", "--name", "Boss", "--data", str(data))
    assert first.returncode == 0, first.stderr
    second = _run("admin", "create-user", "rita@example.com", "--data", str(data))
    third = _run("admin", "create-user", "sam@example.com", "--admin", "--data", str(data))
    fourth = _run("admin", "create-user", "ivy@example.com", "--role", "interviewer", "--data", str(data))
    assert second.returncode == third.returncode == fourth.returncode == 0
    users = {r.email: r for r in _rows(data, Recruiter)}
    assert users["ivy@example.com"].role == "interviewer" and not users["ivy@example.com"].is_admin
    assert users["rita@example.com"].role == "recruiter"
    assert users["boss@example.com"].is_admin and not users["rita@example.com"].is_admin
    assert users["sam@example.com"].is_admin and users["boss@example.com"].name == "Boss"
    assert verify_password(users["rita@example.com"].password_hash, PASSWORD)
    assert PASSWORD not in users["rita@example.com"].password_hash

    token = _run("admin", "token", "rita@example.com", "--name", "ats", "--data", str(data))
    assert token.returncode == 0
    printed = token.stdout.strip()
    assert printed.startswith("swt_") and len(printed) > 30 and printed not in token.stderr
    [row] = _rows(data, ApiToken)
    assert row.token_hash == hash_token(printed) and row.name == "ats"


def test_admin_commands_refuse_with_one_line(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert _run("admin", "create-user", "a@example.com", "--data", data).returncode == 0
    again = _run("admin", "create-user", "a@example.com", "--data", data)
    short = _run("admin", "create-user", "b@example.com", "--data", data, password="short")
    bad = _run("admin", "create-user", "not an address", "--data", data)
    nobody = _run("admin", "token", "nobody@example.com", "--data", data)
    no_role = _run("admin", "create-user", "d@example.com", "--role", "boss", "--data", data)
    no_password = _run("admin", "create-user", "c@example.com", "--data", data, password=None)
    for result, words in ((again, "exists already"), (short, "too short"), (bad, "not an e-mail address"),
                          (nobody, "no recruiter with the e-mail"), (no_password, "no password given"),
                          (no_role, "not a role")):
        assert result.returncode == 2, result.stderr
        assert words in result.stderr and "Traceback" not in result.stderr
    assert len(_rows(tmp_path / "data", Recruiter)) == 1


def test_a_prompted_password_must_be_typed_twice(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    typed = _run("admin", "create-user", "a@example.com", "--data", data, password=None,
                 stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert typed.returncode == 0, typed.stderr
    [user] = _rows(tmp_path / "data", Recruiter)
    assert verify_password(user.password_hash, PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_listens_on_loopback_only_and_serves_pages_and_api(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _run("admin", "create-user", "a@example.com", "--data", str(data)).returncode == 0
    token = _run("admin", "token", "a@example.com", "--data", str(data)).stdout.strip()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIFTWORK_")}
    proc = subprocess.Popen([*SW, "serve", "--port", str(port), "--data", str(data), "--no-worker"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                login = httpx.get(f"{url}/login", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.3)
        assert login.status_code == 200 and 'id="login-form"' in login.text
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
        addresses = [line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")]
        assert addresses == [f"127.0.0.1:{port}"]
        assert httpx.get(f"{url}/api/v1/invites", timeout=5).status_code == 401
        api = httpx.get(f"{url}/api/v1/invites", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert api.status_code == 200 and api.json() == []
        assert httpx.get(f"{url}/", timeout=5).status_code == 303
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "no embedded worker" in out and f"http://127.0.0.1:{port}/" in out
    assert proc.returncode in (0, -signal.SIGINT, 130), out
