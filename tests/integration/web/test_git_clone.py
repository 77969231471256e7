"""`git clone http://host/i/<token>.git` with the real git binary against a real uvicorn server:
the same repository as the bundle, read-only, and nothing of .git reachable by path."""
from __future__ import annotations

import gzip
import os
import secrets
import subprocess
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from _candidate_env import Server, Source, built_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return built_source(tmp_path_factory.getbasetemp() / "candidate-source")


@pytest.fixture(scope="module")
def server(source: Source) -> Iterator[Server]:
    with Server(source.env.app) as srv:
        yield srv


def _git(*args: str, cwd: Path | None = None, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false",
           "GIT_AUTHOR_NAME": "c", "GIT_AUTHOR_EMAIL": "c@localhost", "GIT_COMMITTER_NAME": "c",
           "GIT_COMMITTER_EMAIL": "c@localhost"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _work_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(folder).parts}


def _head(folder: Path, home: Path) -> str:
    return _git("-C", str(folder), "rev-parse", "HEAD", home=home).stdout.strip()


@pytest.mark.parametrize("protocol", ["2", "0"])
def test_git_clone_gives_the_bundle_repository(source: Source, server: Server, tmp_path: Path,
                                               protocol: str) -> None:
    dest = tmp_path / "clone"
    proc = _git("-c", f"protocol.version={protocol}", "clone", f"{server.url}/i/{source.token}.git", str(dest),
                home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _work_files(dest) == _work_files(source.folder)
    assert ".exercise.json" in _work_files(dest)
    assert _head(dest, tmp_path) == _head(source.folder, tmp_path)
    log = _git("-C", str(dest), "rev-list", "--all", home=tmp_path).stdout.split()
    assert len(log) == 1
    assert "cloned" in source.env.events(source.invite_id)
    # a fetch of an up-to-date clone works too
    assert _git("-C", str(dest), "fetch", home=tmp_path).returncode == 0


def test_git_push_is_refused_and_changes_nothing(source: Source, server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "clone"
    assert _git("clone", f"{server.url}/i/{source.token}.git", str(dest), home=tmp_path).returncode == 0
    (dest / "README.md").write_text("overwritten by the candidate\n")
    assert _git("-C", str(dest), "commit", "-qam", "mine", home=tmp_path).returncode == 0
    before = _head(source.folder, tmp_path)
    proc = _git("-C", str(dest), "push", "origin", "HEAD:main", home=tmp_path)
    assert proc.returncode != 0
    assert "403" in proc.stderr or "read-only" in proc.stderr, proc.stderr
    r = httpx.post(f"{server.url}/i/{source.token}.git/git-receive-pack", content=b"0000",
                   headers={"content-type": "application/x-git-receive-pack-request"})
    assert r.status_code == 403 and "read-only" in r.text
    assert _head(source.folder, tmp_path) == before
    assert (source.folder / "README.md").read_text() != "overwritten by the candidate\n"


def test_git_clone_of_an_unknown_or_disabled_link_fails(source: Source, server: Server, tmp_path: Path) -> None:
    unknown = f"{server.url}/i/{secrets.token_urlsafe(24)}.git"
    proc = _git("clone", unknown, str(tmp_path / "a"), home=tmp_path)
    assert proc.returncode != 0 and "not found" in proc.stderr, proc.stderr  # how git words a 404
    assert httpx.get(f"{unknown}/info/refs", params={"service": "git-upload-pack"}).status_code == 404
    token, _ = source.env.invite(disabled=True)
    proc = _git("clone", f"{server.url}/i/{token}.git", str(tmp_path / "b"), home=tmp_path)
    assert proc.returncode != 0 and "410" in proc.stderr, proc.stderr
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_no_file_of_the_repository_is_served_by_path(source: Source, server: Server) -> None:
    base = f"{server.url}/i/{source.token}.git"
    objects = source.folder / ".git" / "objects"
    loose = next(p for p in objects.rglob("*") if p.is_file() and len(p.parent.name) == 2)
    for path in ("HEAD", "config", "description", "index", "objects/info/packs", "objects/info/alternates",
                 f"objects/{loose.parent.name}/{loose.name}", "refs/heads/main", "../../secret_key",
                 "%2e%2e/%2e%2e/secret_key"):
        r = httpx.get(f"{base}/{path}")
        assert r.status_code == 404, path
        assert r.text in ("not found", '{"detail":"Not Found"}'), path  # ours, or the app's own for /i/secret_key
        assert source.env.settings.secret_key not in r.text
    r = httpx.get(f"{base}/info/refs")  # the dumb protocol's ref list
    assert r.status_code == 403 and "smart HTTP" in r.text
    r = httpx.get(f"{base}/info/refs", params={"service": "git-upload-pack"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert r.headers["cache-control"] == "no-store"
    assert r.content.startswith(b"001e# service=git-upload-pack\n0000")


def _pkt(line: bytes) -> bytes:
    return f"{len(line) + 4:04x}".encode() + line


_PKT_LINES = st.one_of(
    st.binary(max_size=40).map(_pkt),
    st.sampled_from([b"0000", b"0001", b"zzzz", b"fff", b"0003", b"ffff"]),
    st.builds(lambda h: _pkt(b"want " + h.encode() + b"\n"), st.text("0123456789abcdef", min_size=0, max_size=41)),
    st.builds(lambda h: _pkt(b"have " + h.encode() + b"\n"), st.text("0123456789abcdef", min_size=40, max_size=40)),
    st.sampled_from([_pkt(b"done\n"), _pkt(b"deepen 1\n"), _pkt(b"shallow 1234\n"), _pkt(b"command=fetch\n"),
                     _pkt(b"want " + b"0" * 40 + b" multi_ack side-band-64k\n")]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_PKT_LINES, max_size=6), gzip_it=st.booleans(), garble=st.booleans())
def test_no_malformed_upload_pack_body_answers_5xx(source: Source, server: Server, lines: list[bytes],
                                                   gzip_it: bool, garble: bool) -> None:
    body = b"".join(lines)
    headers = {"content-type": "application/x-git-upload-pack-request"}
    if gzip_it:
        body = gzip.compress(body)
        if garble:
            body = body[: len(body) // 2] + b"\x00garbage"
        headers["content-encoding"] = "gzip"
    r = httpx.post(f"{server.url}/i/{source.token}.git/git-upload-pack", content=body, headers=headers, timeout=30)
    assert r.status_code < 500, (body, r.status_code, r.text[:200])


def test_the_issues_malformed_bodies_answer_400_with_a_one_line_reason(source: Source, server: Server) -> None:
    url = f"{server.url}/i/{source.token}.git/git-upload-pack"
    bodies = [b"garbage", b"zzzz", _pkt(b"want " + b"ab" * 20 + b"\n") + b"0000" + _pkt(b"done\n"),
              _pkt(b"want nothex\n") + b"0000"]
    for body in bodies:
        r = httpx.post(url, content=body, timeout=30)
        assert r.status_code == 400 and r.text.count("\n") == 1 and "malformed" in r.text, (body, r.text)
    r = httpx.post(url, content=b"\x1f\x8b not gzip", headers={"content-encoding": "gzip"}, timeout=30)
    assert r.status_code == 400 and "gzip" in r.text
