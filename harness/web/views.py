"""Rendering the recruiter pages: one Jinja2 environment, the context every page gets, small filters."""
from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from grader.errors import PageNotFound  # noqa: F401  (re-exported)
from harness.web.auth import csrf_for

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"


def fmt_time(value: dt.datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def fmt_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def fmt_size(n: int | None) -> str:
    if n is None:
        return "—"
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB" if n < 1024**2 else f"{n / 1024**2:.1f} MB"


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    # Built on first use, not at import: importing the app must not touch the file system.
    t = Jinja2Templates(directory=str(TEMPLATES))
    t.env.filters["time"] = fmt_time
    t.env.filters["score"] = fmt_score
    t.env.filters["size"] = fmt_size
    return t





def public_base(request: Request) -> str:
    """Where links start: the configured public URL (`serve` always sets one); only an app built
    without one (a test's) falls back to the request's own base URL."""
    return (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")


def render(request: Request, name: str, status_code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """A page with the recruiter's context: who is logged in and the form token of this session."""
    context.setdefault("recruiter", getattr(request.state, "recruiter", None))
    context.setdefault("error", None)
    context.setdefault("message", None)
    context["csrf_token"] = csrf_for(request)
    response = templates().TemplateResponse(request, name, context, status_code=status_code)
    # Pages carry one-time links and candidates' names: never cached, never framed by others.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.update(headers or {})
    return response
