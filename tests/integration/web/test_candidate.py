"""The candidate's link: page, bundle zip, status.json, refusals, headers — on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import io
import re
import secrets
import tomllib
import zipfile
from pathlib import Path

import pytest

from _candidate_env import EXERCISE, SECRET, Env, Source, built_source, env_fixture

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return built_source(tmp_path_factory.getbasetemp() / "candidate-source")


env = env_fixture("candidate")


def _now() -> dt.datetime:
    from harness.store.models import utcnow

    return utcnow()


def test_the_app_built_the_bundle_once_for_three_concurrent_first_requests(source: Source) -> None:
    assert source.builds == 1
    from harness.store.models import Invite

    invite = source.env.rows(Invite, id=source.invite_id)[0]
    assert invite.bundle_dir == source.folder.relative_to(source.env.settings.data_dir).as_posix()
    assert source.folder.parent == source.env.settings.data_dir / "bundles" / str(source.invite_id)
    # nothing half-built left beside it
    assert sorted(p.name for p in source.folder.parent.iterdir()) == sorted(
        [source.folder.name, source.zip_path.name])


def test_page_shows_brief_deadline_bundle_clone_and_form_and_records_opened_once(env: Env, source: Source) -> None:
    from harness.store.models import Invite

    deadline = (_now() + dt.timedelta(days=2, hours=5)).replace(microsecond=0)
    token, invite_id = env.invite(name="Ada <b>Lovelace</b>", deadline=deadline, bundle=source)
    assert env.rows(Invite, id=invite_id)[0].opened_at is None
    r = env.client.get(f"/i/{token}")
    assert r.status_code == 200
    html = r.text
    assert "<h2>The problem</h2>" in html  # brief.md rendered as HTML
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html and "<b>Lovelace" not in html
    assert deadline.strftime("%Y-%m-%d %H:%M UTC") in html and "(in 2 days 4 hours)" in html
    assert f'href="/i/{token}/bundle.zip"' in html and 'id="preparing"' not in html
    assert f"git clone http://testserver/i/{token}.git" in html
    assert re.search(r'<input type="hidden" name="csrf_token" value="[0-9a-f]{64}">', html)
    assert html.index('name="csrf_token"') < html.index('name="file"')  # the server needs it first
    assert 'id="state">opened<' in html
    assert "Score" not in html
    for name, value in (("cache-control", "no-store"), ("referrer-policy", "no-referrer"),
                        ("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")):
        assert r.headers[name] == value
    assert "shiftwork_session" not in r.headers.get("set-cookie", "")  # candidates get no cookie
    assert env.client.get(f"/i/{token}").status_code == 200
    assert env.events(invite_id).count("opened") == 1
    assert env.rows(Invite, id=invite_id)[0].opened_at is not None


def test_brief_markdown_is_rendered_and_its_html_escaped() -> None:
    from harness.web.candidate import render_brief

    html = str(render_brief("## Task\n\n<script>x()</script> <img src=x onerror=y()>\n\n"
                            "[ok](https://example.org/) [bad](javascript:x()) [worse](data:text/html,hi)\n"))
    assert "<h2>Task</h2>" in html and '<a href="https://example.org/">ok</a>' in html
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="data' not in html


def test_unknown_token_is_a_bare_404_everywhere(env: Env) -> None:
    token = secrets.token_urlsafe(24)
    for method, path in (("GET", f"/i/{token}"), ("GET", f"/i/{token}/bundle.zip"),
                         ("GET", f"/i/{token}/status.json"), ("POST", f"/i/{token}/upload"),
                         ("GET", f"/i/{token}.git/info/refs?service=git-upload-pack"),
                         ("POST", f"/i/{token}.git/git-upload-pack"), ("GET", "/i/short")):
        r = env.client.request(method, path)
        assert r.status_code == 404, (method, path)
        assert r.text == "not found"
        assert r.headers["cache-control"] == "no-store"


def test_disabled_link_is_410_everywhere(env: Env, source: Source) -> None:
    token, invite_id = env.invite(disabled=True, bundle=source)
    for method, path in (("GET", f"/i/{token}"), ("GET", f"/i/{token}/bundle.zip"),
                         ("GET", f"/i/{token}/status.json"), ("POST", f"/i/{token}/upload"),
                         ("GET", f"/i/{token}.git/info/refs?service=git-upload-pack")):
        r = env.client.request(method, path)
        assert r.status_code == 410, (method, path)
        assert "this link has been disabled" in r.text
        assert "Traceback" not in r.text
    from harness.store.models import Invite

    assert env.rows(Invite, id=invite_id)[0].opened_at is None
    assert env.events(invite_id) == ["created"]


def test_expired_link_shows_status_without_the_form(env: Env, source: Source) -> None:
    token, _ = env.invite(deadline=_now() - dt.timedelta(hours=1), bundle=source)
    r = env.client.get(f"/i/{token}")
    assert r.status_code == 200
    assert "The deadline has passed: uploads are closed" in r.text and "1 hour ago" in r.text
    assert 'id="upload-form"' not in r.text
    status = env.client.get(f"/i/{token}/status.json").json()
    assert status["expired"] is True and status["state"] == "opened"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_bundle_zip_downloads_and_matches_the_folder(env: Env, source: Source) -> None:
    from harness.store.models import Invite

    token, invite_id = env.invite(bundle=source)
    r = env.client.get(f"/i/{token}/bundle.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["cache-control"] == "no-store"
    assert f"{EXERCISE}-ada.zip" in r.headers["content-disposition"]
    assert r.content == source.zip_path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        members = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    assert members == _files(source.folder)
    assert ".exercise.json" in members and "data/train.csv" in members and ".git/HEAD" in members
    assert env.rows(Invite, id=invite_id)[0].downloaded_at is not None
    assert env.events(invite_id) == ["created", "downloaded"]
    assert env.client.get(f"/i/{token}/status.json").json()["state"] == "downloaded"


def test_served_zip_holds_only_the_allowlist_and_nothing_held_back(env: Env, source: Source) -> None:
    token, _ = env.invite(bundle=source)
    data = env.client.get(f"/i/{token}/bundle.zip").content
    blobs: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            body = zf.read(name)
            blobs.append((name, body))
            if name.endswith(".whl"):
                with zipfile.ZipFile(io.BytesIO(body)) as whl:
                    blobs += [(f"{name}!{n}", whl.read(n)) for n in whl.namelist()]
    work = sorted(n.split("/", 1)[1] for n, _ in blobs if "!" not in n and not n.endswith("/")
                  and not n.split("/", 1)[1].startswith(".git/"))
    # the same allowlist as tests/integration/test_bundle.py::test_bundle_holds_exactly_the_allowlist
    fixed = {".exercise.json", ".gitignore", "Makefile", "README.md", "Dockerfile", "requirements.txt",
             "contract/openapi.json", "contract/schemathesis.toml", "data/train.csv", "data/data_dictionary.md",
             "selfcheck/exercise.json", "selfcheck/traffic.json", "tools/run_local.py"}
    assert fixed <= set(work)
    extra = [f for f in set(work) - fixed if not re.fullmatch(
        r"((app|service)/.*\.py|tests/.*\.py|[^/]+\.py|\.dockerignore|tools/shiftwork-[^/]+\.whl)", f)]
    assert extra == []
    assert not [n for n, _ in blobs if re.search(r"(^|/)(solutions|scenarios)/", n)]
    held = tomllib.loads((ROOT / "datasets" / EXERCISE / "heldout.toml").read_text())["categories"]
    needles = [SECRET.encode()] + [c.encode() for c in held]
    needles += [held[c]["labels"][lab]["subject"][0].encode() for c in held for lab in held[c].get("labels", {})]
    assert len(needles) > 3
    assert [(n, x) for n, body in blobs for x in needles if x in body] == []


def test_status_json_lists_state_and_hides_the_score_unless_shown(env: Env, source: Source) -> None:
    from harness.store.db import transaction
    from harness.store.models import Job, JobState, Result, Upload

    for show in (False, True):
        token, invite_id = env.invite(show_score=show, bundle=source)
        with transaction(env.sessions) as s:
            up = Upload(invite_id=invite_id, filename="sub.zip", stored_path="uploads/x.zip", size=10,
                        sha256="ab" * 32, created_at=_now())
            s.add(up)
            s.flush()
            job = Job(invite_id=invite_id, upload_id=up.id, state=JobState.graded, attempt=1, created_at=_now())
            s.add(job)
            s.flush()
            s.add(Result(job_id=job.id, attempt=1, status="graded", score=73.5, reason="", dimensions={}))
        body = env.client.get(f"/i/{token}/status.json").json()
        assert body["state"] == "graded"
        assert body["uploads"] == [{"name": "sub.zip", "size": 10, "sha256": "ab" * 32,
                                    "time": body["uploads"][0]["time"]}]
        page = env.client.get(f"/i/{token}").text
        if show:
            assert body["score"] == 73.5 and 'id="score"' in page and "73.5" in page
        else:
            assert "score" not in body and 'id="score"' not in page and "73.5" not in page
