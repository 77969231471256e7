"""Secrets of the web app: link and API tokens (stored hashed), passwords (argon2), CSRF tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

LINK_TOKEN_BYTES = 24  # 192 bits: a link is the candidate's only credential
API_TOKEN_PREFIX = "swt_"
_hasher = PasswordHasher()


def new_token(nbytes: int = LINK_TOKEN_BYTES, prefix: str = "") -> tuple[str, str]:
    """A fresh unguessable token and the hash that is stored instead of it."""
    token = prefix + secrets.token_urlsafe(nbytes)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    # Tokens carry ≥128 random bits, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def csrf_token(secret_key: str, scope: str) -> str:
    """The token a form must carry: bound to one session (or one invite link) by HMAC."""
    return hmac.new(secret_key.encode(), b"csrf:" + scope.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret_key: str, scope: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(secret_key, scope), given or "")
