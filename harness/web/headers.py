"""Headers every answer of the app carries, set in one place (an ASGI middleware).

Pages get a Content-Security-Policy that allows no script at all (the pages have none) and
nothing from another origin; every answer gets `nosniff`; API answers, which may carry a
one-time link, are never stored by a cache. A route that sets its own value keeps it (the
candidate link's pages are stricter still).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, MutableMapping

from starlette.datastructures import MutableHeaders

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'self'; base-uri 'none'")
API_PREFIX = "/api/"


class SecurityHeaders:
    """Adds the headers to every HTTP answer (setdefault: a route's own value wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith(API_PREFIX) or scope.get("path") == "/openapi.json"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if api:
                    headers.setdefault("Cache-Control", "no-store")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
                    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
            await send(message)

        await self.app(scope, receive, send_with_headers)
