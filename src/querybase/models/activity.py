"""What users did and marked: recent views (`recent_views`, behind `/api/activity`) and bookmarks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, utcnow


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
