"""`/api/field`: synced fields, admin edits to them, and their values for filter widgets."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Table as SATable
from sqlalchemy import column, func, select, table

from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.table import field_with_target
from querybase.drivers import get_driver
from querybase.errors import BadRequest, check_404
from querybase.models.database import Database, Field, FieldValues, Table, has_field_values, table_json
from querybase.sync.field_values import update_field_values

router = APIRouter(route_class=MetabaseRoute, tags=["field"])

VisibilityType = Literal["normal", "details-only", "sensitive", "hidden", "retired"]
HasFieldValues = Literal["list", "search", "none", "auto-list"]


class UpdateFieldBody(BaseModel):
    display_name: str | None = None
    description: str | None = None
    semantic_type: str | None = None
    visibility_type: VisibilityType | None = None
    has_field_values: HasFieldValues | None = None
    fk_target_field_id: int | None = None
    coercion_strategy: str | None = None
    settings: dict[str, Any] | None = None
    caveats: str | None = None
    points_of_interest: str | None = None
    nfc_path: list[str] | None = None
    json_unfolding: bool | None = None


class FieldValuesBody(BaseModel):
    values: list[list[Any]]


def _field(db: DbSession, field_id: int) -> Field:
    return check_404(db.get(Field, field_id))


def _warehouse(db: DbSession, field: Field) -> tuple[Table, Database]:
    tbl = check_404(db.get(Table, field.table_id))
    return tbl, check_404(db.get(Database, tbl.db_id))


def _values_json(field: Field, row: FieldValues | None) -> dict[str, Any]:
    values = list(row.values or []) if row else []
    labels = list(row.human_readable_values or []) if row else []
    pairs = [[v, labels[i]] if i < len(labels) else [v] for i, v in enumerate(values)]
    return {"field_id": field.id, "values": pairs, "has_more_values": bool(row and row.has_more_values)}


@router.get("/{field_id}")
def get_field(field_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A field, with its table and FK target."""
    field = _field(db, field_id)
    return {**field_with_target(db, field), "table": table_json(field.table)}


@router.put("/{field_id}")
def update_field(field_id: int, body: UpdateFieldBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Edit a field's metadata (admin). These edits survive every later sync."""
    field = _field(db, field_id)
    sent = body.model_fields_set
    if "fk_target_field_id" in sent and body.fk_target_field_id is not None:
        _field(db, body.fk_target_field_id)
    for name in sent:
        value = getattr(body, name)
        if name == "display_name" and not value:
            continue
        setattr(field, name, value)
    if "semantic_type" in sent and body.semantic_type != "type/FK" and "fk_target_field_id" not in sent:
        field.fk_target_field_id = None
    if "coercion_strategy" in sent:
        field.effective_type = field.base_type
    db.flush()
    return {**field_with_target(db, field), "table": table_json(field.table)}


@router.get("/{field_id}/values")
def get_field_values(field_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The field's cached distinct values (`[[value], ...]`, or `[[value, label], ...]` when remapped)."""
    field = _field(db, field_id)
    if has_field_values(field) != "list":
        return {"field_id": field.id, "values": [], "has_more_values": False}
    row = db.scalar(select(FieldValues).where(FieldValues.field_id == field.id, FieldValues.type == "full"))
    if row is None:
        tbl, database = _warehouse(db, field)
        driver = get_driver(database.engine)
        if driver is not None:
            with driver.connection(database.id, database.details or {}) as conn:
                row = update_field_values(db, conn, tbl, field)
    return _values_json(field, row)


@router.post("/{field_id}/values")
def set_field_values(field_id: int, body: FieldValuesBody, admin: SuperUser, db: DbSession) -> dict[str, str]:
    """Set human-readable labels for a field's values: `{"values": [[value, label], ...]}`."""
    field = _field(db, field_id)
    row = db.scalar(select(FieldValues).where(FieldValues.field_id == field.id, FieldValues.type == "full"))
    if row is None:
        row = FieldValues(field_id=field.id, type="full", values=[], human_readable_values=[])
        db.add(row)
    if any(len(pair) not in (1, 2) for pair in body.values):
        raise BadRequest({"errors": {"values": "value must be a list of [value] or [value, label] pairs."}})
    row.values = [pair[0] for pair in body.values]
    labels = [pair[1] for pair in body.values if len(pair) == 2]
    row.human_readable_values = labels if len(labels) == len(body.values) else []
    return {"status": "success"}


@router.post("/{field_id}/discard_values")
def discard_field_values(field_id: int, admin: SuperUser, db: DbSession) -> dict[str, str]:
    """Forget a field's cached values."""
    field = _field(db, field_id)
    for row in db.scalars(select(FieldValues).where(FieldValues.field_id == field.id)):
        db.delete(row)
    return {"status": "success"}


@router.post("/{field_id}/rescan_values")
def rescan_field_values(field_id: int, admin: SuperUser, db: DbSession) -> dict[str, str]:
    """Refresh a field's cached values now."""
    field = _field(db, field_id)
    tbl, database = _warehouse(db, field)
    driver = get_driver(database.engine)
    if driver is not None:
        with driver.connection(database.id, database.details or {}) as conn:
            update_field_values(db, conn, tbl, field)
    return {"status": "success"}


def _source(tbl: Table, *fields: Field) -> SATable:
    return table(tbl.name, *[column(f.name) for f in fields], schema=tbl.schema)


@router.get("/{field_id}/summary")
def get_field_summary(field_id: int, user: CurrentUser, db: DbSession) -> list[list[Any]]:
    """`[["count", rows], ["distincts", distinct values]]` of the field's table."""
    field = _field(db, field_id)
    tbl, database = _warehouse(db, field)
    driver = check_404(get_driver(database.engine))
    source = _source(tbl, field)
    col = source.c[field.name]
    with driver.connection(database.id, database.details or {}) as conn:
        count, distinct = conn.execute(
            select(func.count(), func.count(col.distinct())).select_from(source)
        ).one()
    return [["count", count], ["distincts", distinct]]


@router.get("/{field_id}/search/{search_field_id}")
def search_field_values(
    field_id: int, search_field_id: int, value: str, user: CurrentUser, db: DbSession, limit: int = 100
) -> list[list[Any]]:
    """Values of `field_id` whose `search_field_id` (same table) contains `value`, case-insensitively:
    `[[value, search value], ...]`."""
    field, search = _field(db, field_id), _field(db, search_field_id)
    if search.table_id != field.table_id:
        raise BadRequest("Invalid Request.")
    tbl, database = _warehouse(db, field)
    driver = check_404(get_driver(database.engine))
    source = _source(tbl, *({field.id: field, search.id: search}.values()))
    value_col, search_col = source.c[field.name], source.c[search.name]
    query = (
        select(value_col, search_col)
        .distinct()
        .where(func.lower(search_col).contains(value.lower(), autoescape=True))
        .order_by(search_col)
        .limit(limit)
    )
    with driver.connection(database.id, database.details or {}) as conn:
        rows = conn.execute(query).all()
    return [[a] if field.id == search.id else [a, b] for a, b in ((r[0], r[-1]) for r in rows)]


@router.get("/{field_id}/remapping/{remapped_id}")
def get_remapped_value(
    field_id: int, remapped_id: int, value: str, user: CurrentUser, db: DbSession
) -> list[Any]:
    """The value of `remapped_id` for the row where `field_id` equals `value`: `[value, remapped]`."""
    field, remapped = _field(db, field_id), _field(db, remapped_id)
    tbl, database = _warehouse(db, remapped)
    driver = check_404(get_driver(database.engine))
    # An FK field is remapped through the row its target identifies, in the remapped field's table.
    key = field
    if field.table_id != remapped.table_id and field.fk_target_field_id is not None:
        key = check_404(db.get(Field, field.fk_target_field_id))
    source = _source(tbl, key, remapped)
    typed: Any = value
    if key.base_type in ("type/Integer", "type/BigInteger") and value.lstrip("-").isdigit():
        typed = int(value)
    query = select(source.c[remapped.name]).where(source.c[key.name] == typed).limit(1)
    with driver.connection(database.id, database.details or {}) as conn:
        found = conn.execute(query).first()
    return [typed, found[0]] if found else [typed]
