"""`/api/table`: synced tables, their metadata for the query builder, and admin edits."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from querybase import sync
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.errors import BadRequest, check_404
from querybase.models.database import (
    Database,
    Field,
    FieldValues,
    Table,
    database_json,
    field_json,
    table_json,
)
from querybase.models.user import User

router = APIRouter(route_class=MetabaseRoute, tags=["table"])

VisibilityType = Literal["hidden", "technical", "cruft"]
FieldOrder = Literal["database", "alphabetical", "custom", "smart"]


class UpdateTableBody(BaseModel):
    display_name: str | None = None
    description: str | None = None
    caveats: str | None = None
    points_of_interest: str | None = None
    entity_type: str | None = None
    visibility_type: VisibilityType | None = None
    field_order: FieldOrder | None = None
    show_in_getting_started: bool | None = None


def get_table(db: DbSession, table_id: int) -> Table:
    return check_404(db.get(Table, table_id))


def table_fields(db: DbSession, table: Table, *, include_hidden: bool = False) -> list[Field]:
    query = select(Field).where(Field.table_id == table.id, Field.active.is_(True))
    if not include_hidden:
        query = query.where(Field.visibility_type.not_in(["sensitive", "retired"]))
    order = {
        "alphabetical": (func.lower(Field.name), Field.id),
        "custom": (Field.custom_position, Field.id),
    }.get(table.field_order, (Field.position, Field.id))
    return list(db.scalars(query.order_by(*order)))


def field_with_target(db: DbSession, field: Field) -> dict[str, Any]:
    """A field as query metadata shows it: its FK target (with the target's table), no dimensions."""
    data = {**field_json(field), "dimensions": [], "name_field": None, "target": None}
    if field.fk_target_field_id is not None:
        target = db.get(Field, field.fk_target_field_id)
        if target is not None:
            data["target"] = {**field_json(target), "table": table_json(target.table)}
    return data


def query_metadata(
    db: DbSession, table: Table, user: User, *, include_hidden: bool = False
) -> dict[str, Any]:
    database = check_404(db.get(Database, table.db_id))
    return {
        **table_json(table),
        "db": database_json(database, user),
        "fields": [field_with_target(db, f) for f in table_fields(db, table, include_hidden=include_hidden)],
        "fks": [],
        "segments": [],
        "metrics": [],
        "dimension_options": {},
    }


@router.get("")
def list_tables(user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """Every active table of every database, with its database."""
    databases = {d.id: d for d in db.scalars(select(Database))}
    tables = db.scalars(
        select(Table).where(Table.active.is_(True)).order_by(Table.db_id, func.lower(Table.name), Table.id)
    )
    return [{**table_json(t), "db": database_json(databases[t.db_id], user)} for t in tables]


@router.get("/{table_id}")
def get_table_endpoint(table_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A table, with its database."""
    table = get_table(db, table_id)
    return {**table_json(table), "db": database_json(check_404(db.get(Database, table.db_id)), user)}


@router.put("/{table_id}")
def update_table(table_id: int, body: UpdateTableBody, admin: SuperUser, db: DbSession) -> dict[str, Any]:
    """Edit a table's display name, description, visibility or field order (admin)."""
    table = get_table(db, table_id)
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "display_name" and not value:
            raise BadRequest({"errors": {"display_name": "value must be a non-blank string."}})
        if name == "field_order" and value is None:
            continue
        setattr(table, name, value)
    db.flush()
    return table_json(table)


@router.get("/{table_id}/query_metadata")
def get_query_metadata(
    table_id: int,
    user: CurrentUser,
    db: DbSession,
    include_sensitive_fields: bool = False,
    include_hidden_fields: bool = False,
    include_editable_data_model: bool = False,
) -> dict[str, Any]:
    """What the query builder needs about a table: its fields (with FK targets) and its database."""
    table = get_table(db, table_id)
    return query_metadata(db, table, user, include_hidden=include_sensitive_fields or include_hidden_fields)


@router.get("/{table_id}/fks")
def list_foreign_keys(table_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The foreign keys of other tables that point at this table's fields."""
    table = get_table(db, table_id)
    field_ids = select(Field.id).where(Field.table_id == table.id)
    origins = db.scalars(
        select(Field)
        .where(Field.fk_target_field_id.in_(field_ids), Field.active.is_(True))
        .order_by(Field.id)
    )
    result = []
    for origin in origins:
        destination = db.get(Field, origin.fk_target_field_id)
        if destination is None:
            continue
        result.append(
            {
                "origin_id": origin.id,
                "origin": {**field_json(origin), "table": table_json(origin.table)},
                "destination_id": destination.id,
                "destination": field_json(destination),
                "relationship": "Mt1",
            }
        )
    return result


@router.put("/{table_id}/fields/order")
def reorder_fields(table_id: int, body: list[int], admin: SuperUser, db: DbSession) -> dict[str, bool]:
    """Set a custom field order: the table's field ids, in the wanted order."""
    table = get_table(db, table_id)
    fields = {
        f.id: f for f in db.scalars(select(Field).where(Field.table_id == table.id, Field.active.is_(True)))
    }
    if sorted(body) != sorted(fields):
        raise BadRequest("Invalid field order: the ids must be exactly the table's active fields.")
    for position, field_id in enumerate(body):
        fields[field_id].custom_position = position
        fields[field_id].position = position
    table.field_order = "custom"
    return {"success": True}


@router.post("/{table_id}/rescan_values")
def rescan_table_values(
    table_id: int, request: Request, background: BackgroundTasks, admin: SuperUser, db: DbSession
) -> dict[str, str]:
    """Refresh the cached values of the table's list fields (in the background)."""
    table = get_table(db, table_id)
    background.add_task(sync.start_rescan, request.app.state.appdb, table.db_id)
    return {"status": "success"}


@router.post("/{table_id}/discard_values")
def discard_table_values(table_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Forget the cached values of the table's fields."""
    table = get_table(db, table_id)
    field_ids = select(Field.id).where(Field.table_id == table.id)
    for row in db.scalars(select(FieldValues).where(FieldValues.field_id.in_(field_ids))):
        db.delete(row)
    return Response(status_code=204)
