"""Shared ORM foundations: the declarative base, constraint naming, UTC timestamps and JSON columns."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any

from sqlalchemy import DateTime, MetaData, Text, TypeDecorator, func
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from querybase import jsonutil

# Deterministic constraint names, so that migrations can alter them on every app database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite and MySQL drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class LongText(TypeDecorator[str]):
    """Text of any length: MySQL's TEXT stops at 64 KB, so it gets LONGTEXT (as Metabase's columns do)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import LONGTEXT

            return dialect.type_descriptor(LONGTEXT())
        return dialect.type_descriptor(Text())


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as text, as Metabase keeps its JSON columns (portable across app databases)."""

    impl = LongText
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else jsonutil.encode(value).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else jsonutil.decode(value)


_ENTITY_ID_ALPHABET = string.ascii_letters + string.digits + "_-"


def new_entity_id() -> str:
    """Metabase's 21-character NanoID used as a stable cross-instance identifier."""
    return "".join(secrets.choice(_ENTITY_ID_ALPHABET) for _ in range(21))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSONText()}


class Timestamps:
    """`created_at` / `updated_at`, set by the app so every app database agrees on precision."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    # A new row's two timestamps are the same instant, as in Metabase.
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=lambda context: context.get_current_parameters()["created_at"],
        onupdate=utcnow,
        server_default=func.current_timestamp(),
    )
