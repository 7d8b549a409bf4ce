"""The history of cards, dashboards, segments and legacy metrics (`revision`): a snapshot per change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase import __version__
from querybase.models.base import Base, JSONText, utcnow


class Revision(Base):
    __tablename__ = "revision"
    __table_args__ = (Index("ix_revision_model_model_id", "model", "model_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Metabase's model names: "Card", "Dashboard", "Segment", "LegacyMetric".
    model: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow)
    object: Mapped[Any] = mapped_column(JSONText())
    is_reversion: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_creation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    message: Mapped[str | None] = mapped_column(Text)
    most_recent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    metabase_version: Mapped[str | None] = mapped_column(String(100))


def record_revision(
    db: Session,
    *,
    model: str,
    model_id: int,
    user_id: int,
    snapshot: dict[str, Any],
    is_creation: bool = False,
    is_reversion: bool = False,
    message: str | None = None,
) -> Revision:
    """Store `snapshot` as the object's newest revision (the previous newest stops being `most_recent`)."""
    db.execute(
        update(Revision)
        .where(Revision.model == model, Revision.model_id == model_id, Revision.most_recent.is_(True))
        .values(most_recent=False)
    )
    revision = Revision(
        model=model,
        model_id=model_id,
        user_id=user_id,
        object=snapshot,
        is_creation=is_creation,
        is_reversion=is_reversion,
        message=message,
        most_recent=True,
        metabase_version=__version__,
    )
    db.add(revision)
    db.flush()
    return revision
