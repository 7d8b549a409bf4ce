"""Cached distinct values of list-like fields (`has_field_values: "list"`), shown in filter widgets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, column, delete, select, table

from querybase.models.database import Field, FieldValues, Table, has_field_values
from querybase.sync.context import SyncContext

MAX_VALUES = 1000
# Metabase keeps a field's values only when each is short and all together fit a budget; otherwise the
# field is searched instead of listed (`models/field_values.clj`).
MAX_VALUE_LENGTH = 100
MAX_TOTAL_LENGTH = 100_000


def distinct_values(
    conn: Connection, tbl: Table, field: Field, limit: int = MAX_VALUES
) -> tuple[list[Any], bool]:
    """Up to `limit` distinct non-null values, sorted, and whether there were more."""
    source = table(tbl.name, column(field.name), schema=tbl.schema)
    col = source.c[field.name]
    query = select(col).distinct().where(col.is_not(None)).order_by(col).limit(limit + 1)
    values = [_jsonable(v) for (v,) in conn.execute(query)]
    return values[:limit], len(values) > limit


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value) if type(value).__name__ != "Decimal" else float(value)


def update_field_values(db: Any, conn: Connection, tbl: Table, field: Field) -> FieldValues | None:
    """Refresh (or create) a field's cached values; drop them when the field is not a list field."""
    if has_field_values(field) != "list":
        db.execute(delete(FieldValues).where(FieldValues.field_id == field.id))
        return None
    values, more = distinct_values(conn, tbl, field)
    lengths = [len(str(v)) for v in values]
    if any(n > MAX_VALUE_LENGTH for n in lengths) or sum(lengths) > MAX_TOTAL_LENGTH:
        db.execute(delete(FieldValues).where(FieldValues.field_id == field.id))
        if field.has_field_values == "auto-list":
            field.has_field_values = None
        return None
    row = db.scalar(select(FieldValues).where(FieldValues.field_id == field.id, FieldValues.type == "full"))
    if row is None:
        row = FieldValues(field_id=field.id, type="full")
        db.add(row)
    row.values, row.has_more_values, row.human_readable_values = values, more, []
    return row


def cache_field_values(ctx: SyncContext) -> str:
    cached = 0
    tables = ctx.db.scalars(select(Table).where(Table.db_id == ctx.database_id, Table.active.is_(True)))
    for tbl in tables:
        fields = ctx.db.scalars(select(Field).where(Field.table_id == tbl.id, Field.active.is_(True)))
        for field in fields:
            if update_field_values(ctx.db, ctx.conn, tbl, field) is not None:
                cached += 1
    ctx.db.flush()
    return f"values cached for {cached} fields"
