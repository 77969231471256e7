"""Test data for the recruiter side: invites, uploads and graded jobs made straight in the database,
with a real report.json (grader's Report model) and its .md/.html written into the data dir."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from grader.report.model import AccuracySummary, CheckEntry, DimensionScore, Report
from grader.report.render import FIGURES, render_html, render_markdown
from harness.store.models import Invite, Job, JobState, Result, Upload, utcnow
from harness.store.settings import WebSettings
from harness.web.invites import InviteIn, create_invites

WEIGHTS = {"validation": 0.3, "monitoring": 0.3, "degradation": 0.15, "operations": 0.15, "accuracy": 0.1}
# check id -> (dimension, title, role)
CHECKS = {
    "no_server_errors": ("validation", "No 5xx or broken answers on messy input", "gate"),
    "invalid_flagged": ("validation", "Invalid records flagged as invalid", "measure"),
    "drift_alarm_delay": ("monitoring", "Drift alarm soon after each onset", "measure"),
    "drift_false_alarms": ("monitoring", "No drift alarm in stable phases", "measure"),
    "unfamiliar_fallback": ("degradation", "Unfamiliar inputs served as fallback", "measure"),
    "latency_p95": ("operations", "p95 latency under concurrent load", "measure"),
    "in_distribution_accuracy": ("accuracy", "Accuracy on in-distribution traffic", "measure"),
}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def make_report(dims: dict[str, float], *, failing: tuple[str, ...] = (), submission: str = "sub",
                exercise: str = "support-triage", status: str = "graded", debrief: list[str] | None = None) -> Report:
    """A report.json v1: every check of CHECKS passes except those named in `failing`."""
    checks = [CheckEntry(id=cid, dimension=dim, score=0.1 if cid in failing else 0.95, passed=cid not in failing,
                         evidence=f"evidence of {cid}", title=title, role=role, weight=0.0 if role == "gate" else 1.0)
              for cid, (dim, title, role) in CHECKS.items()]
    dimensions = {d: DimensionScore(score=dims.get(d, 0.0), weight=w) for d, w in WEIGHTS.items()}
    score = round(sum(dims.get(d, 0.0) * w for d, w in WEIGHTS.items()), 1)
    return Report(exercise=exercise, submission=submission, status=status, score=score, dimensions=dimensions,
                  checks=checks, accuracy=AccuracySummary(in_distribution=0.8, under_shift=0.7),
                  debrief=debrief if debrief is not None else [f"Why did {c} fail?" for c in failing],
                  runtime="docker", seed=7)


PNG_1X1 = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def write_report(settings: WebSettings, rel: str, report: Report) -> Path:
    folder = settings.data_dir / rel
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report.model_dump_json(indent=2))
    (folder / "report.md").write_text(render_markdown(report))
    (folder / "report.html").write_text(render_html(report, {}))
    figures = folder / FIGURES  # as grader.report.render.write_reports writes them
    figures.mkdir(exist_ok=True)
    (figures / "01.png").write_bytes(PNG_1X1)
    (figures / "index.json").write_text(json.dumps([{"file": "01.png", "caption": "Drift alarms: the test figure"}]))
    return folder


def new_invite(session: Session, name: str = "Ana", *, exercise: str = "support-triage", email: str | None = None,
               days: int = 7) -> tuple[Invite, str]:
    spec = InviteIn(candidate_name=name, email=email, exercise=exercise,
                    deadline=utcnow() + dt.timedelta(days=days))
    created = create_invites(session, [spec], by=None, base_url="http://testserver/")[0]
    return created.invite, created.link


def add_upload(session: Session, settings: WebSettings, invite: Invite, content: bytes = b"PK\x05\x06" + b"\0" * 18,
               filename: str = "submission.zip") -> Upload:
    rel = f"uploads/{invite.id}/{len(invite.uploads) + 1}.zip"
    path = settings.data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    upload = Upload(invite_id=invite.id, filename=filename, stored_path=rel, size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(), created_at=utcnow())
    session.add(upload)
    session.flush()
    session.refresh(invite)
    return upload


def add_graded_job(session: Session, settings: WebSettings, invite: Invite, upload: Upload, report: Report | None,
                   *, state: JobState = JobState.graded, reason: str = "", rerun_of: int | None = None) -> Job:
    """A finished job with one result (attempt 1); with a report, its files go into the data dir."""
    now = utcnow()
    job = Job(invite_id=invite.id, upload_id=upload.id, state=state, attempt=1, created_at=now, started_at=now,
              finished_at=now, rerun_of=rerun_of)
    session.add(job)
    session.flush()
    rel = None
    if report is not None:
        rel = f"reports/{invite.id}/job-{job.id}/attempt-1"
        write_report(settings, rel, report)
    session.add(Result(job_id=job.id, attempt=1, status=report.status if report else "crashed",
                       score=report.score if report else None, reason=reason,
                       dimensions={d: v.score for d, v in report.dimensions.items()} if report else {},
                       report_dir=rel, created_at=now))
    session.flush()
    session.refresh(invite)
    session.refresh(job)
    return job


def route_table(app: Any) -> list[tuple[str, frozenset[str]]]:
    """(path, methods) of every HTTP route of the app, included routers flattened (prefixes applied)."""
    table = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI keeps an included router as one entry
            table.extend((c.path, frozenset(c.methods or ())) for c in contexts())
        elif getattr(route, "methods", None):
            table.append((route.path, frozenset(route.methods)))
    return table
