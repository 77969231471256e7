"""Web app settings: built once by `shiftwork serve` / `shiftwork worker` or a test, passed down."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from grader.errors import UsageError

DEFAULT_UPLOAD_CAP = 50 * 2**20  # the submission archive caps in harness.submission are the real limit


SMTP_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes (harness.notify.mail). The password is never logged nor shown (repr hides it)."""

    host: str
    sender: str  # the From address
    port: int = 587
    security: str = "starttls"  # starttls (port 587), tls (implicit, port 465), none (a relay on this machine)
    user: str = ""
    password: str = field(default="", repr=False)
    timeout_s: float = 20.0

    def describe(self) -> str:
        """For pages and logs: everything but the password."""
        who = f"{self.user} (password {'set' if self.password else 'none'}) at " if self.user else ""
        return f"{who}{self.host}:{self.port} ({self.security}), from {self.sender}"


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
    # Integrations (issue 22). Secrets at rest are sealed with this key (Fernet, harness.store.sealed):
    # $SHIFTWORK_ENCRYPTION_KEY, else a file in the data folder made on first use.
    encryption_key: str = field(default="", repr=False)
    smtp: SmtpSettings | None = None  # None: no e-mail is sent (the app says so where it would be)
    reminder_before_h: float = 24.0  # the candidate's reminder this long before the deadline (0: none)
    # Webhooks go to https:// targets on public addresses only; these hosts (host or host:port) may be
    # http:// or private (an admin's own receiver). The app's own address is refused whatever is listed.
    webhook_allowed_hosts: tuple[str, ...] = ()
    greenhouse_path: str = "/greenhouse"  # where the Greenhouse assessment partner endpoints live
    serve_address: str = ""  # host:port `serve` listens on: webhooks never go there

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


def _encryption_key(data_dir: Path, env: dict[str, str]) -> str:
    from cryptography.fernet import Fernet

    if env.get("SHIFTWORK_ENCRYPTION_KEY"):
        key = env["SHIFTWORK_ENCRYPTION_KEY"].strip()
        try:
            Fernet(key)
        except ValueError:
            raise UsageError("SHIFTWORK_ENCRYPTION_KEY: not a Fernet key (32 url-safe base64-encoded bytes; "
                             "make one with `shiftwork admin encryption-key`)") from None
        return key
    path = data_dir / "encryption_key"
    if path.is_file():
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def smtp_from_env(env: dict[str, str]) -> SmtpSettings | None:
    """SHIFTWORK_SMTP_HOST, _PORT, _SECURITY, _USER, _PASSWORD (or _PASSWORD_FILE), _FROM; None without a host."""
    host = env.get("SHIFTWORK_SMTP_HOST", "").strip()
    if not host:
        return None
    security = env.get("SHIFTWORK_SMTP_SECURITY", "starttls").strip().lower()
    if security not in SMTP_SECURITY:
        raise UsageError(f"SHIFTWORK_SMTP_SECURITY={security!r}: use one of {', '.join(SMTP_SECURITY)}")
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    try:
        port = int(env.get("SHIFTWORK_SMTP_PORT") or default_port)
    except ValueError:
        raise UsageError(f"SHIFTWORK_SMTP_PORT={env['SHIFTWORK_SMTP_PORT']!r}: not a port number") from None
    if not 0 < port < 65536:
        raise UsageError(f"SHIFTWORK_SMTP_PORT={port}: use 1-65535")
    sender = env.get("SHIFTWORK_SMTP_FROM", "").strip()
    if "@" not in sender:
        raise UsageError("SHIFTWORK_SMTP_FROM: set the From address of the app's e-mail (e.g. hiring@example.com)")
    password = env.get("SHIFTWORK_SMTP_PASSWORD", "")
    if not password and env.get("SHIFTWORK_SMTP_PASSWORD_FILE"):
        pw_file = Path(env["SHIFTWORK_SMTP_PASSWORD_FILE"]).expanduser()
        try:
            password = pw_file.read_text().strip()
        except OSError as exc:
            raise UsageError(f"SHIFTWORK_SMTP_PASSWORD_FILE={pw_file}: {exc.strerror or exc}") from None
    return SmtpSettings(host=host, port=port, security=security, user=env.get("SHIFTWORK_SMTP_USER", ""),
                        password=password, sender=sender)


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
    if "smtp" not in overrides:
        overrides["smtp"] = smtp_from_env(env)
    if "reminder_before_h" not in overrides and env.get("SHIFTWORK_REMINDER_BEFORE_H"):
        try:
            overrides["reminder_before_h"] = float(env["SHIFTWORK_REMINDER_BEFORE_H"])
        except ValueError:
            raise UsageError(f"SHIFTWORK_REMINDER_BEFORE_H={env['SHIFTWORK_REMINDER_BEFORE_H']!r}: "
                             "hours before the deadline, e.g. 24 (0: no reminder)") from None
    if "webhook_allowed_hosts" not in overrides and env.get("SHIFTWORK_WEBHOOK_ALLOWED_HOSTS"):
        overrides["webhook_allowed_hosts"] = tuple(
            h.strip().lower() for h in env["SHIFTWORK_WEBHOOK_ALLOWED_HOSTS"].split(",") if h.strip())
    if "greenhouse_path" not in overrides and env.get("SHIFTWORK_GREENHOUSE_PATH"):
        overrides["greenhouse_path"] = env["SHIFTWORK_GREENHOUSE_PATH"]
    if overrides.get("greenhouse_path") is not None:
        path = "/" + str(overrides["greenhouse_path"]).strip().strip("/")
        if path == "/" or path.startswith(("/api", "/i/", "/static")):
            raise UsageError(f"greenhouse path {path!r}: use a path of its own, e.g. /greenhouse")
        overrides["greenhouse_path"] = path
    return WebSettings(data_dir=data, database_url=db, broker_url=broker, secret_key=_secret_key(data),
                       encryption_key=str(overrides.pop("encryption_key", "") or _encryption_key(data, env)),
                       **overrides)  # type: ignore[arg-type]


