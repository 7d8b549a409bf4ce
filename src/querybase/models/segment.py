"""Segments (named filters on a table) and legacy (v1) metrics (named aggregations on a table, the
`/api/metric` of Metabase's API tutorial; current Metabase keeps metrics as cards of type "metric")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, JSONText, Timestamps, new_entity_id


class Segment(Timestamps, Base):
    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    table_id: Mapped[int] = mapped_column(ForeignKey("metabase_table.id", ondelete="CASCADE"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(254), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    definition: Mapped[Any] = mapped_column(JSONText())
    caveats: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    show_in_getting_started: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LegacyMetric(Timestamps, Base):
    __tablename__ = "metric"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    table_id: Mapped[int] = mapped_column(ForeignKey("metabase_table.id", ondelete="CASCADE"), index=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(254), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    definition: Mapped[Any] = mapped_column(JSONText())
    caveats: Mapped[str | None] = mapped_column(Text)
    how_is_this_calculated: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    show_in_getting_started: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# Columns kept in a revision's snapshot: what a revert restores (identity and timestamps are not).
SNAPSHOT_COLUMNS = (
    "id",
    "name",
    "description",
    "table_id",
    "definition",
    "archived",
    "caveats",
    "points_of_interest",
    "show_in_getting_started",
    "creator_id",
    "entity_id",
)
LEGACY_METRIC_SNAPSHOT_COLUMNS = (*SNAPSHOT_COLUMNS, "how_is_this_calculated")


def segment_snapshot(item: Segment | LegacyMetric) -> dict[str, Any]:
    """What a revision of a segment or legacy metric records."""
    columns = LEGACY_METRIC_SNAPSHOT_COLUMNS if isinstance(item, LegacyMetric) else SNAPSHOT_COLUMNS
    return {column: getattr(item, column) for column in columns}


def segment_json(item: Segment | LegacyMetric, creator: dict[str, Any] | None) -> dict[str, Any]:
    """A segment or legacy metric as `/api/segment` and `/api/metric` answer it, with its `creator`.
    `definition_description` (Metabase's sentence describing the filter) is not generated: null."""
    return {
        **segment_snapshot(item),
        "creator": creator,
        "definition_description": None,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
