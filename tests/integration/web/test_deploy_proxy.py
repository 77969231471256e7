"""The app deployed as a hiring team would: `shiftwork serve` behind a real TLS reverse proxy (Debian's
nginx, started by the test with a throw-away certificate authority), everything on 127.0.0.x.

The client connects from 127.0.0.2 and nginx from 127.0.0.1, so the audit log can tell the real
client's address from the proxy's. Links must start with the configured public URL whatever the
request's Host header says; cookies must carry Secure.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

PASSWORD = "correct horse battery"
PUBLIC = "https://hiring.example.test"  # what the team configured; requests arrive with other Host headers
CLIENT_ADDRESS = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], what: str, **kw: object) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2, **kw)  # type: ignore[arg-type]
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not answer at {url}")


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("SHIFTWORK_REQUIRE_PROXY") == "1":
            pytest.fail("nginx is not installed (apt-get install nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx); SHIFTWORK_REQUIRE_PROXY=1 makes this fail")
    return found


NGINX_CONF = """
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
events {{ worker_connections 128; }}
http {{
  access_log {tmp}/access.log;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  client_max_body_size 60m;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{
      proxy_pass http://127.0.0.1:{app_port};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


class Deployment:
    def __init__(self, url: str, ca: Path, data: Path, token: str) -> None:
        self.url, self.ca, self.data, self.token = url, ca, data, token

    def client(self) -> httpx.Client:
        # from 127.0.0.2: the address the audit log must show (nginx itself connects from 127.0.0.1)
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS, verify=str(self.ca))
        return httpx.Client(base_url=self.url, transport=transport, timeout=30, follow_redirects=False)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    import trustme

    nginx = _nginx()
    tmp = tmp_path_factory.mktemp("deploy")
    data = tmp / "data"
    sw = [str(Path(sys.executable).parent / "shiftwork")]
    env = {**os.environ, "SHIFTWORK_ADMIN_PASSWORD": PASSWORD}
    for key in ("SHIFTWORK_DATABASE_URL", "SHIFTWORK_BROKER_URL", "SHIFTWORK_PUBLIC_URL", "SHIFTWORK_COOKIE_SECURE",
                "SHIFTWORK_FORWARDED_ALLOW_IPS"):
        env.pop(key, None)
    subprocess.run([*sw, "admin", "create-user", "admin@example.com", "--admin", "--data", str(data)], env=env,
                   check=True, capture_output=True, timeout=120)
    token = subprocess.run([*sw, "admin", "token", "admin@example.com", "--data", str(data)], env=env, check=True,
                           capture_output=True, text=True, timeout=120).stdout.strip().splitlines()[-1]
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    app_port, proxy_port = _free_port(), _free_port()
    app = subprocess.Popen([*sw, "serve", "--host", "127.0.0.1", "--port", str(app_port), "--data", str(data),
                            "--no-worker", "--public-url", PUBLIC + "/", "--forwarded-allow-ips", "127.0.0.1"],
                           env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "wb"))
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(
        user="user root;" if os.geteuid() == 0 else "", tmp=tmp, port=proxy_port, app_port=app_port,
        cert=tmp / "server.pem", key=tmp / "server.pem"))
    proxy = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log"),
                              "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{app_port}/login", app, "shiftwork serve")
        _wait_for(f"https://127.0.0.1:{proxy_port}/login", proxy, "nginx", verify=str(tmp / "ca.pem"))
        yield Deployment(f"https://127.0.0.1:{proxy_port}", tmp / "ca.pem", data, token)
    finally:
        for proc in (proxy, app):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


def test_links_start_with_the_public_url_whatever_the_host_header(deployment: Deployment) -> None:
    with deployment.client() as c:
        for host in ("shiftwork.example.com", "127.0.0.1", "evil.example.org"):
            r = c.post("/api/v1/invites", headers={"Authorization": f"Bearer {deployment.token}", "Host": host,
                                                   "X-Forwarded-Host": "evil.example.org"},
                       json={"candidate_name": "Ana", "exercise": "support-triage", "deadline": "2099-01-01"})
            assert r.status_code == 201, r.text
            assert r.json()["link"].startswith(PUBLIC + "/i/"), r.json()["link"]
            assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
        # the link works through the proxy (its path; the public host is the team's DNS name)
        path = r.json()["link"].removeprefix(PUBLIC)
        page = c.get(path)
        assert page.status_code == 200 and "Ana" in page.text


def test_the_session_cookie_is_secure_and_the_audit_log_has_the_real_client(deployment: Deployment) -> None:
    with deployment.client() as c:
        token = _csrf(c.get("/login").text)
        # a client claiming another address gets its claim appended to by nginx, and not believed
        r = c.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token},
                   headers={"X-Forwarded-For": "203.0.113.9"})
        assert r.status_code == 303, r.text
        cookie = r.headers["set-cookie"]
        assert "shiftwork_session=" in cookie and "secure" in cookie.lower() and "httponly" in cookie.lower()
        admin = c.get("/admin")
        assert admin.status_code == 200
        row = re.search(r'data-action="sign_in">.*?<td class="audit-client">([^<]*)</td>', admin.text, re.S)
        assert row is not None and row.group(1) == CLIENT_ADDRESS, admin.text[-2000:]
        assert "203.0.113.9" not in admin.text
