"""Saved questions, models and metrics (`report_card`): a query plus how to show it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, SmallInteger, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, JSONText, Timestamps, new_entity_id


class Card(Timestamps, Base):
    __tablename__ = "report_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    name: Mapped[str] = mapped_column(String(254), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    # "question", "model" or "metric".
    type: Mapped[str] = mapped_column(String(16), default="question", server_default="question")
    display: Mapped[str] = mapped_column(String(254))
    dataset_query: Mapped[Any] = mapped_column(JSONText())
    visualization_settings: Mapped[Any] = mapped_column(JSONText())
    result_metadata: Mapped[Any | None] = mapped_column(JSONText())
    parameters: Mapped[Any | None] = mapped_column(JSONText())
    parameter_mappings: Mapped[Any | None] = mapped_column(JSONText())
    # "query" or "native"; the database and (for MBQL) the source table the query reads.
    query_type: Mapped[str | None] = mapped_column(String(16))
    database_id: Mapped[int] = mapped_column(
        ForeignKey("metabase_database.id", ondelete="CASCADE"), index=True
    )
    table_id: Mapped[int | None] = mapped_column(
        ForeignKey("metabase_table.id", ondelete="SET NULL"), index=True
    )
    source_card_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_card.id", ondelete="SET NULL"), index=True
    )
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"), index=True)
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="SET NULL"), index=True
    )
    collection_position: Mapped[int | None] = mapped_column(SmallInteger)
    collection_preview: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    dashboard_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_dashboard.id", ondelete="CASCADE"), index=True
    )
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    archived_directly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    public_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    made_public_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    enable_embedding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    embedding_params: Mapped[Any | None] = mapped_column(JSONText())
    embedding_type: Mapped[str | None] = mapped_column(String(64))
    initially_published_at: Mapped[dt.datetime | None] = mapped_column()
    cache_ttl: Mapped[int | None] = mapped_column(Integer)
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    card_schema: Mapped[int] = mapped_column(Integer, default=22, server_default="22")
