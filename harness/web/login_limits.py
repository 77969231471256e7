"""Sign-in limits: a moving window of wrong passwords per account and per client
address (the `limits` library; counted in the broker's Redis when there is one), and a lockout
after many wrong passwords in a row, kept on the account so that an administrator can lift it.

A refused attempt never checks the password: what is refused tells nothing about it. Unknown
e-mails are counted like known ones, so the limits do not tell which accounts exist.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from dataclasses import dataclass

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from harness.store.models import Recruiter
from harness.store.settings import WebSettings


@dataclass(frozen=True)
class Refusal:
    reason: str
    retry_after_s: int


class LoginLimits:
    def __init__(self, settings: WebSettings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.limits_storage))
        self._account = parse(settings.login_limit_account)
        self._client = parse(settings.login_limit_client)
        self._lockout_after = settings.lockout_after
        self._lockout = dt.timedelta(seconds=settings.lockout_s)
        # Counts of one deployment only, when several share a Redis (its secret key names it, unreadably).
        self._scope = hashlib.sha256(b"login-limits:" + settings.secret_key.encode()).hexdigest()[:12]

    @staticmethod
    def _key(email: str) -> str:
        # a hash: an e-mail typed into the form is not kept in clear in a shared Redis
        return hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def _wait(self, item: object, *ids: str) -> int:
        reset = self._limiter.get_window_stats(item, *ids).reset_time  # type: ignore[arg-type]
        return max(1, math.ceil(reset - time.time()))

    def refusal(self, client: str, email: str, recruiter: Recruiter | None, now: dt.datetime) -> Refusal | None:
        """Why this attempt is refused before its password is looked at, or None."""
        by_client, by_account = (self._scope, "client", client), (self._scope, "account", self._key(email))
        if not self._limiter.test(self._client, *by_client):
            return Refusal("too many failed sign-ins from your address", self._wait(self._client, *by_client))
        if not self._limiter.test(self._account, *by_account):
            return Refusal("too many wrong passwords for this account", self._wait(self._account, *by_account))
        if recruiter is not None and recruiter.locked(now):
            assert recruiter.locked_until is not None
            return Refusal("this account is locked after too many wrong passwords: an administrator can unlock it",
                           max(1, math.ceil((recruiter.locked_until - now).total_seconds())))
        return None

    def failed(self, client: str, email: str, recruiter: Recruiter | None, now: dt.datetime) -> bool:
        """Count a wrong password against the client and the account; True when it locks the account.
        Good sign-ins are not counted: an office behind one address signs in as often as it needs."""
        self._limiter.hit(self._client, self._scope, "client", client)
        self._limiter.hit(self._account, self._scope, "account", self._key(email))
        if recruiter is None:
            return False
        recruiter.failed_logins = (recruiter.failed_logins or 0) + 1
        if recruiter.failed_logins >= self._lockout_after and not recruiter.locked(now):
            recruiter.locked_until = now + self._lockout
            return True
        return False

    def succeeded(self, email: str, recruiter: Recruiter) -> None:
        recruiter.failed_logins = 0
        recruiter.locked_until = None
        self._limiter.clear(self._account, self._scope, "account", self._key(email))


def unlock(recruiter: Recruiter) -> None:
    recruiter.failed_logins = 0
    recruiter.locked_until = None
