"""The history of cards, dashboards, segments and legacy metrics (`revision`): a snapshot per change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, delete, false, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase import __version__, jsonutil
from querybase.models.base import Base, JSONText, utcnow
from querybase.models.user import User


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


# Metabase keeps this many revisions of each object; older ones are deleted as new ones come.
MAX_REVISIONS = 15


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
    """Store `snapshot` as the object's newest revision (the previous newest stops being `most_recent`) and
    drop what is beyond the newest 15."""
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
    stale = db.scalars(
        select(Revision.id)
        .where(Revision.model == model, Revision.model_id == model_id)
        .order_by(Revision.timestamp.desc(), Revision.id.desc())
        .offset(MAX_REVISIONS)
    ).all()
    if stale:
        db.execute(delete(Revision).where(Revision.id.in_(stale)))
    return revision


def push_revision(
    db: Session,
    model: str,
    model_id: int,
    user_id: int,
    snapshot: dict[str, Any],
    *,
    is_creation: bool = False,
    message: str | None = None,
) -> Revision | None:
    """Record `snapshot` unless it is what the newest revision already holds (Metabase skips no-op edits)."""
    last = db.scalar(
        select(Revision.object)
        .where(Revision.model == model, Revision.model_id == model_id)
        .order_by(Revision.id.desc())
        .limit(1)
    )
    if last is not None and as_json(snapshot) == last:
        return None
    return record_revision(
        db,
        model=model,
        model_id=model_id,
        user_id=user_id,
        snapshot=snapshot,
        is_creation=is_creation,
        message=message,
    )


def forget_revisions(db: Session, model: str, ids: Any) -> None:
    """Drop the history of objects deleted for good. Revisions point at their object by id alone, and
    SQLite may hand a deleted row's id to the next new row, which would then inherit that history."""
    db.execute(delete(Revision).where(Revision.model == model, Revision.model_id.in_(ids)))


def as_json(value: Any) -> Any:
    """`value` as it reads back from a JSON column (datetimes become strings), for comparisons."""
    return jsonutil.decode(jsonutil.encode(value))


def last_edits(db: Session, model: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Metabase's `last-edit-info` of each object that has a revision: who made its newest one, and when."""
    if not ids:
        return {}
    rows = db.execute(
        select(Revision.model_id, Revision.timestamp, User)
        .join(User, User.id == Revision.user_id)
        .where(Revision.model == model, Revision.model_id.in_(ids), Revision.most_recent.is_(True))
    )
    return {
        model_id: {
            "id": editor.id,
            "email": editor.email,
            "first_name": editor.first_name,
            "last_name": editor.last_name,
            "timestamp": timestamp,
        }
        for model_id, timestamp, editor in rows
    }
