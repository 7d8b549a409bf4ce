"""Sync steps that copy a database's structure into the app DB: tables, fields, keys, and the
descriptions a `_METABASE_METADATA` table supplies.

Re-sync is incremental: new tables and fields are added, vanished ones are marked inactive (never
deleted, so questions keep their references), and what an admin edited — display names,
descriptions, semantic types, visibility — is left alone.
"""

from __future__ import annotations

from sqlalchemy import select, text

from querybase.drivers import types as t
from querybase.drivers.base import TableInfo
from querybase.models.base import utcnow
from querybase.models.database import Database, Field, Table
from querybase.permissions.data import set_new_table_permissions
from querybase.sync.classify import entity_type, humanize, semantic_type_from_name
from querybase.sync.context import SyncContext

METADATA_TABLE = "_METABASE_METADATA"
METADATA_ATTRIBUTES = frozenset(
    {"description", "display_name", "caveats", "points_of_interest", "semantic_type", "visibility_type"}
)


def _tables(ctx: SyncContext) -> list[Table]:
    return list(ctx.db.scalars(select(Table).where(Table.db_id == ctx.database_id, Table.active.is_(True))))


def sync_dbms_version(ctx: SyncContext) -> str:
    version = ctx.driver.dbms_version(ctx.conn)
    database = ctx.db.get(Database, ctx.database_id)
    assert database is not None
    database.dbms_version = version
    return f"{version.get('flavor')} {version.get('version')}"


def sync_tables(ctx: SyncContext) -> str:
    found = {
        (info.schema, info.name): info
        for info in ctx.driver.describe_database(ctx.conn)
        if info.name.upper() != METADATA_TABLE
    }
    known = {
        (table.schema, table.name): table
        for table in ctx.db.scalars(select(Table).where(Table.db_id == ctx.database_id))
    }
    added = reactivated = retired = 0
    for key in sorted(found, key=lambda k: (k[0] or "", k[1])):
        info = found[key]
        table = known.get(key)
        if table is None:
            table = Table(
                db_id=ctx.database_id,
                schema=info.schema,
                name=info.name,
                display_name=humanize(info.name),
                description=info.description,
                entity_type=entity_type(info.name),
                active=True,
            )
            ctx.db.add(table)
            ctx.db.flush()
            # Groups that set permissions table by table need a value for the new table too.
            set_new_table_permissions(ctx.db, table)
            added += 1
        elif not table.active:
            table.active = True
            reactivated += 1
    for key, table in known.items():
        if key not in found and table.active:
            table.active = False
            retired += 1
    ctx.db.flush()
    return f"{len(found)} tables: {added} new, {reactivated} reactivated, {retired} retired"


def sync_fields(ctx: SyncContext) -> str:
    added = retired = 0
    for table in _tables(ctx):
        columns = ctx.driver.describe_table(ctx.conn, TableInfo(table.schema, table.name))
        known = {f.name: f for f in ctx.db.scalars(select(Field).where(Field.table_id == table.id))}
        for column in columns:
            field = known.get(column.name)
            if field is None:
                field = Field(
                    table_id=table.id,
                    name=column.name,
                    display_name=humanize(column.name),
                    description=column.description,
                    semantic_type=t.PK if column.pk else None,
                    position=column.position,
                    custom_position=0,
                )
                ctx.db.add(field)
                added += 1
            elif column.pk and field.semantic_type is None:
                field.semantic_type = t.PK
            field.active = True
            field.database_type = column.database_type
            field.base_type = column.base_type
            field.effective_type = field.effective_type if field.coercion_strategy else column.base_type
            field.database_position = column.position
            field.database_is_auto_increment = column.auto_increment
            field.database_required = column.required
            if table.field_order == "database":
                field.position = column.position
        names = {c.name for c in columns}
        for name, field in known.items():
            if name not in names and field.active:
                field.active = False
                retired += 1
    ctx.db.flush()
    return f"{added} new fields, {retired} retired"


def sync_fks(ctx: SyncContext) -> str:
    tables = _tables(ctx)
    by_name = {(table.schema, table.name): table for table in tables}
    marked = 0
    for table in tables:
        fks = ctx.driver.describe_fks(ctx.conn, TableInfo(table.schema, table.name))
        for fk in fks:
            target_table = by_name.get((fk.target_schema, fk.target_table)) or by_name.get(
                (table.schema, fk.target_table)
            )
            if target_table is None:
                continue
            source = ctx.db.scalar(select(Field).where(Field.table_id == table.id, Field.name == fk.column))
            target = ctx.db.scalar(
                select(Field).where(Field.table_id == target_table.id, Field.name == fk.target_column)
            )
            if source is None or target is None:
                continue
            # An admin's own semantic type wins; otherwise the constraint makes it an FK.
            if source.semantic_type in (None, t.FK):
                source.semantic_type = t.FK
                source.fk_target_field_id = target.id
                marked += 1
    ctx.db.flush()
    return f"{marked} foreign keys"


def sync_metabase_metadata(ctx: SyncContext) -> str:
    """Apply a `_METABASE_METADATA` table (`KEYPATH`, `VALUE`): `TABLE.description`,
    `TABLE.COLUMN.semantic_type`, ... for tables and fields that are not edited yet."""
    names = {info.name for info in ctx.driver.describe_database(ctx.conn)}
    table_name = next((name for name in names if name.upper() == METADATA_TABLE), None)
    if table_name is None:
        return "no metadata table"
    quoted = ctx.conn.dialect.identifier_preparer.quote(table_name)
    rows = ctx.conn.execute(text(f"SELECT KEYPATH, VALUE FROM {quoted}")).all()
    tables = {table.name: table for table in _tables(ctx)}
    applied = 0
    for keypath, value in rows:
        parts = str(keypath).split(".")
        if len(parts) == 2 and parts[0] in tables:
            target: Table | Field | None = tables[parts[0]]
        elif len(parts) == 3 and parts[0] in tables:
            target = ctx.db.scalar(
                select(Field).where(Field.table_id == tables[parts[0]].id, Field.name == parts[1])
            )
        else:
            continue
        attribute = parts[-1]
        if target is None or attribute not in METADATA_ATTRIBUTES:
            continue
        if (
            attribute == "semantic_type"
            and isinstance(target, Field)
            and target.semantic_type in (t.PK, t.FK)
        ):
            continue
        # Only fills what is empty: an admin's later edit survives every re-sync.
        if getattr(target, attribute, None) in (None, ""):
            setattr(target, attribute, value)
            applied += 1
    ctx.db.flush()
    return f"{applied} values from {table_name}"


def classify_names(ctx: SyncContext) -> str:
    """Semantic types from column names, for fields that have none yet."""
    classified = 0
    for table in _tables(ctx):
        for field in ctx.db.scalars(select(Field).where(Field.table_id == table.id, Field.active.is_(True))):
            if field.semantic_type is None:
                semantic_type = semantic_type_from_name(field.name, field.base_type)
                if semantic_type is not None and semantic_type != t.PK:
                    field.semantic_type = semantic_type
                    classified += 1
    ctx.db.flush()
    return f"{classified} fields classified by name"


def mark_tables_synced(ctx: SyncContext) -> str:
    now = utcnow()
    for table in _tables(ctx):
        table.initial_sync_status = "complete"
        table.updated_at = now
    return "tables marked complete"
