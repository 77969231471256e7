"""Web app settings: built once by `shiftwork serve` / `shiftwork worker` or a test, passed down."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from grader.errors import UsageError

DEFAULT_UPLOAD_CAP = 50 * 2**20  # the submission archive caps in harness.submission are the real limit


@dataclass(frozen=True)
class WebSettings:
    data_dir: Path
    database_url: str
    broker_url: str  # Celery broker; the default needs no server (a folder under data_dir)
    secret_key: str  # signs session cookies and CSRF tokens; kept in data_dir, never in a bundle
    upload_cap_bytes: int = DEFAULT_UPLOAD_CAP
    lease_s: float = 120.0  # a job whose worker stopped heartbeating this long is requeued
    heartbeat_s: float = 10.0
    reaper_every_s: float = 5.0
    embedded_worker: bool = True  # `serve` starts a grading worker beside the app
    # What links are built from, e.g. https://hiring.example.com (`serve` always sets it; an app a
    # test builds without one uses the request's base URL).
    public_url: str = ""
    cookie_secure: bool = False  # session cookies only over HTTPS (on when public_url is https://)
    # Proxies whose X-Forwarded-For/-Proto are believed (uvicorn's forwarded_allow_ips); "" = none
    forwarded_allow_ips: str = ""
    # Sign-in limits: wrong passwords per account and failed sign-ins per client address, in a moving
    # window (the `limits` library's notation); past the lockout count the account is locked for lockout_s.
    login_limit_account: str = "10/15 minutes"
    login_limit_client: str = "30/10 minutes"
    lockout_after: int = 20
    lockout_s: float = 3600.0
    # Where uploads and reports live (Upload.stored_path and Result.report_dir are relative to it):
    # the data folder by default; on a worker machine, the storage it shares with the app
    # (SHIFTWORK_STORAGE_DIR), while data_dir stays the worker's own working folder.
    storage_dir: Path | None = None

    @property
    def db_file(self) -> Path:
        return self.data_dir / "shiftwork.db"

    def folder(self, name: str) -> Path:
        """A folder of the data dir (bundles, uploads, reports, queue, repos), created on demand."""
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def storage_root(self) -> Path:
        return self.storage_dir or self.data_dir

    def stored(self, name: str) -> Path:
        """A folder of the shared storage root (uploads, reports), created on demand."""
        path = self.storage_root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def limits_storage(self) -> str:
        """Where login windows are counted: the broker's Redis when there is one (every app process
        sees the same counts), else this process's memory."""
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else "memory://"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def public_url_of(value: str) -> str:
    """A public URL as links start with it (http(s)://host[:port][/path], no trailing slash), or UsageError."""
    url = urlsplit(value.strip())
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment or url.username:
        raise UsageError(f"public URL {value!r}: use http(s)://host[:port][/path], e.g. https://hiring.example.com")
    try:
        url.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        raise UsageError(f"public URL {value!r}: the port is not a number") from None
    return f"{url.scheme}://{url.netloc}{url.path.rstrip('/')}"


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{name}={value!r}: use 1 or 0")


def build_settings(data_dir: Path | str, *, database_url: str | None = None, broker_url: str | None = None,
                   env: dict[str, str] | None = None, **overrides: object) -> WebSettings:
    """Settings from a data folder and the environment (SHIFTWORK_DATABASE_URL, SHIFTWORK_BROKER_URL,
    SHIFTWORK_STORAGE_DIR, SHIFTWORK_LEASE_S, SHIFTWORK_HEARTBEAT_S, SHIFTWORK_PUBLIC_URL,
    SHIFTWORK_COOKIE_SECURE, SHIFTWORK_FORWARDED_ALLOW_IPS); keyword overrides win."""
    env = dict(os.environ) if env is None else env
    data = Path(data_dir).expanduser().resolve()
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the data folder {data}: {exc.strerror or exc}") from exc
    db = database_url or env.get("SHIFTWORK_DATABASE_URL") or f"sqlite:///{data / 'shiftwork.db'}"
    broker = broker_url or env.get("SHIFTWORK_BROKER_URL") or "filesystem://"
    if "lease_s" not in overrides and env.get("SHIFTWORK_LEASE_S"):
        overrides["lease_s"] = float(env["SHIFTWORK_LEASE_S"])
    if "heartbeat_s" not in overrides and env.get("SHIFTWORK_HEARTBEAT_S"):
        overrides["heartbeat_s"] = float(env["SHIFTWORK_HEARTBEAT_S"])
    if "storage_dir" not in overrides and env.get("SHIFTWORK_STORAGE_DIR"):
        storage = Path(env["SHIFTWORK_STORAGE_DIR"]).expanduser().resolve()
        if not storage.is_dir():
            raise UsageError(f"SHIFTWORK_STORAGE_DIR={storage}: not a folder (mount the storage shared with the app)")
        overrides["storage_dir"] = storage
    if "public_url" not in overrides and env.get("SHIFTWORK_PUBLIC_URL"):
        overrides["public_url"] = env["SHIFTWORK_PUBLIC_URL"]
    if overrides.get("public_url"):
        overrides["public_url"] = public_url_of(str(overrides["public_url"]))
    if overrides.get("cookie_secure") is None:
        overrides.pop("cookie_secure", None)
        if env.get("SHIFTWORK_COOKIE_SECURE"):
            overrides["cookie_secure"] = _flag("SHIFTWORK_COOKIE_SECURE", env["SHIFTWORK_COOKIE_SECURE"])
        else:
            overrides["cookie_secure"] = str(overrides.get("public_url", "")).startswith("https://")
    if "forwarded_allow_ips" not in overrides and env.get("SHIFTWORK_FORWARDED_ALLOW_IPS"):
        overrides["forwarded_allow_ips"] = env["SHIFTWORK_FORWARDED_ALLOW_IPS"]
    return WebSettings(data_dir=data, database_url=db, broker_url=broker, secret_key=_secret_key(data),
                       **overrides)  # type: ignore[arg-type]


