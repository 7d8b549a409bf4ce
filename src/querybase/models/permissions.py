"""Data and collection permissions, and the revisions of their graphs, in Metabase's tables.

- `data_permissions`: one row per group x database (`table_id` NULL) or group x table, per permission type
  (`perms/view-data`, `perms/create-queries`, ...). A type is set either for the whole database or table by
  table, never both.
- `permissions`: Metabase's path rows. Collection access is `/collection/<id>/` (curate) or
  `/collection/<id>/read/` (view), the root `/collection/root/`; the Administrators group holds `/`.
- `permissions_revision` / `collection_permission_graph_revision`: one row per graph change, numbered by
  the graph's `revision`, with who made it, when, and the parts of the graph before and after.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, JSONText, utcnow


class DataPermission(Base):
    __tablename__ = "data_permissions"
    __table_args__ = (
        Index("ix_data_permissions_group_id_db_id_perm_type", "group_id", "db_id", "perm_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("permissions_group.id", ondelete="CASCADE"))
    perm_type: Mapped[str] = mapped_column(String(64))
    db_id: Mapped[int] = mapped_column(ForeignKey("metabase_database.id", ondelete="CASCADE"), index=True)
    schema_name: Mapped[str | None] = mapped_column(String(254))
    table_id: Mapped[int | None] = mapped_column(
        ForeignKey("metabase_table.id", ondelete="CASCADE"), index=True
    )
    perm_value: Mapped[str] = mapped_column(String(64))


class Permission(Base):
    """A permission path held by a group; collection rows also name their collection and level."""

    __tablename__ = "permissions"
    __table_args__ = (UniqueConstraint("group_id", "object"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object: Mapped[str] = mapped_column(String(254))
    group_id: Mapped[int] = mapped_column(ForeignKey("permissions_group.id", ondelete="CASCADE"), index=True)
    perm_type: Mapped[str | None] = mapped_column(String(64))
    perm_value: Mapped[str | None] = mapped_column(String(64))
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collection.id", ondelete="CASCADE"), index=True
    )


class _GraphRevision:
    """A change to a permissions graph. The id is the graph's revision number, set explicitly, so two
    concurrent writers of the same revision collide on the primary key instead of both succeeding."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    before: Mapped[Any] = mapped_column(JSONText())
    after: Mapped[Any] = mapped_column(JSONText())
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    remark: Mapped[str | None] = mapped_column(Text)


class PermissionsRevision(_GraphRevision, Base):
    __tablename__ = "permissions_revision"


class CollectionPermissionGraphRevision(_GraphRevision, Base):
    __tablename__ = "collection_permission_graph_revision"
