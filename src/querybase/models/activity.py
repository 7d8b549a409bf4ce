"""What users did and marked: recent views (`recent_views`, behind `/api/activity`) and bookmarks."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase.db.engine import AppDB
from querybase.models.base import Base, utcnow
from querybase.models.card import Card

log = logging.getLogger(__name__)

# How card types show up as recent models; each type is a bucket of its own when views are pruned.
CARD_TYPE_MODELS = {"question": "card", "model": "dataset", "metric": "metric"}
# Metabase keeps this many recent items per user, model (bucket) and context.
KEPT_PER_MODEL = 20


class RecentView(Base):
    __tablename__ = "recent_views"
    __table_args__ = (Index("ix_recent_views_user_id_timestamp", "user_id", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    # "card", "dataset", "metric", "dashboard", "collection", "table".
    model: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int] = mapped_column(Integer)
    # "view" (opened) or "selection" (picked as a data source).
    context: Mapped[str] = mapped_column(String(64), default="view", server_default="view")
    timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CardBookmark(Base):
    __tablename__ = "card_bookmark"
    __table_args__ = (UniqueConstraint("user_id", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("report_card.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DashboardBookmark(Base):
    __tablename__ = "dashboard_bookmark"
    __table_args__ = (UniqueConstraint("user_id", "dashboard_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    dashboard_id: Mapped[int] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CollectionBookmark(Base):
    __tablename__ = "collection_bookmark"
    __table_args__ = (UniqueConstraint("user_id", "collection_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def record_view(db: Session, user_id: int, model: str, model_id: int, context: str) -> None:
    """Store a view (cards of every type as "card"), then prune as Metabase does: the user's older duplicates
    in this context, and whatever is beyond the 20 newest of each kind (questions, models, metrics apart)."""
    stored = "card" if model in CARD_TYPE_MODELS.values() else model
    db.add(RecentView(user_id=user_id, model=stored, model_id=model_id, context=context, timestamp=utcnow()))
    db.flush()
    rows = db.execute(
        select(RecentView.id, RecentView.model, RecentView.model_id, Card.type)
        .outerjoin(Card, (RecentView.model == "card") & (Card.id == RecentView.model_id))
        .where(RecentView.user_id == user_id, RecentView.context == context)
        .order_by(RecentView.timestamp.desc(), RecentView.id.desc())
    ).all()
    seen: set[tuple[str, int]] = set()
    per_bucket: dict[str, int] = {}
    prune: list[int] = []
    for row_id, row_model, row_model_id, card_type in rows:
        if (row_model, row_model_id) in seen:
            prune.append(row_id)
            continue
        seen.add((row_model, row_model_id))
        # A view of a card that is gone belongs to no bucket (Metabase's join finds no type for it).
        bucket = CARD_TYPE_MODELS.get(card_type) if row_model == "card" else row_model
        if bucket is None:
            continue
        per_bucket[bucket] = per_bucket.get(bucket, 0) + 1
        if per_bucket[bucket] > KEPT_PER_MODEL:
            prune.append(row_id)
    if prune:
        db.execute(delete(RecentView).where(RecentView.id.in_(prune)))


def record_view_after_read(appdb: AppDB, user_id: int, model: str, model_id: int) -> None:
    """Record a view of something a GET returned. GET requests run in read-only transactions, so this runs
    after the response (a background task) in a short write transaction of its own; if it fails, the view is
    lost and logged, and the GET has succeeded anyway (Metabase's event handlers log and go on, too)."""
    try:
        with appdb.transaction() as db:
            record_view(db, user_id, model, model_id, "view")
    except Exception:
        log.warning("Could not record a view of %s %s by user %s", model, model_id, user_id, exc_info=True)
