"""Headers on every answer: a CSP on every page (and no script from anywhere), `nosniff` everywhere,
`no-store` on every API answer, and no /docs or /redoc. The GET routes are read from the app's
route table, so a new route cannot escape the test."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from _webdata import route_table

EX = "support-triage"


def _get_paths(app: Any, ids: dict[str, str]) -> list[str]:
    paths = []
    for path, methods in route_table(app):
        if "GET" not in methods:
            continue
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        paths.append(path)
    return sorted(set(paths))


def test_every_answer_carries_its_security_headers(app: Any, logged_in: Any, api: Any) -> None:
    deadline = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = api.post("/api/v1/invites", json={"candidate_name": "Ana", "email": "ana@example.com",
                                                "exercise": EX, "deadline": deadline})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store" and created.headers["x-content-type-options"] == "nosniff"
    token = created.json()["link"].rsplit("/i/", 1)[1]
    ids = {"invite_id": str(created.json()["id"]), "job_id": "1", "upload_id": "1", "exercise": EX, "token": token,
           "kind": "json", "rest": "HEAD"}
    paths = _get_paths(app, ids)
    assert "/api/v1/invites" in paths and "/" in paths and "/admin" in paths
    pages = 0
    for path in paths:
        client = api if path.startswith("/api/") or path == "/openapi.json" else logged_in
        r = client.get(path)
        assert r.headers.get("x-content-type-options") == "nosniff", path
        if path.startswith("/api/"):
            assert r.headers.get("cache-control") == "no-store", path
        if r.headers.get("content-type", "").startswith("text/html"):
            pages += 1
            csp = r.headers.get("content-security-policy", "")
            assert "default-src 'none'" in csp and "script-src" not in csp, (path, csp)
            assert not re.search(r"<script\b", r.text, re.I), path  # no script at all, so none from a CDN
    assert pages >= 5
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert logged_in.get(path).status_code == 404


def test_the_openapi_file_is_for_signed_in_callers(app: Any, logged_in: Any) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as anonymous:
        assert anonymous.get("/openapi.json").status_code == 401
    r = logged_in.get("/openapi.json")
    assert r.status_code == 200 and "/api/v1/invites" in r.json()["paths"]
    assert r.headers["cache-control"] == "no-store"
