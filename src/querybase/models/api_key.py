"""API keys (`api_key`). Each key acts as a hidden user of type "api-key" in the key's group."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from querybase.models.base import Base, Timestamps
from querybase.models.user import User


class ApiKey(Timestamps, Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), unique=True)
    # SHA-256 of the whole key: keys are 256 random bits, so a slow hash adds cost and no safety.
    key: Mapped[str] = mapped_column(String(254))
    key_prefix: Mapped[str] = mapped_column(String(7), unique=True)
    name: Mapped[str] = mapped_column(String(254), unique=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"))
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"))
    scope: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    updated_by: Mapped[User] = relationship(foreign_keys=[updated_by_id], lazy="joined")
