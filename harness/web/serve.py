"""`shiftwork serve`: the app and, on one machine, the grading worker beside it."""
from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from grader.errors import UsageError
from harness.notify.dispatch import DispatchThread
from harness.store.settings import WebSettings, build_settings

log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_worker(settings: WebSettings, console: Console) -> Any:
    """The embedded grading worker (harness.queue.embedded), or None when it cannot start here."""
    if not settings.embedded_worker:
        return None
    try:
        from harness.queue.embedded import start_embedded_worker
    except ImportError as exc:
        console.print(f"warning: no embedded grading worker ({exc}): jobs stay queued until a worker runs",
                      highlight=False, markup=False)
        return None
    return start_embedded_worker(settings)


def _recruiters(settings: WebSettings, app: Any) -> int:
    from harness.store.models import Recruiter

    with app.state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Recruiter)) or 0)


def serve(data: Path, *, host: str, port: int, console: Console, worker: bool = True, public_url: str = "",
          secure_cookies: bool | None = None, forwarded_allow_ips: str = "", **integrations: Any) -> None:
    """`integrations`: smtp, reminder_before_h, webhook_allowed_hosts, greenhouse_path (WebSettings)."""
    import uvicorn

    from harness.web.app import create_app

    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: use 1-65535")
    # Links are built from the public URL, never from a request's Host header.
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    url = public_url or f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    settings = build_settings(data, embedded_worker=worker, public_url=url, cookie_secure=secure_cookies,
                              forwarded_allow_ips=forwarded_allow_ips.strip(), serve_address=f"{host}:{port}",
                              **integrations)
    if host in ("0.0.0.0", "::") and not public_url:
        console.print(f"warning: links will start with {url}: set --public-url to the address candidates use",
                      highlight=False, markup=False)
    app = create_app(settings)
    if not _loopback(host):
        # A candidate's container reaches host listeners through its network's gateway.
        console.print(f"warning: listening on {host}, not only on this machine: make sure run networks cannot "
                      "reach it (the docker runtime's firewall rule) and put TLS in front", highlight=False,
                      markup=False)
    if _recruiters(settings, app) == 0:
        console.print(f"no recruiter account yet: create one with `shiftwork admin create-user EMAIL --data {data}`",
                      highlight=False, markup=False)
    embedded = start_worker(settings, console)
    dispatch = DispatchThread(settings)  # e-mail, webhooks and Greenhouse callbacks, with or without a worker
    dispatch.start()
    if settings.smtp is None:
        console.print("no SMTP server set (--smtp-host): invites are not e-mailed (docs/integrations.md)",
                      highlight=False, markup=False)
    console.print(f"shiftwork serving http://{host}:{port}/ as {settings.public_url} (data in {settings.data_dir}, "
                  f"database "
                  f"{'sqlite' if settings.database_url.startswith('sqlite') else 'postgresql'}, "
                  f"{'embedded grading worker' if embedded is not None else 'no embedded worker'})",
                  highlight=False, markup=False)
    try:
        # X-Forwarded-* only from the proxies named: from anyone else they would let a client choose its address.
        trusted = settings.forwarded_allow_ips
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=bool(trusted),
                    forwarded_allow_ips=trusted or None)
    finally:
        dispatch.stop()
        if embedded is not None:
            embedded.stop()
