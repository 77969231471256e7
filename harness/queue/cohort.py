"""`shiftwork grade --submissions DIR` through the grading queue (SHIFTWORK_BROKER_URL is set).

Each entry becomes what a candidate's upload is in the web app: an invite, an upload in
the shared storage and a queued job, graded by whichever worker takes it. The command
waits, with progress, then writes the same cohort table as a local cohort (cohort.md,
cohort.csv) and copies each report folder to OUT/<name>/.

The traffic seed comes from the invite's candidate id, so an entry gets its candidate's id
only when its .exercise.json token verifies with this grader's secret; any other entry
gets a fresh random id (as a local grading gets a random seed).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import secrets
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from grader.errors import UsageError
from grader.exercise import DIMENSIONS
from harness.cohort import entries, write_cohort
from harness.queue.jobs import create_job, enqueue
from harness.queue.lease import sessions
from harness.secret import load_secret, verify_token
from harness.store.db import make_engine, migrate, transaction
from harness.store.models import Invite, Job, JobState, Result, Upload, Worker, utcnow
from harness.store.settings import WebSettings, build_settings
from harness.store.teams import default_team
from harness.submission import peek_meta, submission_name

log = logging.getLogger(__name__)

DATA_ENV = "SHIFTWORK_DATA_DIR"
NO_WORKER_AFTER_S = 30.0  # say so when jobs wait this long with no ready worker


@dataclass
class Entry:
    name: str
    path: Path
    exercise: str = ""
    candidate: str = ""
    job_id: int | None = None
    error: str = ""  # why it was not sent (one line)


def queue_configured(env: dict[str, str] | None = None) -> bool:
    return bool((os.environ if env is None else env).get("SHIFTWORK_BROKER_URL"))


def _identify(entry: Entry, exercise: str | None) -> None:
    """Which exercise, and which candidate id (the real one only when its token verifies)."""
    entry.candidate = f"cli-{uuid.uuid4().hex[:12]}"
    meta = peek_meta(entry.path)
    entry.exercise = exercise or (meta.exercise if meta else "")
    if meta is not None and verify_token(load_secret(), meta.exercise, meta.version, meta.candidate, meta.token):
        entry.candidate = meta.candidate
    if not entry.exercise:
        entry.error = "no exercise named: pass --exercise, or grade bundles with .exercise.json"


def _archive_bytes(path: Path) -> tuple[bytes, str]:
    """What the worker receives: an archive as given, a folder zipped (symlinks left out)."""
    if not path.is_dir():
        return path.read_bytes(), "".join(path.suffixes[-2:]) if path.name.endswith(".tar.gz") else path.suffix
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(path.rglob("*")):
            if item.is_file() and not item.is_symlink() and "__pycache__" not in item.parts:
                zf.write(item, item.relative_to(path).as_posix())
    return buf.getvalue(), ".zip"


def _send(settings: WebSettings, entry: Entry) -> None:
    data, suffix = _archive_bytes(entry.path)
    rel = Path("uploads") / "cli" / f"{uuid.uuid4().hex}{suffix}"
    settings.stored("uploads/cli")
    (settings.storage_root / rel).write_bytes(data)
    with transaction(sessions(settings)) as s:
        invite = Invite(token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(), candidate_name=entry.name,
                        candidate_id=entry.candidate, exercise=entry.exercise, deadline=utcnow(),
                        team_id=default_team(s).id, created_at=utcnow())
        s.add(invite)
        s.flush()
        upload = Upload(invite_id=invite.id, filename=entry.path.name + (".zip" if entry.path.is_dir() else ""),
                        stored_path=rel.as_posix(), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        created_at=utcnow())
        s.add(upload)
        s.flush()
        entry.job_id = create_job(s, invite, upload).id
    enqueue(settings, entry.job_id)  # a broker that is away: the workers' reapers send it again


def _final(settings: WebSettings, ids: list[int]) -> dict[int, Any]:
    with sessions(settings)() as s:
        done = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(ids),
                                                              Job.state.in_([JobState.graded, JobState.failed])))}
        results = {}
        for job_id in done:
            res = s.scalars(select(Result).where(Result.job_id == job_id).order_by(Result.attempt.desc())).first()
            if res is not None:
                s.expunge(res)
                results[job_id] = res
        return results


def _ready_workers(settings: WebSettings) -> int:
    since = utcnow() - dt.timedelta(seconds=3 * settings.heartbeat_s + 10)
    with sessions(settings)() as s:
        return s.scalar(select(func.count()).select_from(Worker)
                        .where(Worker.ready.is_(True), Worker.seen_at >= since)) or 0


def _row(entry: Entry, result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"submission": entry.name, "status": result.status,
                           "score": result.score if result.score is not None else "",
                           "reason": " ".join((result.reason or "").split())[:200]}
    out.update({d: round(v, 1) for d, v in (result.dimensions or {}).items() if d in DIMENSIONS})
    return out


def grade_cohort_via_queue(folder: Path, *, exercise: str | None, out: Path | None, console: Console,
                           data_dir: Path | None = None, poll_s: float = 2.0) -> int:
    """Send every entry to the queue, wait for each job's final result, write the cohort table."""
    env = os.environ
    if not env.get("SHIFTWORK_DATABASE_URL"):
        raise UsageError("SHIFTWORK_BROKER_URL is set but SHIFTWORK_DATABASE_URL is not: the queue needs the "
                         "database the workers use (or unset SHIFTWORK_BROKER_URL to grade here)")
    settings = build_settings(data_dir or Path(env.get(DATA_ENV) or "shiftwork-data"))
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    items = entries(folder)
    if not items:
        raise UsageError(f"--submissions {folder}: no folders or archives in it")
    base = out or Path("reports")
    todo = [Entry(name=submission_name(str(p)), path=p) for p in items]
    for entry in todo:
        _identify(entry, exercise)
        if not entry.error:
            _send(settings, entry)
    sent = [e for e in todo if e.job_id is not None]
    console.print(escape(f"sent {len(sent)} of {len(todo)} submissions to the grading queue "
                         f"(broker {settings.broker_url.split('@')[-1]}); waiting for the workers"), highlight=False)
    results: dict[int, Any] = {}
    began, warned = time.monotonic(), False
    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("grading", total=len(sent))
        while len(results) < len(sent):
            for job_id, res in _final(settings, [e.job_id for e in sent if e.job_id not in results]).items():
                results[job_id] = res
                name = next(e.name for e in sent if e.job_id == job_id)
                score = f", score {res.score:.1f}" if res.score is not None else ""
                bar.console.print(escape(f"{name}: {res.status}{score}"), highlight=False)
                bar.advance(task)
            if len(results) < len(sent):
                if not warned and time.monotonic() - began > NO_WORKER_AFTER_S and not _ready_workers(settings):
                    bar.console.print("no grading worker is ready: the jobs wait for one (`shiftwork worker`)")
                    warned = True
                time.sleep(poll_s)
    rows, written = [], 0
    for entry in todo:
        if entry.job_id is None:
            rows.append({"submission": entry.name, "status": "not_graded", "score": "", "reason": entry.error})
            continue
        res = results[entry.job_id]
        rows.append(_row(entry, res))
        if res.report_dir:
            dest = base / entry.name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(settings.storage_root / res.report_dir, dest)
            written += 1
    md, csv_path = write_cohort(rows, base)
    _print_table(console, rows)
    console.print(escape(f"cohort: {written} of {len(todo)} graded; table in {md} and {csv_path}"), highlight=False)
    return 0 if written else 1


def _print_table(console: Console, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table("submission", "status", "score", "reason", title="cohort")
    for r in sorted(rows, key=lambda r: -float(r["score"]) if isinstance(r.get("score"), (int, float)) else 1.0):
        score = r.get("score")
        table.add_row(escape(str(r["submission"])), escape(str(r["status"])),
                      f"{score:.1f}" if isinstance(score, (int, float)) else "", escape(str(r.get("reason", ""))[:80]))
    console.print(table)
