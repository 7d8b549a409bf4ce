"""`/api/table`: synced tables, their metadata for the query builder, and admin edits."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from querybase import sync
from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute, quick
from querybase.api.schema import MbType, NonBlankString, PositiveInt, pr_str, received
from querybase.errors import BadRequest, check_404
from querybase.models.card import Card
from querybase.models.collection import Collection, can_read_content
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
from querybase.permissions import checks

router = APIRouter(route_class=MetabaseRoute, tags=["table"])


def enum_type(*values: str) -> MbType:
    """Metabase's `[:enum ...]`: described as `enum of a, b`, explained as malli does (`should be either
    "a" or "b"`). `values` in the order Metabase's set of them iterates, which its message keeps."""
    quoted = [pr_str(v) for v in values]
    expected = quoted[0] if len(quoted) == 1 else f"either {', '.join(quoted[:-1])} or {quoted[-1]}"
    return MbType(f"enum of {', '.join(values)}", lambda value: [received(f"should be {expected}", value)])


VisibilityType = Annotated[Literal["technical", "hidden", "cruft"], enum_type("technical", "hidden", "cruft")]
FieldOrder = Annotated[
    Literal["alphabetical", "custom", "database", "smart"],
    enum_type("alphabetical", "custom", "database", "smart"),
]


class UpdateTableBody(BaseModel):
    display_name: NonBlankString | None = None
    entity_type: str | None = None
    visibility_type: VisibilityType | None = None
    description: str | None = None
    caveats: str | None = None
    points_of_interest: str | None = None
    show_in_getting_started: bool | None = None
    field_order: FieldOrder | None = None


class FieldOrderBody(BaseModel):
    field_order: list[int]


# Set only when not null (the others may be set to null).
_NON_NIL_KEYS = frozenset({"display_name", "show_in_getting_started", "entity_type", "field_order"})
_TEMPORAL_SEMANTIC = re.compile(r"(timestamp|date|time|temporal)$")


def writable_table(db: DbSession, table_id: int, user: User) -> Table:
    """A table the caller may change: 404 when it does not exist, then 403 unless an admin."""
    return checks.writable(user, db.get(Table, table_id))


def ordered_fields(db: DbSession, table: Table) -> list[Field]:
    """The table's active, not retired fields, in their display order (`position`, kept in the order the
    table's `field_order` asks for)."""
    query = select(Field).where(
        Field.table_id == table.id, Field.active.is_(True), Field.visibility_type != "retired"
    )
    return list(db.scalars(query.order_by(Field.position, func.lower(Field.name), Field.id)))


def _smart_rank(field: Field) -> int:
    semantic = (field.semantic_type or "").lower()
    if semantic == "type/pk":
        return 0
    if semantic == "type/name":
        return 1
    return 2 if _TEMPORAL_SEMANTIC.search(semantic) else 3


def update_field_positions(db: DbSession, table: Table) -> None:
    """Renumber the fields' `position` to follow the table's `field_order`, as Metabase does on a change."""
    fields = list(db.scalars(select(Field).where(Field.table_id == table.id)))
    order = {
        "database": lambda f: (f.database_position, f.id),
        "alphabetical": lambda f: (f.name.lower(), f.id),
        "custom": lambda f: (f.custom_position, f.id),
        "smart": lambda f: (_smart_rank(f), f.name.lower(), f.id),
    }[table.field_order]
    for position, field in enumerate(sorted(fields, key=order)):
        field.position = position


def target_json(db: DbSession, field: Field) -> dict[str, Any] | None:
    """The field an FK field points at (Metabase's `target` hydration), or null."""
    if field.semantic_type != "type/FK" or field.fk_target_field_id is None:
        return None
    target = db.get(Field, field.fk_target_field_id)
    return field_json(target) if target is not None else None


def field_with_target(db: DbSession, field: Field) -> dict[str, Any]:
    """A field as query metadata shows it: its FK target, no dimensions (querybase has no remappings)."""
    return {**field_json(field), "target": target_json(db, field), "dimensions": [], "name_field": None}


def table_database_json(database: Database, user: User, *, details: bool = True) -> dict[str, Any]:
    """A table's database (Metabase's `present-table` drops its `router_database_id`)."""
    data = database_json(database, user, details=details)
    del data["router_database_id"]
    return data


def query_metadata(
    db: DbSession,
    table: Table,
    user: User,
    *,
    include_sensitive: bool = False,
    include_hidden: bool = False,
) -> dict[str, Any]:
    database = check_404(db.get(Database, table.db_id))
    excluded = {
        name for name, shown in (("hidden", include_hidden), ("sensitive", include_sensitive)) if not shown
    }
    return {
        **table_json(table),
        "db": table_database_json(database, user, details=False),
        "fields": [
            field_with_target(db, f) for f in ordered_fields(db, table) if f.visibility_type not in excluded
        ],
        "segments": [],
        "metrics": [],
    }


# ---------------------------------------------------------------------------------------------------
# Saved questions as tables (`card__N`) of the "Saved Questions" virtual database

ROOT_COLLECTION_SCHEMA = "Everything else"
# What a card's column takes from the field it comes from (Metabase's `card-result-metadata->virtual-fields`).
UNDERLYING_FIELD_KEYS = ("fk_target_field_id", "has_field_values", "target", "dimensions", "name_field")


def virtual_table(db: DbSession, card: Card, *, fields: bool) -> dict[str, Any]:
    """A card as a table of the Saved Questions database (Metabase's `card->virtual-table`): its columns, from
    its result metadata, are fields referred to by id when they come from a field, else by name."""
    collection = db.get(Collection, card.collection_id) if card.collection_id is not None else None
    table_id = f"card__{card.id}"
    table: dict[str, Any] = {
        "id": table_id,
        "db_id": card.database_id,
        "display_name": card.name,
        "schema": collection.name if collection is not None else ROOT_COLLECTION_SCHEMA,
        "moderated_status": None,
        "description": card.description,
        "entity_id": card.entity_id,
        "metrics": None,
        "type": card.type,
    }
    if card.type == "metric" and card.dataset_query:
        table["dataset_query"] = card.dataset_query
    if fields:
        table["fields"] = [
            _virtual_field(db, table_id, column)
            for column in card.result_metadata or []
            if isinstance(column, dict)
        ]
    return table


def _virtual_field(db: DbSession, table_id: str, column: dict[str, Any]) -> dict[str, Any]:
    field_id = column.get("id") if isinstance(column.get("id"), int) else None
    underlying = db.get(Field, field_id) if field_id is not None else None
    known = field_with_target(db, underlying) if underlying is not None else {}
    return {
        **column,
        **{key: known[key] for key in UNDERLYING_FIELD_KEYS if key in known},
        "table_id": table_id,
        "id": field_id
        if field_id is not None
        else ["field", column.get("name"), {"base-type": column.get("base_type") or "type/*"}],
        "semantic_type": column.get("semantic_type"),
    }


def card_query_metadata(db: DbSession, card: Card, user: User) -> dict[str, Any]:
    """A card as a table for the query builder: its fields and its database. A PK or FK column that is not a
    field (a native question's) loses that semantic type, which only a native model may keep."""
    table = virtual_table(db, card, fields=True)
    database = db.get(Database, card.database_id)
    table["db"] = database_json(database, user) if database is not None else None
    trusted = card.type == "model" and card.query_type == "native"
    for field in table["fields"]:
        keyed = field["semantic_type"] in ("type/PK", "type/FK")
        if keyed and not trusted and not isinstance(field["id"], int):
            field["semantic_type"] = None
    return table


def pk_field_id(db: DbSession, table: Table) -> int | None:
    """The id of the table's primary-key field (Metabase's `pk_field` hydration)."""
    return db.scalar(
        select(Field.id)
        .where(Field.table_id == table.id, Field.semantic_type == "type/PK")
        .where(Field.visibility_type.not_in(["sensitive", "retired"]))
        .order_by(Field.id)
        .limit(1)
    )


@router.get("", responses=shapes.ok(list[shapes.Table]))
def list_tables(user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """Every active table the user may see, with its database, by name."""
    databases = {d.id: d for d in db.scalars(select(Database))}
    tables = db.scalars(select(Table).where(Table.active.is_(True)).order_by(Table.name, Table.id))
    return [
        {**table_json(t), "db": table_database_json(databases[t.db_id], user)}
        for t in checks.readable_tables(db, user, tables)
    ]


@router.get(
    "/card__{card_id}/query_metadata",
    responses={**shapes.ok(shapes.CardTableMetadata), 204: {"description": "No such card, or not readable."}},
)
def get_card_query_metadata(card_id: PositiveInt, user: CurrentUser, db: DbSession) -> Any:
    """A saved question as a virtual table; an unknown or unreadable card answers nothing (204)."""
    card = db.get(Card, card_id)
    if card is None or not can_read_content(db, user, card.collection_id):
        return Response(status_code=204)
    return card_query_metadata(db, card, user)


@router.get("/card__{card_id}/fks", responses=shapes.ok(list[shapes.ForeignKey]))
def list_card_foreign_keys(card_id: PositiveInt, user: CurrentUser) -> list[Any]:
    """A virtual table has no foreign keys pointing at it."""
    return []


@router.get("/{table_id}", responses=shapes.ok(shapes.Table))
@quick
def get_table_endpoint(table_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A table, with its database and the id of its primary key."""
    table = checks.readable_table(db, user, table_id)
    database = check_404(db.get(Database, table.db_id))
    return {
        **table_json(table),
        "db": table_database_json(database, user),
        "pk_field": pk_field_id(db, table),
    }


@router.put("/{table_id}", responses=shapes.ok(shapes.Table))
def update_table(table_id: int, body: UpdateTableBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Edit a table's display name, description, visibility or field order (admin). A new field order
    renumbers the fields, and the answer then lists them."""
    table = writable_table(db, table_id, user)
    old_order = table.field_order
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name in _NON_NIL_KEYS:
            continue
        setattr(table, name, value)
    db.flush()
    data = table_json(table)
    if table.field_order != old_order:
        update_field_positions(db, table)
        db.flush()
        data["fields"] = [field_with_target(db, f) for f in ordered_fields(db, table)]
    return data


@router.get("/{table_id}/query_metadata", responses=shapes.ok(shapes.TableMetadata))
def get_query_metadata(
    table_id: int,
    user: CurrentUser,
    db: DbSession,
    include_sensitive_fields: bool = False,
    include_hidden_fields: bool = False,
    include_editable_data_model: bool = False,
) -> dict[str, Any]:
    """What the query builder needs about a table: its fields (with FK targets) and its database. With
    `include_editable_data_model` (the admin's data model page) the table must be editable instead."""
    if include_editable_data_model:
        table = writable_table(db, table_id, user)
    else:
        table = checks.readable_table(db, user, table_id)
    return query_metadata(
        db, table, user, include_sensitive=include_sensitive_fields, include_hidden=include_hidden_fields
    )


@router.get("/{table_id}/fks", responses=shapes.ok(list[shapes.ForeignKey] | None))
def list_foreign_keys(table_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]] | None:
    """The active foreign keys of active tables that point at this table's fields; null when the table
    has no fields."""
    table = checks.readable_table(db, user, table_id)
    field_ids = list(
        db.scalars(
            select(Field.id).where(
                Field.table_id == table.id, Field.active.is_(True), Field.visibility_type != "retired"
            )
        )
    )
    if not field_ids:
        return None
    origins = db.scalars(
        select(Field)
        .join(Table, Field.table_id == Table.id)
        .where(Field.fk_target_field_id.in_(field_ids), Field.active.is_(True), Table.active.is_(True))
        .order_by(Field.id)
    )
    result = []
    for origin in origins:
        origin_table = origin.table
        destination = check_404(db.get(Field, origin.fk_target_field_id))
        result.append(
            {
                "relationship": "Mt1",
                "origin_id": origin.id,
                "origin": {
                    **field_json(origin),
                    "table": {
                        **table_json(origin_table),
                        "db": table_database_json(origin_table.database, user),
                    },
                },
                "destination_id": destination.id,
                "destination": {
                    **field_json(destination),
                    "table": table_json(destination.table, present=False),
                },
            }
        )
    return result


@router.put("/{table_id}/fields/order", responses=shapes.ok(shapes.Success))
def reorder_fields(
    table_id: int, body: list[int] | FieldOrderBody, user: CurrentUser, db: DbSession
) -> dict[str, bool]:
    """Set a custom field order: the table's field ids in the wanted order (a bare list, or
    `{"field_order": [...]}`)."""
    table = writable_table(db, table_id, user)
    order = body.field_order if isinstance(body, FieldOrderBody) else body
    fields = {
        f.id: f for f in db.scalars(select(Field).where(Field.table_id == table.id, Field.active.is_(True)))
    }
    if set(order) != set(fields):
        raise BadRequest("Invalid field order: the ids must be exactly the table's active fields.")
    for position, field_id in enumerate(order):
        fields[field_id].custom_position = position
        fields[field_id].position = position
    table.field_order = "custom"
    return {"success": True}


@router.post("/{table_id}/rescan_values", responses=shapes.ok(shapes.Status))
def rescan_table_values(
    table_id: int, request: Request, background: BackgroundTasks, user: CurrentUser, db: DbSession
) -> dict[str, str]:
    """Refresh the cached values of the table's list fields (in the background)."""
    table = writable_table(db, table_id, user)
    background.add_task(sync.start_rescan, request.app.state.appdb, table.db_id)
    return {"status": "success"}


@router.post("/{table_id}/discard_values", responses=shapes.ok(shapes.Status))
def discard_table_values(table_id: int, user: CurrentUser, db: DbSession) -> dict[str, str]:
    """Forget the cached values of the table's fields."""
    table = writable_table(db, table_id, user)
    field_ids = select(Field.id).where(Field.table_id == table.id)
    for row in db.scalars(select(FieldValues).where(FieldValues.field_id.in_(field_ids))):
        db.delete(row)
    return {"status": "success"}
