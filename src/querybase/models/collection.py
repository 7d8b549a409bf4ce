"""Collections: the root (not a row), nested collections (`location` is the path of ancestor ids),
personal collections (one per person) and the Trash (`type` "trash")."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, false, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from querybase.models.base import Base, new_entity_id, utcnow


class Collection(Base):
    """A collection of questions, dashboards and other collections; `location` is its ancestors' path."""

    __tablename__ = "collection"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(254))
    slug: Mapped[str] = mapped_column(String(510))
    description: Mapped[str | None] = mapped_column(String(4096))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Archived by itself (not because an ancestor was), and which archive operation did it, for restore.
    archived_directly: Mapped[bool | None] = mapped_column(Boolean)
    archive_operation_id: Mapped[str | None] = mapped_column(String(36))
    location: Mapped[str] = mapped_column(String(254), default="/", server_default="/")
    personal_owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), unique=True
    )
    namespace: Mapped[str | None] = mapped_column(String(254))
    authority_level: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(256))
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def slugify(name: str) -> str:
    """Metabase's collection slug: lower case, runs of other characters become `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:254]


def personal_collection_name(owner: Any) -> str:
    return f"{owner.common_name}'s Personal Collection"


def personal_collection_id(db: Session, owner: Any) -> int | None:
    """The id of `owner`'s personal collection. Users that are not people (API keys) have none."""
    if owner.type != "personal":
        return None
    return db.scalar(select(Collection.id).where(Collection.personal_owner_id == owner.id))


def create_personal_collection(db: Session, owner: Any) -> None:
    """Give a new person their personal collection. Metabase makes it on first use; querybase makes it
    with the user, so that reading a user (a GET) never has to write."""
    name = personal_collection_name(owner)
    db.add(Collection(name=name, slug=slugify(name), personal_owner_id=owner.id))


def rename_personal_collection(db: Session, owner: Any) -> None:
    """Follow a change of `owner`'s name, as Metabase does when a user is renamed (if the collection
    exists yet)."""
    collection = db.scalar(select(Collection).where(Collection.personal_owner_id == owner.id))
    name = personal_collection_name(owner)
    if collection is not None and collection.name != name:
        collection.name, collection.slug = name, slugify(name)
