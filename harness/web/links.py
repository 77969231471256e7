"""What every candidate-link route shares: finding the invite from its token, hardened responses, pages.

The link token is the candidate's only credential and sits in the URL, so every response
of /i/... is never cached, sends no referrer and is never framed. An unknown token gets a
bare 404 that does not say whether the link ever existed; a disabled one gets 410.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from grader.errors import Refused  # noqa: F401  (re-exported)
from harness.store.models import Invite, Job, Result, utcnow
from harness.store.settings import WebSettings
from harness.store.timeline import COUNTS_BY_DEFAULT, counted_job, latest_finished
from harness.web.security import csrf_ok, csrf_token, hash_token

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
CSRF_FIELD = "csrf_token"
DISABLED = "this link has been disabled"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: links in the brief must not carry it away
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}





def harden(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def load_invite(session: Session, token: str) -> Invite:
    """The invite of this link, with what its pages show; Refused(404) / Refused(410) otherwise."""
    invite = session.scalars(
        select(Invite).where(Invite.token_hash == hash_token(token))
        .options(selectinload(Invite.uploads), selectinload(Invite.jobs).selectinload(Job.results))
    ).one_or_none()
    if invite is None:
        raise Refused(404, "not found")
    if invite.disabled_at is not None:
        raise Refused(410, DISABLED)
    return invite


def form_token(settings: WebSettings, invite: Invite) -> str:
    return csrf_token(settings.secret_key, invite.token_hash)


def form_token_ok(settings: WebSettings, invite: Invite, given: str | None) -> bool:
    return csrf_ok(settings.secret_key, invite.token_hash, given)


def shown_result(invite: Invite) -> Result | None:
    """The score that counts (timeline.counted_job), only when the recruiter chose to show scores and it graded."""
    job = counted_job(invite)
    final = job.final if job is not None else None
    if not invite.show_score or final is None or final.status != COUNTS_BY_DEFAULT or final.score is None:
        return None
    return final


# What a candidate may read of a failed upload: why it did not build or start, about their own archive.
TOLD_TO_CANDIDATE = ("build_failed", "start_failed", "not_graded")


def upload_problem(invite: Invite) -> str | None:
    """One line on why the latest upload was not graded, or None (the line is the first reason only)."""
    job = latest_finished(invite)
    final = job.final if job is not None else None
    if final is None or final.status not in TOLD_TO_CANDIDATE:
        return None
    first = (final.reason or "").split("; ")[0].strip() or final.status.replace("_", " ")
    return first[:300]


def relative(when: dt.datetime, now: dt.datetime | None = None) -> str:
    """'in 2 days 3 hours' / '5 minutes ago': the deadline as a person reads it."""
    delta = when - (now or utcnow())
    future, secs = delta.total_seconds() >= 0, int(abs(delta.total_seconds()))
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in
             ((days, "day"), (hours, "hour"), (minutes, "minute")) if n][:2] or ["less than a minute"]
    text = " ".join(parts)
    return f"in {text}" if future else f"{text} ago"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # Built on first use, not at import. Autoescape everywhere: names and filenames come from people.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["time"] = lambda v: "—" if v is None else v.strftime("%Y-%m-%d %H:%M UTC")
    env.filters["relative"] = relative
    return env


def page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return harden(HTMLResponse(_env().get_template(name).render(**context), status_code=status_code))  # type: ignore[return-value]


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def refusal(request: Request, exc: Refused) -> Response:
    """The one-line reason, as JSON for programs and as a small page for people."""
    # never the token itself in the log: it is the candidate's credential
    where = re.sub(r"^/i/[^/.]+", "/i/<token>", request.url.path)
    log.info("%s %s refused: %s %s", request.method, where, exc.status, exc.reason)
    if exc.status == 404:  # no page chrome, no hint that /i/ is anything
        return harden(PlainTextResponse("not found", status_code=404))
    if wants_json(request):
        return harden(JSONResponse({"detail": exc.reason}, status_code=exc.status))
    return page("candidate/refused.html", exc.status, reason=exc.reason, status=exc.status)
