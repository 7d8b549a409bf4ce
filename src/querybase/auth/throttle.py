"""The login throttle, as Metabase's: failed attempts are counted per username and per client IP
for an hour. Once a key has reached the threshold every attempt is refused (and counted) until old
failures age out; the message asks to wait 15 s * (attempts over)^1.5 after the previous attempt, or,
once that time has passed, just to try again later.

Attempts are rows in the app DB (`login_attempt`), so every server process sharing the database
counts the same attempts.
"""

from __future__ import annotations

import datetime as dt
import math
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


def _stored_key(key: str) -> str:
    """Keys come from the request (a username, a forwarded address) and may exceed the column."""
    return key[: LoginAttempt.__table__.c.key.type.length]


def seconds_to_wait(db: Session, throttler: Throttler, key: str) -> float | None:
    """None while `key` is under the threshold; else the seconds left of its current delay (0 or less
    once that delay has passed: still throttled, Metabase's `with-throttling` refuses until the
    failures age out)."""
    since = utcnow() - ATTEMPT_TTL
    count, latest = db.execute(
        select(func.count(), func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.throttler == throttler.name,
            LoginAttempt.key == _stored_key(key),
            LoginAttempt.attempted_at > since,
        )
    ).one()
    if count < throttler.threshold or latest is None:
        return None
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    over = count + 1 - throttler.threshold
    delay = INITIAL_DELAY_SECONDS * over**DELAY_EXPONENT
    return (latest + dt.timedelta(seconds=delay) - utcnow()).total_seconds()


def check(db: Session, throttler: Throttler, key: str) -> None:
    """Raise Metabase's 401 when `key` is throttled."""
    wait = seconds_to_wait(db, throttler, key)
    if wait is None:
        return
    # Metabase rounds half up (Math/round), and only mentions a wait while there is one.
    message = (
        f"Too many attempts! You must wait {math.floor(wait + 0.5)} seconds before trying again."
        if wait > 0
        else "Too many attempts! Please try again later."
    )
    raise Unauthenticated({"errors": {"username": message}})


def record_failure(db: Session, throttler: Throttler, key: str) -> None:
    db.add(LoginAttempt(throttler=throttler.name, key=_stored_key(key)))


def clean_up(db: Session) -> None:
    """Forget attempts older than the window."""
    db.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < utcnow() - ATTEMPT_TTL))
