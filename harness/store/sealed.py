"""Secrets at rest: sealed with the app's encryption key (Fernet: AES-128-CBC with an HMAC), or hashed.

What the app must use again (a webhook's signing secret, a link a reminder repeats) is sealed; what
it only has to recognise (a link token, an API token) is hashed; a Greenhouse partner key is both
(recognised on each call, sent back on the completion callback). A copy of the database without the
key hands out none of them.
"""
from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken

from grader.errors import ConfigError


class Sealer:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key)

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise ConfigError("a sealed secret does not open with this encryption key: give every app and worker "
                              "process the same SHIFTWORK_ENCRYPTION_KEY") from None


def digest(token: str) -> str:
    """The SHA-256 of a high-entropy token (an API key, a link): enough to recognise it, no way back."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def redact(secret: str, keep: int = 4) -> str:
    """What a page shows of a secret: its first few characters, then dots (nothing of a short one)."""
    return (secret[:keep] if len(secret) > 3 * keep else "") + "••••••••"
