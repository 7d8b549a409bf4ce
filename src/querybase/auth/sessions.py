"""Login sessions: created at login, found from the `metabase.SESSION` cookie or the
`X-Metabase-Session` header, valid for the configured age while the user is active.

The client holds a random UUID; the app DB keeps only its SHA-256, so a leaked database holds no
usable session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from querybase.auth.passwords import hash_token
from querybase.models.base import utcnow
from querybase.models.session import LoginHistory, UserSession
from querybase.models.user import User

SESSION_COOKIE = "metabase.SESSION"
TIMEOUT_COOKIE = "metabase.TIMEOUT"
SESSION_HEADER = "X-Metabase-Session"


def create_session(
    db: Session, user: User, *, ip_address: str | None = None, device: str | None = None
) -> tuple[str, UserSession]:
    """A new session for `user`; returns the id to give the client (shown once) and the row."""
    token = str(uuid.uuid4())
    row = UserSession(key_hashed=hash_token(token), user_id=user.id, user=user)
    db.add(row)
    now = utcnow()
    user.last_login = now
    db.flush()
    # Both come from request headers the client controls; cut them to their columns' sizes rather
    # than fail a good login.
    db.add(
        LoginHistory(
            user_id=user.id,
            session_id=row.id,
            ip_address=_clip(ip_address, LoginHistory.ip_address),
            device_description=_clip(device, LoginHistory.device_description),
        )
    )
    return token, row


def _clip(value: str | None, column: Any) -> str | None:
    return value[: column.type.length] if value is not None else None


def _is_uuid(token: str) -> bool:
    try:
        uuid.UUID(token)
    except ValueError:
        return False
    return True


# Built once: SQLAlchemy memoizes a statement's cache key, and this one runs on every request.
_SESSION_USER = (
    select(User)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        UserSession.key_hashed == bindparam("key_hashed"),
        UserSession.created_at >= bindparam("oldest"),
        User.is_active.is_(True),
    )
)


def find_session_user(db: Session, token: str, max_age_minutes: int) -> User | None:
    """The active user of the live session `token` (young enough). Non-UUIDs are ignored, as in Metabase."""
    if not _is_uuid(token):
        return None
    oldest = utcnow() - dt.timedelta(minutes=max_age_minutes)
    return db.scalar(_SESSION_USER, {"key_hashed": hash_token(token), "oldest": oldest})


def delete_session(db: Session, token: str) -> bool:
    if not _is_uuid(token):
        return False
    result = db.execute(delete(UserSession).where(UserSession.key_hashed == hash_token(token)))
    return bool(result.rowcount)


def delete_user_sessions(db: Session, user_id: int) -> None:
    db.execute(delete(UserSession).where(UserSession.user_id == user_id))


def delete_expired_sessions(db: Session, max_age_minutes: int) -> int:
    cutoff = utcnow() - dt.timedelta(minutes=max_age_minutes)
    return db.execute(delete(UserSession).where(UserSession.created_at < cutoff)).rowcount
