"""The grader-side secret: per-candidate seeds and signed bundle tokens.

The secret comes from $SHIFTWORK_SECRET, else a file created on first use with mode 0600
($SHIFTWORK_SECRET_FILE, default ~/.config/shiftwork/secret) — outside any bundle.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from grader.errors import UsageError


def secret_path() -> Path:
    env = os.environ.get("SHIFTWORK_SECRET_FILE")
    return Path(env) if env else Path.home() / ".config" / "shiftwork" / "secret"


_ENV = "SHIFTWORK_SECRET"
_scrubbed: bytes | None = None  # the value once scrub_environment() has taken it out of the environment


def scrub_environment() -> None:
    """Take $SHIFTWORK_SECRET out of this process's environment before an unsandboxed child runs.

    A child of the same user can read its parent's *initial* environment from
    /proc/<pid>/environ, which unsetting a variable does not change: the bytes of the value
    are overwritten in place first. What stays readable to such a child: the secret file
    ($SHIFTWORK_SECRET_FILE, same user), and this process's memory where ptrace is allowed.
    """
    global _scrubbed
    value = os.environ.get(_ENV)
    if value is None:
        return
    _scrubbed = value.encode()
    _wipe_initial_environ(_ENV)
    os.environ.pop(_ENV, None)


def _wipe_initial_environ(name: str) -> None:
    """Zero NAME's value in the C environment block (what /proc/<pid>/environ shows)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
        prefix = (name + "=").encode()
        i = 0
        while environ[i]:
            addr = environ[i]
            entry = ctypes.string_at(addr)
            if entry.startswith(prefix):
                ctypes.memset(addr + len(prefix), 0, len(entry) - len(prefix))
            i += 1
    except (OSError, ValueError, AttributeError):  # not glibc-like: unsetting is all we can do
        pass


def load_secret() -> bytes:
    if _scrubbed is not None:
        return _scrubbed
    env = os.environ.get(_ENV)
    if env:
        return env.encode()
    path = secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL so two graders starting at once cannot overwrite each other's secret.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise UsageError(f"cannot read the grader secret at {path}: {exc.strerror}") from exc
    if not value:
        raise UsageError(f"the grader secret at {path} is empty")
    return value.encode()


def derive_seed(secret: bytes, exercise: str, candidate: str) -> int:
    """A per-candidate seed: knowing one candidate's seed says nothing about another's."""
    digest = hmac.new(secret, f"seed|{exercise}|{candidate}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def sign_token(secret: bytes, exercise: str, version: str, candidate: str) -> str:
    msg = f"token|{exercise}|{version}|{candidate}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def verify_token(secret: bytes, exercise: str, version: str, candidate: str, token: str) -> bool:
    return hmac.compare_digest(sign_token(secret, exercise, version, candidate), token)
