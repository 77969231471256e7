"""The app under a cohort's worth of candidates at once, on PostgreSQL, through a real uvicorn server:
200 link opens and bundle downloads plus 20 uploads, driven by locust (a subprocess, bounded, on
127.0.0.1). No answer is a 5xx; every upload is stored once with its SHA-256 and queued once. The
page percentiles are written to test-artifacts/load/ (and printed)."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from _candidate_env import Env, Server, Source, built_source, database_url, make_env

LOAD = Path(__file__).resolve().parents[2] / "load"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "load"
OPENERS, UPLOADERS, OPEN_INVITES = 200, 20, 20

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return built_source(tmp_path_factory.getbasetemp() / "candidate-source")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("load")
    gen = database_url("postgres", tmp)
    url = next(gen)
    mp = pytest.MonkeyPatch()
    try:
        yield make_env(tmp / "data", url, mp)
    finally:
        mp.undo()
        next(gen, None)


def test_two_hundred_candidates_and_twenty_uploads_at_once(env: Env, source: Source, tmp_path: Path) -> None:
    if shutil.which("locust", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("locust is not installed in the venv (make setup installs the test extra)")
    sys.path.insert(0, str(LOAD))
    from _uploads import upload_bytes

    from harness.store.models import Job, Upload

    opens = [env.invite(name=f"Open {i}", bundle=source)[0] for i in range(OPEN_INVITES)]
    uploads = [env.invite(name=f"Up {i}", bundle=source) for i in range(UPLOADERS)]
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"open": opens, "upload": [t for t, _ in uploads]}))
    with Server(env.app) as server:
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "locust"), "-f", str(LOAD / "candidates_locustfile.py"), "--headless",
             "-u", str(OPENERS + UPLOADERS), "-r", str(OPENERS + UPLOADERS), "-t", "60s", "--stop-timeout", "30",
             "--host", server.url, "--csv", str(tmp_path / "load"), "--only-summary", "--loglevel", "WARNING"],
            env={**os.environ, "SW_LOAD_TOKENS": str(tokens), "SW_LOAD_OPENERS": str(OPENERS),
                 "SW_LOAD_UPLOADERS": str(UPLOADERS)},
            capture_output=True, text=True, timeout=180)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for f in tmp_path.glob("load_*.csv"):
        shutil.copyfile(f, ARTIFACTS / f.name)
    stats = {row["Name"]: row for row in csv.DictReader((tmp_path / "load_stats.csv").open())}
    failures = list(csv.DictReader((tmp_path / "load_failures.csv").open()))
    print("\n" + "\n".join(f"{name}: {row['Request Count']} requests, p50 {row['50%']} ms, p95 {row['95%']} ms, "
                           f"max {row['Max Response Time']} ms" for name, row in stats.items()))
    assert not failures, failures[:5]
    assert int(stats["/i/[token]"]["Request Count"]) == OPENERS + UPLOADERS, proc.stderr[-2000:]
    assert int(stats["/i/[token]/bundle.zip"]["Request Count"]) == OPENERS, proc.stderr[-3000:]
    assert int(stats["/i/[token]/upload"]["Request Count"]) == UPLOADERS, proc.stderr[-3000:]
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    # every upload stored once, with the SHA-256 of what was sent, and queued once
    sent = {hashlib.sha256(upload_bytes(i)).hexdigest() for i in range(UPLOADERS)}
    stored = [u for _, invite_id in uploads for u in env.rows(Upload, invite_id=invite_id)]
    assert len(stored) == UPLOADERS and {u.sha256 for u in stored} == sent
    for u in stored:
        assert hashlib.sha256((env.settings.storage_root / u.stored_path).read_bytes()).hexdigest() == u.sha256
    jobs = [j for u in stored for j in env.rows(Job, upload_id=u.id)]
    assert len(jobs) == UPLOADERS and sorted(env.enqueued) == sorted(j.id for j in jobs)
