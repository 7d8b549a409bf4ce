"""Connected databases and what sync learnt about them: `metabase_database`, `metabase_table`,
`metabase_field` and `metabase_fieldvalues`, named as in Metabase.

A database's connection `details` are stored encrypted when `MB_ENCRYPTION_SECRET_KEY` is set
(`db/encryption.py`) and never leave the server unredacted (`redact_details`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from querybase.db.encryption import EncryptedJSON
from querybase.drivers import get_driver
from querybase.drivers.base import Driver
from querybase.models.base import Base, JSONText, Timestamps, new_entity_id
from querybase.models.user import User

# The value Metabase shows in place of a secret, and accepts back as "keep the stored value".
REDACTED = "**MetabasePass**"
# Keys whose values are secrets in every engine's details (drivers add their own `password` properties).
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "pass",
        "tunnel-pass",
        "tunnel-private-key",
        "tunnel-private-key-passphrase",
        "access-token",
        "refresh-token",
        "service-account-json",
    }
)


class Database(Timestamps, Base):
    __tablename__ = "metabase_database"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(254))
    description: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(254))
    details: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_full_sync: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    is_on_demand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_audit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    auto_run_queries: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    refingerprint: Mapped[bool | None] = mapped_column(Boolean)
    cache_ttl: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str | None] = mapped_column(String(254))
    dbms_version: Mapped[dict[str, Any] | None] = mapped_column(JSONText())
    caveats: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONText())
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"))
    initial_sync_status: Mapped[str] = mapped_column(
        String(32), default="incomplete", server_default="incomplete"
    )
    metadata_sync_schedule: Mapped[str] = mapped_column(String(254), default="0 50 * * * ? *")
    cache_field_values_schedule: Mapped[str | None] = mapped_column(String(254), default="0 50 0 * * ? *")
    provider_name: Mapped[str | None] = mapped_column(String(254))
    uploads_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    uploads_schema_name: Mapped[str | None] = mapped_column(String(254))
    uploads_table_prefix: Mapped[str | None] = mapped_column(String(254))
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)

    tables: Mapped[list[Table]] = relationship(back_populates="database", cascade="all, delete-orphan")


class Table(Timestamps, Base):
    __tablename__ = "metabase_table"
    __table_args__ = (UniqueConstraint("db_id", "schema", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    db_id: Mapped[int] = mapped_column(ForeignKey("metabase_database.id", ondelete="CASCADE"), index=True)
    schema: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    entity_type: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    visibility_type: Mapped[str | None] = mapped_column(String(254))
    field_order: Mapped[str] = mapped_column(String(254), default="database", server_default="database")
    initial_sync_status: Mapped[str] = mapped_column(
        String(32), default="incomplete", server_default="incomplete"
    )
    caveats: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    show_in_getting_started: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    estimated_row_count: Mapped[int | None]
    is_upload: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)

    database: Mapped[Database] = relationship(back_populates="tables")
    fields: Mapped[list[Field]] = relationship(
        back_populates="table", cascade="all, delete-orphan", foreign_keys="Field.table_id"
    )


class Field(Timestamps, Base):
    __tablename__ = "metabase_field"
    __table_args__ = (UniqueConstraint("table_id", "parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("metabase_table.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str | None] = mapped_column(String(254))
    description: Mapped[str | None] = mapped_column(Text)
    database_type: Mapped[str] = mapped_column(Text)
    base_type: Mapped[str] = mapped_column(String(255))
    effective_type: Mapped[str | None] = mapped_column(String(255))
    semantic_type: Mapped[str | None] = mapped_column(String(255))
    coercion_strategy: Mapped[str | None] = mapped_column(String(255))
    fk_target_field_id: Mapped[int | None] = mapped_column(
        ForeignKey("metabase_field.id", ondelete="SET NULL")
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("metabase_field.id", ondelete="CASCADE"))
    nfc_path: Mapped[list[Any] | None] = mapped_column(JSONText())
    json_unfolding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    visibility_type: Mapped[str] = mapped_column(String(32), default="normal", server_default="normal")
    preview_display: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    database_position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    custom_position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    has_field_values: Mapped[str | None] = mapped_column(String(32))
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONText())
    caveats: Mapped[str | None] = mapped_column(Text)
    points_of_interest: Mapped[str | None] = mapped_column(Text)
    database_is_auto_increment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    database_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    database_indexed: Mapped[bool | None] = mapped_column(Boolean)
    last_analyzed: Mapped[dt.datetime | None]
    fingerprint: Mapped[dict[str, Any] | None] = mapped_column(JSONText())
    fingerprint_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)

    table: Mapped[Table] = relationship(back_populates="fields", foreign_keys=[table_id])
    target: Mapped[Field | None] = relationship(remote_side=[id], foreign_keys=[fk_target_field_id])


class FieldValues(Timestamps, Base):
    """Cached distinct values of a category-like field, for filter widgets (`has_field_values: "list"`)."""

    __tablename__ = "metabase_fieldvalues"

    id: Mapped[int] = mapped_column(primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("metabase_field.id", ondelete="CASCADE"), index=True)
    values: Mapped[list[Any] | None] = mapped_column(JSONText())
    human_readable_values: Mapped[list[Any] | None] = mapped_column(JSONText())
    has_more_values: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    type: Mapped[str] = mapped_column(String(32), default="full", server_default="full")
    hash_key: Mapped[str | None] = mapped_column(String(255))
    last_used_at: Mapped[dt.datetime | None]


def redact_details(
    details: dict[str, Any] | None, secret_keys: frozenset[str] = SENSITIVE_KEYS
) -> dict[str, Any]:
    """`details` as an admin may see them: every present secret replaced by `**MetabasePass**`."""
    return {
        key: REDACTED if key in secret_keys and value not in (None, "") else value
        for key, value in (details or {}).items()
    }


def merge_redacted(
    new: dict[str, Any], old: dict[str, Any], secret_keys: frozenset[str] = SENSITIVE_KEYS
) -> dict[str, Any]:
    """New details from a client: a secret sent back as `**MetabasePass**` keeps its stored value."""
    return {
        key: old.get(key) if key in secret_keys and value == REDACTED else value for key, value in new.items()
    }


# ---------------------------------------------------------------------------------------------------
# JSON views, with Metabase's keys.

DATABASE_COLUMNS = (
    "id",
    "name",
    "description",
    "engine",
    "is_sample",
    "is_full_sync",
    "is_on_demand",
    "is_audit",
    "auto_run_queries",
    "refingerprint",
    "cache_ttl",
    "timezone",
    "dbms_version",
    "caveats",
    "points_of_interest",
    "settings",
    "creator_id",
    "initial_sync_status",
    "metadata_sync_schedule",
    "cache_field_values_schedule",
    "provider_name",
    "uploads_enabled",
    "uploads_schema_name",
    "uploads_table_prefix",
    "entity_id",
    "created_at",
    "updated_at",
)


TABLE_COLUMNS = (
    "id",
    "db_id",
    "schema",
    "name",
    "display_name",
    "description",
    "entity_type",
    "active",
    "visibility_type",
    "field_order",
    "initial_sync_status",
    "caveats",
    "points_of_interest",
    "show_in_getting_started",
    "estimated_row_count",
    "is_upload",
    "view_count",
    "entity_id",
    "created_at",
    "updated_at",
)
FIELD_COLUMNS = (
    "id",
    "table_id",
    "name",
    "display_name",
    "description",
    "database_type",
    "base_type",
    "effective_type",
    "semantic_type",
    "coercion_strategy",
    "fk_target_field_id",
    "parent_id",
    "nfc_path",
    "json_unfolding",
    "active",
    "visibility_type",
    "preview_display",
    "position",
    "database_position",
    "custom_position",
    "settings",
    "caveats",
    "points_of_interest",
    "database_is_auto_increment",
    "database_required",
    "database_indexed",
    "last_analyzed",
    "fingerprint",
    "fingerprint_version",
    "entity_id",
    "created_at",
    "updated_at",
)


def table_json(table: Table, *, present: bool = True) -> dict[str, Any]:
    """A table row. `present` (Metabase's `present-table`) shows a missing schema as `""`, as most
    endpoints do; a table hydrated onto another object keeps its raw `null`."""
    data = {column: getattr(table, column) for column in TABLE_COLUMNS}
    if present:
        data["schema"] = table.schema or ""
    data["is_writable"] = False
    data["database_require_filter"] = None
    return data


def has_field_values(field: Field) -> str:
    """What the API shows: a stored "auto-list" is "list"; unset is "search" for text, "none" otherwise."""
    if field.has_field_values == "auto-list":
        return "list"
    if field.has_field_values is not None:
        return field.has_field_values
    return "search" if field.base_type in ("type/Text", "type/UUID", "type/IPAddress") else "none"


def field_json(field: Field) -> dict[str, Any]:
    data = {column: getattr(field, column) for column in FIELD_COLUMNS}
    data["has_field_values"] = has_field_values(field)
    return data


def secret_keys(driver: Driver | None) -> frozenset[str]:
    """The details keys whose values are secrets for this engine."""
    return SENSITIVE_KEYS | (driver.secret_properties if driver else frozenset())


def database_json(database: Database, user: User, *, details: bool = True) -> dict[str, Any]:
    """A database row as Metabase shows it (its `to-json`): its columns and `features`, and for admins its
    `details` with secrets redacted. Endpoints add their own hydrations (`schedules`, `tables`, ...)."""
    driver = get_driver(database.engine)
    data = {column: getattr(database, column) for column in DATABASE_COLUMNS}
    data["features"] = sorted(f.value for f in driver.features) if driver else []
    data["is_attached_dwh"] = False
    data["router_database_id"] = None
    if details and user.is_superuser:
        data["details"] = redact_details(database.details, secret_keys(driver))
    return data


_CRON_DAYS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}


def _cron_number(part: str) -> int | None:
    return int(part) if part.isdigit() else None


def schedule_map(cron: str) -> dict[str, Any]:
    """A Quartz cron string as the frontend's schedule map (Metabase's `cron-string->schedule-map`):
    `"0 50 * * * ? *"` is `{"schedule_type": "hourly", "schedule_minute": 50, ...}`."""
    _, minutes, hours, day_of_month, _, day_of_week, *_ = cron.split()
    if re.fullmatch(r"\d#1", day_of_week):
        frame: str | None = "first"
    elif re.fullmatch(r"\dL", day_of_week):
        frame = "last"
    else:
        frame = {"1": "first", "15": "mid", "L": "last"}.get(day_of_month)
    if day_of_month != "*" and (day_of_week == "?" or re.fullmatch(r"\d(#1|L)", day_of_week)):
        schedule_type = "monthly"
    elif day_of_week != "?":
        schedule_type = "weekly"
    elif hours != "*":
        schedule_type = "daily"
    else:
        schedule_type = "hourly"
    return {
        "schedule_minute": _cron_number(minutes),
        "schedule_day": _CRON_DAYS.get(day_of_week[:1]) if day_of_week[:1].isdigit() else None,
        "schedule_frame": frame,
        "schedule_hour": _cron_number(hours),
        "schedule_type": schedule_type,
    }


def expanded_schedules(database: Database) -> dict[str, Any]:
    """The database's sync schedules as schedule maps (`GET /api/database/:id`'s `schedules`)."""
    cache = database.cache_field_values_schedule
    return {
        "metadata_sync": schedule_map(database.metadata_sync_schedule),
        "cache_field_values": schedule_map(cache) if cache else None,
    }
