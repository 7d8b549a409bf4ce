"""Native query snippets (`native_query_snippet`): named SQL fragments used as `{{snippet: name}}`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, JSONText, Timestamps, new_entity_id


class NativeQuerySnippet(Timestamps, Base):
    __tablename__ = "native_query_snippet"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    name: Mapped[str] = mapped_column(String(254), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    creator_id: Mapped[int] = mapped_column(ForeignKey("core_user.id"))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collection.id", ondelete="SET NULL"))
    template_tags: Mapped[Any | None] = mapped_column(JSONText())


SNIPPET_COLUMNS = (
    "id",
    "entity_id",
    "name",
    "description",
    "content",
    "creator_id",
    "archived",
    "collection_id",
    "template_tags",
    "created_at",
    "updated_at",
)


def snippet_json(snippet: NativeQuerySnippet) -> dict[str, Any]:
    """The snippet's columns, as `POST /api/native-query-snippet` answers them (reads add the creator)."""
    return {column: getattr(snippet, column) for column in SNIPPET_COLUMNS}
