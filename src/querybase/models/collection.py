"""Collections. The foundation needs only personal collections; the content issue extends the table."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Boolean, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base, new_entity_id, utcnow


class Collection(Base):
    """A collection of questions, dashboards and other collections; `location` is its ancestors' path."""

    __tablename__ = "collection"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(254))
    slug: Mapped[str] = mapped_column(String(510))
    description: Mapped[str | None] = mapped_column(String(4096))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
