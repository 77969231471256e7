"""Test data for the hiring workflow: interviewers, an invite graded with a real report.json that carries
an interview kit (tests/fixtures/web-reports), and a submission archive that names its candidate."""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from typing import Any

from _webdata import add_graded_job, add_upload, csrf_of, new_invite
from sqlalchemy.orm import Session

from grader.report.model import Report
from harness.store.models import INTERVIEWER, Invite, Job, Recruiter
from harness.store.settings import WebSettings
from harness.store.teams import team_named

REPORTS = Path(__file__).resolve().parents[2] / "fixtures" / "web-reports"
PASSWORD = "correct horse battery"  # conftest.PASSWORD


def fixture_report(name: str = "support-triage-reference") -> Report:
    return Report.model_validate_json((REPORTS / f"{name}.json").read_bytes())


def make_interviewer(session: Session, email: str, *, team: str = "Default", name: str = "") -> Recruiter:
    from harness.web.accounts import create_recruiter

    return create_recruiter(session, email, PASSWORD, name=name or email.split("@")[0].title(), teams=[team],
                            role=INTERVIEWER)


def submission_zip(author: str, email: str, readme_title: str) -> bytes:
    """A zipped repository whose README header, reflog and one loose commit name its author."""
    buf = io.BytesIO()
    commit = (f"tree {'0' * 40}\nauthor {author} <{email}> 1700000000 +0000\n"
              f"committer {author} <{email}> 1700000000 +0000\n\nAdd the drift monitor\n").encode()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("triage/README.md", f"# {readme_title}\n\nA support-triage service with a drift monitor.\n")
        zf.writestr("triage/app/main.py", "app = None\n")
        zf.writestr("triage/.git/logs/HEAD", f"{'0' * 40} {'1' * 40} {author} <{email}> 1700000000 +0000\t"
                                             "commit (initial): first version\n")
        zf.writestr(f"triage/.git/objects/ab/{'c' * 38}", zlib.compress(b"commit %d\x00" % len(commit) + commit))
    return buf.getvalue()


def graded_invite(session: Session, settings: WebSettings, name: str = "Ana Lucia Pereira", *,
                  email: str | None = "ana.pereira@example.com", team: str = "Default",
                  report: str | Report = "support-triage-reference",
                  filename: str = "ana-pereira-final.zip",
                  author: tuple[str, str] | None = None) -> tuple[Invite, Job, str]:
    """An invite of `team` graded once with the fixture report (an upload that names the candidate in its
    README header and, as `author` or the candidate, in its git history); returns it, its job and link."""
    parsed = fixture_report(report) if isinstance(report, str) else report
    invite, link = new_invite(session, name, exercise=parsed.exercise, email=email)
    invite.team_id = team_named(session, team).id
    session.flush()
    git_name, git_email = author or (name, email or "ana@example.org")
    upload = add_upload(session, settings, invite, submission_zip(git_name, git_email, f"{name}: support triage"),
                        filename=filename)
    job = add_graded_job(session, settings, invite, upload, parsed)
    return invite, job, link


def post_form(client: Any, page: str, action: str, data: dict[str, Any]) -> Any:
    """POST a form the way a browser does: the CSRF token read from `page` first."""
    return client.post(action, data={"csrf_token": csrf_of(client.get(page).text), **data})
