"""When to try again: exponential backoff with a cap, and when to give up."""
from __future__ import annotations

import datetime as dt

FIRST_S = 30.0  # the first retry
FACTOR = 2.0
CAP_S = 3 * 3600.0  # no wait longer than this between two tries
GIVE_UP_AFTER = dt.timedelta(days=1)  # counted from the first try


def backoff_s(attempts: int, first_s: float = FIRST_S) -> float:
    """Seconds to wait after `attempts` failed tries (1 → first_s, 2 → 2·first_s, ...), capped."""
    return min(CAP_S, first_s * FACTOR ** max(0, attempts - 1))


def next_try(now: dt.datetime, attempts: int, since: dt.datetime, first_s: float = FIRST_S) -> dt.datetime | None:
    """When to try again after `attempts` failures of something first tried at `since`; None: give up."""
    at = now + dt.timedelta(seconds=backoff_s(attempts, first_s))
    return None if at - since > GIVE_UP_AFTER else at
