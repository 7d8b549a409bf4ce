"""Timelines of events shown on time-series charts (`timeline`, `timeline_event`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, Timestamps, new_entity_id


class Timeline(Timestamps, Base):
    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    icon: Mapped[str] = mapped_column(String(128), default="star", server_default="star")
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="CASCADE"), index=True
    )
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"))
    default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TimelineEvent(Timestamps, Base):
    __tablename__ = "timeline_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    timeline_id: Mapped[int] = mapped_column(ForeignKey("timeline.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[dt.datetime] = mapped_column()
    time_matters: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    timezone: Mapped[str] = mapped_column(String(255), default="UTC", server_default="UTC")
    icon: Mapped[str] = mapped_column(String(128), default="star", server_default="star")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"))


TIMELINE_COLUMNS = (
    "id",
    "entity_id",
    "name",
    "description",
    "icon",
    "collection_id",
    "archived",
    "creator_id",
    "default",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "timeline_id",
    "name",
    "description",
    "timestamp",
    "time_matters",
    "timezone",
    "icon",
    "archived",
    "creator_id",
    "created_at",
    "updated_at",
)


def timeline_row_json(timeline: Timeline) -> dict[str, object]:
    """The timeline's columns, as `POST /api/timeline` answers (reads add creator, collection, events)."""
    return {column: getattr(timeline, column) for column in TIMELINE_COLUMNS}


def event_row_json(event: TimelineEvent) -> dict[str, object]:
    return {column: getattr(event, column) for column in EVENT_COLUMNS}
