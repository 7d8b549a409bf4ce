"""Login sessions (`core_session`), login history and failed-login records for the throttle."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from querybase.models.base import Base, utcnow
from querybase.models.user import User


class UserSession(Base):
    """A login session. Only the SHA-256 of the session id the client holds is stored."""

    __tablename__ = "core_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hashed: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    anti_csrf_token: Mapped[str | None] = mapped_column(String(65))

    user: Mapped[User] = relationship(lazy="joined")


class LoginHistory(Base):
    __tablename__ = "login_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("core_session.id", ondelete="SET NULL"))
    device_id: Mapped[str | None] = mapped_column(String(36))
    device_description: Mapped[str | None] = mapped_column(String(1024))
    ip_address: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(Base):
    """A failed login, counted by the throttle. Kept in the app DB so every server process sees it."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_throttler_key", "throttler", "key", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    throttler: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(254))
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
