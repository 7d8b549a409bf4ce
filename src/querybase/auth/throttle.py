"""The login throttle, as Metabase's: failed attempts are counted per username and per client IP
for an hour; past the threshold, each further attempt must wait 15 s * (attempts over)^1.5 after
the previous one.

Attempts are rows in the app DB (`login_attempt`), so every server process sharing the database
counts the same attempts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from querybase.errors import Unauthenticated
from querybase.models.base import utcnow
from querybase.models.session import LoginAttempt

ATTEMPT_TTL = dt.timedelta(hours=1)
INITIAL_DELAY_SECONDS = 15.0
DELAY_EXPONENT = 1.5


@dataclass(frozen=True)
class Throttler:
    name: str
    threshold: int


USERNAME = Throttler("username", 10)
IP_ADDRESS = Throttler("ip-address", 50)


def seconds_to_wait(db: Session, throttler: Throttler, key: str) -> float | None:
    """How long `key` must still wait before another attempt, or None when it may try now."""
    since = utcnow() - ATTEMPT_TTL
    count, latest = db.execute(
        select(func.count(), func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.throttler == throttler.name,
            LoginAttempt.key == key,
            LoginAttempt.attempted_at > since,
        )
    ).one()
    over = count + 1 - throttler.threshold
    if over <= 0 or latest is None:
        return None
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    delay = INITIAL_DELAY_SECONDS * over**DELAY_EXPONENT
    remaining = (latest + dt.timedelta(seconds=delay) - utcnow()).total_seconds()
    return remaining if remaining > 0 else None


def check(db: Session, throttler: Throttler, key: str) -> None:
    """Raise Metabase's 401 when `key` is throttled."""
    wait = seconds_to_wait(db, throttler, key)
    if wait is not None:
        seconds = round(wait)
        message = (
            f"Too many attempts! You must wait {seconds} seconds before trying again."
            if seconds > 0
            else "Too many attempts! Please try again later."
        )
        raise Unauthenticated({"errors": {"username": message}})


def record_failure(db: Session, throttler: Throttler, key: str) -> None:
    db.add(LoginAttempt(throttler=throttler.name, key=key))


def clean_up(db: Session) -> None:
    """Forget attempts older than the window."""
    db.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < utcnow() - ATTEMPT_TTL))
