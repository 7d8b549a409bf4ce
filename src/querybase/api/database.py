"""`/api/database`: connect databases, read what sync learnt about them, and trigger syncs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, or_, select

from querybase import sample_database, sync
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import Map, NonBlankString
from querybase.drivers import get_driver
from querybase.drivers.base import ConnectionFailure
from querybase.drivers.sql import POOLS, SQLDriver
from querybase.errors import BadRequest, NotFound, check_404
from querybase.models.database import (
    Database,
    Field,
    FieldValues,
    Table,
    database_json,
    field_json,
    merge_redacted,
    secret_keys,
    table_json,
)

router = APIRouter(route_class=MetabaseRoute, tags=["database"])


class Schedules(BaseModel):
    metadata_sync: dict[str, Any] | None = None
    cache_field_values: dict[str, Any] | None = None


class CreateDatabaseBody(BaseModel):
    engine: NonBlankString
    name: NonBlankString
    details: Map
    is_full_sync: bool | None = True
    is_on_demand: bool | None = False
    auto_run_queries: bool | None = None
    schedules: Schedules | None = None
    cache_ttl: int | None = None
    connection_source: str | None = None
    provider_name: str | None = None


class UpdateDatabaseBody(BaseModel):
    name: NonBlankString | None = None
    engine: NonBlankString | None = None
    details: Map | None = None
    description: str | None = None
    caveats: str | None = None
    points_of_interest: str | None = None
    auto_run_queries: bool | None = None
    is_full_sync: bool | None = None
    is_on_demand: bool | None = None
    refingerprint: bool | None = None
    schedules: Schedules | None = None
    settings: dict[str, Any] | None = None
    cache_ttl: int | None = None
    timezone: str | None = None


class ValidateBody(BaseModel):
    details: Map


def _driver(engine: str) -> SQLDriver:
    driver = get_driver(engine)
    if driver is None:
        raise BadRequest(
            {
                "errors": {"engine": "value must be a valid database engine."},
                "specific-errors": {
                    "engine": [f'value must be a valid database engine., received: "{engine}"']
                },
            }
        )
    return driver


def test_connection(driver: SQLDriver, details: dict[str, Any]) -> None:
    """Raise Metabase's 400 (`{"message", "errors"}`) when the details do not connect."""
    try:
        driver.can_connect(details)
    except ConnectionFailure as failure:
        raise BadRequest(failure.body()) from None


def _get(db: DbSession, database_id: int) -> Database:
    return check_404(db.get(Database, database_id))


def _active_tables(db: DbSession, database_id: int) -> list[Table]:
    return list(
        db.scalars(
            select(Table)
            .where(Table.db_id == database_id, Table.active.is_(True))
            .order_by(func.lower(Table.display_name), Table.id)
        )
    )


def _visible_tables(db: DbSession, database_id: int) -> list[Table]:
    return [t for t in _active_tables(db, database_id) if t.visibility_type is None]


def _fields_of(
    db: DbSession, table_ids: list[int], *, include_hidden: bool = False
) -> dict[int, list[Field]]:
    result: dict[int, list[Field]] = {table_id: [] for table_id in table_ids}
    if not table_ids:
        return result
    query = select(Field).where(Field.table_id.in_(table_ids), Field.active.is_(True))
    if not include_hidden:
        query = query.where(Field.visibility_type.not_in(["sensitive", "retired"]))
    for field in db.scalars(query.order_by(Field.position, Field.id)):
        result[field.table_id].append(field)
    return result


@router.get("")
def list_databases(
    user: CurrentUser,
    db: DbSession,
    include: str | None = None,
    saved: bool = False,
    include_only_uploadable: bool = False,
) -> dict[str, Any]:
    """Every database: `{data, total}`; `include=tables` adds their tables."""
    databases = list(db.scalars(select(Database).order_by(func.lower(Database.name), Database.id)))
    data = []
    for database in databases:
        item = database_json(database, user)
        if include == "tables":
            item["tables"] = [table_json(t) for t in _visible_tables(db, database.id)]
        data.append(item)
    return {"data": data, "total": len(data)}


@router.post("")
def create_database(
    body: CreateDatabaseBody,
    request: Request,
    background: BackgroundTasks,
    admin: SuperUser,
    db: DbSession,
) -> dict[str, Any]:
    """Connect a database: the connection is tested first; sync starts in the background."""
    driver = _driver(body.engine)
    test_connection(driver, body.details)
    database = Database(
        name=body.name,
        engine=body.engine,
        details=body.details,
        is_full_sync=body.is_full_sync is not False,
        is_on_demand=bool(body.is_on_demand),
        auto_run_queries=body.auto_run_queries is not False,
        cache_ttl=body.cache_ttl,
        provider_name=body.provider_name,
        creator_id=admin.id,
        initial_sync_status="incomplete",
    )
    db.add(database)
    db.flush()
    # Runs after the response, so after the request's transaction has committed the new row.
    background.add_task(sync.start_sync, request.app.state.appdb, database.id)
    return database_json(database, admin)


@router.post("/validate")
def validate_database(body: ValidateBody, admin: SuperUser) -> dict[str, Any]:
    """Test connection details without saving: the details with `"valid": true`, or the error with
    `"valid": false` (always 200, as in Metabase)."""
    outer = body.details
    engine = outer.get("engine")
    details = outer.get("details") if isinstance(outer.get("details"), dict) else {}
    driver = _driver(str(engine or ""))
    try:
        driver.can_connect(details)
    except ConnectionFailure as failure:
        return {**failure.body(), "valid": False}
    return {**details, "valid": True}


@router.post("/sample_database")
def add_sample_database(
    request: Request, background: BackgroundTasks, admin: SuperUser, db: DbSession
) -> Any:
    """Add the Sample Database back (it may have been deleted); answers with it."""
    existing = db.scalar(select(Database).where(Database.is_sample.is_(True)))
    if existing is not None:
        return database_json(existing, admin)
    database = sample_database.register(db, request.app.state.config)
    background.add_task(sync.start_sync, request.app.state.appdb, database.id)
    return database_json(database, admin)


@router.get("/{database_id}")
def get_database(
    database_id: int, user: CurrentUser, db: DbSession, include: str | None = None
) -> dict[str, Any]:
    """A database; `include=tables` or `include=tables.fields` adds its tables (and their fields)."""
    database = _get(db, database_id)
    data = database_json(database, user)
    if include in ("tables", "tables.fields"):
        tables = _visible_tables(db, database_id)
        fields = _fields_of(db, [t.id for t in tables]) if include == "tables.fields" else {}
        data["tables"] = [
            {**table_json(t), **({"fields": [field_json(f) for f in fields[t.id]]} if fields else {})}
            for t in tables
        ]
    return data


@router.put("/{database_id}")
def update_database(
    database_id: int, body: UpdateDatabaseBody, admin: SuperUser, db: DbSession
) -> dict[str, Any]:
    """Change a database. New connection details are tested first; redacted secrets keep their value."""
    database = _get(db, database_id)
    sent = body.model_fields_set
    engine = body.engine if "engine" in sent and body.engine else database.engine
    driver = _driver(engine)
    if "details" in sent and body.details is not None:
        details = merge_redacted(body.details, database.details or {}, secret_keys(driver))
        if details != database.details or engine != database.engine:
            test_connection(driver, details)
        database.details = details
        POOLS.close(database.id)
    database.engine = engine
    for field in (
        "name",
        "description",
        "caveats",
        "points_of_interest",
        "auto_run_queries",
        "is_full_sync",
        "is_on_demand",
        "refingerprint",
        "settings",
        "cache_ttl",
        "timezone",
    ):
        if field in sent:
            setattr(database, field, getattr(body, field))
    db.flush()
    return database_json(database, admin)


@router.delete("/{database_id}", status_code=204)
def delete_database(database_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Forget a database and everything synced from it; its connection pool is closed."""
    database = _get(db, database_id)
    db.delete(database)
    db.flush()
    POOLS.close(database_id)
    return Response(status_code=204)


@router.get("/{database_id}/metadata")
def get_metadata(
    database_id: int,
    user: CurrentUser,
    db: DbSession,
    include_hidden: bool = False,
    skip_fields: bool = False,
    remove_inactive: bool = False,
) -> dict[str, Any]:
    """A database with all its tables and their fields (hidden ones only with `include_hidden`)."""
    database = _get(db, database_id)
    tables = _active_tables(db, database_id) if include_hidden else _visible_tables(db, database_id)
    fields = {} if skip_fields else _fields_of(db, [t.id for t in tables], include_hidden=include_hidden)
    data = database_json(database, user)
    data["tables"] = [
        {
            **table_json(t),
            "fields": [{**field_json(f), "target": None} for f in fields.get(t.id, [])],
            "segments": [],
            "metrics": [],
        }
        for t in tables
    ]
    return data


@router.get("/{database_id}/fields")
def list_database_fields(database_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """Every field of the database's visible tables, with its table's name."""
    _get(db, database_id)
    tables = {t.id: t for t in _visible_tables(db, database_id)}
    fields = _fields_of(db, list(tables))
    return [
        {
            "id": f.id,
            "name": f.name,
            "display_name": f.display_name,
            "base_type": f.base_type,
            "semantic_type": f.semantic_type,
            "table_name": tables[table_id].name,
            "schema": tables[table_id].schema,
            "table_id": table_id,
        }
        for table_id in tables
        for f in fields[table_id]
    ]


@router.get("/{database_id}/idfields")
def list_id_fields(database_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The primary-key fields of the database, with their tables."""
    _get(db, database_id)
    tables = {t.id: t for t in _visible_tables(db, database_id)}
    fields = db.scalars(
        select(Field).where(Field.table_id.in_(list(tables)), Field.semantic_type == "type/PK", Field.active)
    )
    return [{**field_json(f), "table": table_json(tables[f.table_id])} for f in fields]


@router.get("/{database_id}/schemas")
def list_schemas(database_id: int, user: CurrentUser, db: DbSession) -> list[str]:
    """The names of the schemas that have visible tables (`""` for engines without schemas)."""
    _get(db, database_id)
    return sorted({t.schema or "" for t in _visible_tables(db, database_id)})


@router.get("/{database_id}/schema/{schema}")
def list_schema_tables(
    database_id: int, schema: str, user: CurrentUser, db: DbSession
) -> list[dict[str, Any]]:
    """The visible tables of one schema."""
    _get(db, database_id)
    tables = [t for t in _visible_tables(db, database_id) if (t.schema or "") == schema]
    if not tables:
        raise NotFound()
    return [table_json(t) for t in tables]


@router.get("/{database_id}/schema")
def list_schemaless_tables(database_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The tables of an engine without schemas (Metabase's `/schema/` with an empty name)."""
    _get(db, database_id)
    return [table_json(t) for t in _visible_tables(db, database_id) if not t.schema]


@router.get("/{database_id}/autocomplete_suggestions")
def autocomplete_suggestions(
    database_id: int,
    user: CurrentUser,
    db: DbSession,
    prefix: str | None = None,
    substring: str | None = None,
) -> list[list[str]]:
    """Table and field names for the SQL editor, by `prefix` or `substring`:
    `[["PRODUCTS", "Table"], ["PRODUCT_ID", "ORDERS type/Integer type/FK"]]`."""
    _get(db, database_id)
    needle = (prefix if prefix is not None else substring or "").lower()
    pattern = f"{needle}%" if prefix is not None else f"%{needle}%"
    tables = db.scalars(
        select(Table)
        .where(Table.db_id == database_id, Table.active.is_(True), func.lower(Table.name).like(pattern))
        .order_by(Table.name)
        .limit(50)
    ).all()
    fields = db.execute(
        select(Field, Table.name)
        .join(Table, Field.table_id == Table.id)
        .where(Table.db_id == database_id, Table.active.is_(True), Field.active.is_(True))
        .where(or_(func.lower(Field.name).like(pattern)))
        .order_by(Field.name)
        .limit(50)
    ).all()
    suggestions = [[t.name, "Table"] for t in tables]
    for field, table_name in fields:
        kind = f"{table_name} {field.base_type}" + (f" {field.semantic_type}" if field.semantic_type else "")
        suggestions.append([field.name, kind])
    return suggestions


@router.post("/{database_id}/sync_schema")
def sync_schema(
    database_id: int, request: Request, background: BackgroundTasks, admin: SuperUser, db: DbSession
) -> dict[str, str]:
    """Sync the database's metadata now (in the background)."""
    database = _get(db, database_id)
    driver = _driver(database.engine)
    try:
        driver.can_connect(database.details or {})
    except ConnectionFailure as failure:
        raise BadRequest(failure.message, 422) from None
    background.add_task(sync.start_sync, request.app.state.appdb, database_id)
    return {"status": "ok"}


@router.post("/{database_id}/rescan_values")
def rescan_values(
    database_id: int, request: Request, background: BackgroundTasks, admin: SuperUser, db: DbSession
) -> dict[str, str]:
    """Refresh the cached values of the database's list fields (in the background)."""
    _get(db, database_id)
    background.add_task(sync.start_rescan, request.app.state.appdb, database_id)
    return {"status": "ok"}


@router.post("/{database_id}/discard_values")
def discard_values(database_id: int, admin: SuperUser, db: DbSession) -> dict[str, str]:
    """Forget the cached values of every field of the database."""
    _get(db, database_id)
    field_ids = select(Field.id).join(Table, Field.table_id == Table.id).where(Table.db_id == database_id)
    for row in db.scalars(select(FieldValues).where(FieldValues.field_id.in_(field_ids))):
        db.delete(row)
    return {"status": "ok"}


@router.post("/{database_id}/dismiss_spinner")
def dismiss_spinner(database_id: int, admin: SuperUser, db: DbSession) -> dict[str, str]:
    """Mark the initial sync as complete, as an admin may do for a sync that never finishes."""
    database = _get(db, database_id)
    database.initial_sync_status = "complete"
    return {"status": "ok"}
