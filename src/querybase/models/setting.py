"""Stored setting values (`setting`): the key and its value as text, exactly as Metabase keeps them."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base


class Setting(Base):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(254), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
