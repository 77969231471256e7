"""The app factory: settings in, a FastAPI app out. No work at import time."""
from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, Response

from harness.store.db import make_engine, migrate, session_factory
from harness.store.models import Recruiter
from harness.store.settings import WebSettings
from harness.web import (api, api_interviews, api_reviews, api_webhooks, candidate, greenhouse, mail_pages,
                        partner_pages, recruiter, review_pages, webhook_pages)
from harness.web.auth import signed_in
from harness.web.headers import SecurityHeaders
from harness.web.login_limits import LoginLimits
from harness.web.views import PageNotFound, render

log = logging.getLogger(__name__)


def create_app(settings: WebSettings, *, run_migrations: bool = True) -> FastAPI:
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    # No /docs or /redoc (they load scripts from a CDN); the OpenAPI file is for signed-in callers only.
    app = FastAPI(title="shiftwork", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, description="Invites, candidate links, uploads, the grading queue and reports; "
                                                "interviewers, scorecards, decisions and candidate feedback.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.login_limits = LoginLimits(settings)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="shiftwork_session",
                       same_site="lax", https_only=settings.cookie_secure, max_age=12 * 3600)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # The default handler echoes the input as UTF-8: a lone surrogate in it made a 500.
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True, default=repr)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(PageNotFound)
    async def _page_not_found(request: Request, exc: PageNotFound) -> Response:
        return render(request, "recruiter/not_found.html", status_code=404, what=exc.what)

    app.include_router(recruiter.router)
    app.include_router(candidate.router)
    app.include_router(review_pages.router)
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(api_reviews.router, prefix="/api/v1")
    app.include_router(api_interviews.router, prefix="/api/v1")
    app.include_router(api_webhooks.router, prefix="/api/v1")
    app.include_router(mail_pages.router)
    app.include_router(webhook_pages.router)
    app.include_router(partner_pages.router)
    # Greenhouse's assessment partner endpoints (HTTP Basic with a partner key), where the settings say
    app.include_router(greenhouse.router, prefix=settings.greenhouse_path)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_: Recruiter = Depends(signed_in)) -> JSONResponse:
        return JSONResponse(app.openapi())

    app.add_middleware(SecurityHeaders)
    return app
