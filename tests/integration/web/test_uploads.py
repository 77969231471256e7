"""POST /i/<token>/upload: stored with its checksum, a job queued; capped while streaming; refusals leave nothing."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from _candidate_env import UPLOAD_CAP, Env, Server, Source, built_source, env_fixture, make_env

BOUNDARY = "----shiftworktestboundary7MA4YWxk"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return built_source(tmp_path_factory.getbasetemp() / "candidate-source")


env = env_fixture("uploads", upload_cap_bytes=UPLOAD_CAP)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _targz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _csrf(env: Env, invite_id: int) -> str:
    from harness.web.links import form_token
    from harness.store.models import Invite

    return form_token(env.settings, env.rows(Invite, id=invite_id)[0])


def _parts(fields: list[tuple[str, str, bytes]]) -> bytes:
    """A multipart body by hand, so the order of the fields is exactly what the test says."""
    out = b""
    for name, filename, data in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n" if filename else b""
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _post(env: Env, token: str, body: bytes | Iterator[bytes], **headers: str):  # type: ignore[no-untyped-def]
    return env.client.post(f"/i/{token}/upload", content=body,
                           headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}", **headers})


def _stored(env: Env, invite_id: int) -> list[str]:
    folder = env.settings.data_dir / "uploads" / str(invite_id)
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def _nothing_kept(env: Env, invite_id: int) -> None:
    from harness.store.models import Job, Upload

    assert _stored(env, invite_id) == []
    assert env.rows(Upload, invite_id=invite_id) == [] and env.rows(Job, invite_id=invite_id) == []
    assert "submitted" not in env.events(invite_id)


def test_upload_is_stored_with_its_sha256_and_queues_a_job(env: Env, source: Source) -> None:
    from harness.store.models import Job, JobState, Upload

    token, invite_id = env.invite(bundle=source)
    data = _zip({"sub/Dockerfile": b"FROM python:3.11-slim\n", "sub/app/main.py": b"app = None\n"})
    r = env.client.post(f"/i/{token}/upload", data={"csrf_token": _csrf(env, invite_id)},
                        files={"file": ("my work.zip", data, "application/zip")})
    assert r.status_code == 303, r.text
    uploads = env.rows(Upload, invite_id=invite_id)
    assert len(uploads) == 1
    up = uploads[0]
    assert up.sha256 == hashlib.sha256(data).hexdigest() and up.size == len(data) and up.filename == "my work.zip"
    stored = env.settings.data_dir / up.stored_path
    assert stored.read_bytes() == data and stored.parent == env.settings.data_dir / "uploads" / str(invite_id)
    assert stored.name.endswith(".zip") and "my work" not in stored.name
    jobs = env.rows(Job, invite_id=invite_id)
    assert [(j.state, j.upload_id) for j in jobs] == [(JobState.queued, up.id)]
    assert env.enqueued[-1] == jobs[0].id
    assert env.events(invite_id)[-2:] == ["submitted", "queued"]
    page = env.client.get(r.headers["location"]).text
    assert up.sha256 in page and 'id="received"' in page and 'id="state">queued<' in page

    # a second upload (a .tar.gz) is kept beside the first, never over it
    data2 = _targz({"sub/Dockerfile": b"FROM python:3.12-slim\n"})
    r2 = env.client.post(f"/i/{token}/upload", data={"csrf_token": _csrf(env, invite_id)},
                         files={"file": ("submission.tar.gz", data2, "application/gzip")},
                         headers={"accept": "application/json"})
    assert r2.status_code == 201, r2.text
    assert r2.json()["upload"]["sha256"] == hashlib.sha256(data2).hexdigest()
    assert len(_stored(env, invite_id)) == 2 and stored.read_bytes() == data
    status = env.client.get(f"/i/{token}/status.json").json()
    assert [u["sha256"] for u in status["uploads"]] == [hashlib.sha256(d).hexdigest() for d in (data2, data)]
    assert len(env.rows(Job, invite_id=invite_id)) == 2


def test_candidate_file_names_are_only_shown_and_escaped(env: Env, source: Source) -> None:
    from harness.store.models import Upload

    token, invite_id = env.invite(bundle=source)
    for name in ("..\\..\\../../evil.zip", "<img src=x onerror=alert(1)>.zip"):
        body = _parts([("csrf_token", "", _csrf(env, invite_id).encode()), ("file", name, _zip({"a": b"1"}))])
        assert _post(env, token, body).status_code == 303
    ups = env.rows(Upload, invite_id=invite_id)
    assert [u.filename for u in ups] == ["evil.zip", "<img src=x onerror=alert(1)>.zip"]
    for up in ups:
        assert up.stored_path.startswith(f"uploads/{invite_id}/") and up.stored_path.count("/") == 2
        assert "evil" not in up.stored_path and "img" not in up.stored_path
    page = env.client.get(f"/i/{token}").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.zip" in page


def test_over_the_cap_with_content_length_is_refused_at_once(env: Env, source: Source) -> None:
    token, invite_id = env.invite(bundle=source)
    body = _parts([("csrf_token", "", _csrf(env, invite_id).encode()), ("file", "big.zip", b"PK\x03\x04" +
                                                                          os.urandom(4 * UPLOAD_CAP))])
    r = _post(env, token, body)
    assert r.status_code == 413 and "the upload is larger than the 64 KB limit" in r.text
    _nothing_kept(env, invite_id)


def test_over_the_cap_within_the_declared_length_is_cut_off_while_streaming(env: Env, source: Source) -> None:
    token, invite_id = env.invite(bundle=source)
    # the body's length passes the up-front check (cap + form slack); the file itself is one byte over
    body = _parts([("csrf_token", "", _csrf(env, invite_id).encode()),
                   ("file", "big.zip", b"PK\x03\x04" + os.urandom(UPLOAD_CAP - 3))])
    r = _post(env, token, body)
    assert r.status_code == 413, r.text
    _nothing_kept(env, invite_id)
    # exactly at the cap is fine
    ok = _parts([("csrf_token", "", _csrf(env, invite_id).encode()),
                 ("file", "full.zip", b"PK\x03\x04" + os.urandom(UPLOAD_CAP - 4))])
    assert _post(env, token, ok).status_code == 303
    assert len(_stored(env, invite_id)) == 1


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_over_the_cap_on_a_real_server_stops_reading_and_keeps_nothing(env: Env, source: Source,
                                                                       declared: bool) -> None:
    """2 GiB offered to a 64 KiB cap: the server answers 413 and hangs up instead of reading on."""
    import httpx

    token, invite_id = env.invite(bundle=source)
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{_csrf(env, invite_id)}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n\r\nPK\x03\x04')
    chunk, count, sent = b"\0" * 65536, 32768, [0]

    def body() -> Iterator[bytes]:
        yield head.encode()
        for _ in range(count):
            sent[0] += 1
            yield chunk

    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    if declared:
        headers["content-length"] = str(len(head) + count * len(chunk))
    with Server(env.app) as srv:
        r = httpx.post(f"{srv.url}/i/{token}/upload", content=body(), headers=headers, timeout=120)
    assert r.status_code == 413 and "larger than the 64 KB limit" in r.text
    assert sent[0] < 1024, f"the server let the client send {sent[0] * 64} KiB"
    _nothing_kept(env, invite_id)


@pytest.mark.parametrize("filename,data,needle", [
    ("notes.txt", b"hello", ".zip or .tar.gz"),
    ("fake.zip", b"this is not a zip at all", "not a zip archive"),
    ("fake.tar.gz", _zip({"a": b"1"}), "not a tar.gz archive"),
    ("tiny.zip", b"PK", "not a zip archive"),
    ("empty.zip", b"", "is empty"),
])
def test_wrong_extension_or_magic_is_refused_in_one_line(env: Env, source: Source, filename: str, data: bytes,
                                                        needle: str) -> None:
    token, invite_id = env.invite(bundle=source)
    r = _post(env, token, _parts([("csrf_token", "", _csrf(env, invite_id).encode()), ("file", filename, data)]),
              accept="application/json")
    assert r.status_code in (400, 415), r.text
    reason = r.json()["detail"]
    assert needle in reason and "\n" not in reason
    _nothing_kept(env, invite_id)


def test_upload_without_the_right_form_token_is_refused(env: Env, source: Source) -> None:
    token, invite_id = env.invite(bundle=source)
    other_token, other_id = env.invite(bundle=source)
    good = _zip({"a": b"1"})
    bodies = {
        "missing": _parts([("file", "a.zip", good)]),
        "wrong": _parts([("csrf_token", "", b"0" * 64), ("file", "a.zip", good)]),
        "another invite's": _parts([("csrf_token", "", _csrf(env, other_id).encode()), ("file", "a.zip", good)]),
        "after the file": _parts([("file", "a.zip", good), ("csrf_token", "", _csrf(env, invite_id).encode())]),
    }
    for what, body in bodies.items():
        r = _post(env, token, body)
        assert r.status_code == 403, what
        assert "security token" in r.text
    # a browser-style form post without the field at all
    r = env.client.post(f"/i/{token}/upload", files={"file": ("a.zip", good, "application/zip")})
    assert r.status_code == 403
    _nothing_kept(env, invite_id)


def test_upload_after_the_deadline_is_refused(env: Env, source: Source) -> None:
    from harness.store.models import utcnow

    token, invite_id = env.invite(deadline=utcnow() - dt.timedelta(minutes=5), bundle=source)
    r = env.client.post(f"/i/{token}/upload", data={"csrf_token": _csrf(env, invite_id)},
                        files={"file": ("a.zip", _zip({"a": b"1"}), "application/zip")})
    assert r.status_code == 403 and "deadline" in r.text and "uploads are closed" in r.text
    _nothing_kept(env, invite_id)


def test_a_body_that_is_not_a_form_is_refused(env: Env, source: Source) -> None:
    token, invite_id = env.invite(bundle=source)
    r = env.client.post(f"/i/{token}/upload", content=gzip.compress(b"x"),
                        headers={"content-type": "application/gzip"})
    assert r.status_code == 400 and "multipart/form-data" in r.text
    cut = _parts([("csrf_token", "", _csrf(env, invite_id).encode()), ("file", "a.zip", _zip({"a": b"1"}))])
    r = _post(env, token, cut[: len(cut) // 2 + 40])
    assert r.status_code == 400
    _nothing_kept(env, invite_id)
    assert not [p for p in Path(env.settings.data_dir / "uploads").rglob("*.part")]


def test_upload_goes_to_the_real_broker(tmp_path: Path, source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the recorder: the embedded (filesystem) broker takes the job and Job.enqueued_at is stamped."""
    from harness.queue import jobs
    from harness.web import candidate
    from harness.store.models import Job

    # the module's env fixture may still have the recorder in place: put the real one back for this test
    monkeypatch.setattr(candidate, "enqueue", jobs.enqueue)
    env = make_env(tmp_path / "data", None, None)
    token, invite_id = env.invite(bundle=source)
    r = env.client.post(f"/i/{token}/upload", data={"csrf_token": _csrf(env, invite_id)},
                        files={"file": ("a.zip", _zip({"a": b"1"}), "application/zip")})
    assert r.status_code == 303, r.text
    (job,) = env.rows(Job, invite_id=invite_id)
    assert job.enqueued_at is not None


def test_uploads_go_to_the_shared_storage_root_when_one_is_set(tmp_path: Path, source: Source,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With a storage root (SHIFTWORK_STORAGE_DIR: storage the workers share) an upload lands there, not in the
    app's data folder; its stored path is relative to that root, as the workers read it."""
    from harness.store.models import Upload

    shared = tmp_path / "shared"
    shared.mkdir()
    env = make_env(tmp_path / "data", None, monkeypatch, storage_dir=shared)
    token, invite_id = env.invite(bundle=source)
    data = _zip({"sub/Dockerfile": b"FROM python:3.11-slim\n"})
    r = env.client.post(f"/i/{token}/upload", data={"csrf_token": _csrf(env, invite_id)},
                        files={"file": ("work.zip", data, "application/zip")})
    assert r.status_code == 303, r.text
    (up,) = env.rows(Upload, invite_id=invite_id)
    assert (shared / up.stored_path).read_bytes() == data
    assert not (env.settings.data_dir / "uploads").exists()
