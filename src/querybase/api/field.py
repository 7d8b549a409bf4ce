"""`/api/field`: synced fields, admin edits to them, and their values for filter widgets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Table as SATable
from sqlalchemy import column, func, select, table

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute, quick
from querybase.api.schema import NonBlankString, PositiveInt
from querybase.api.table import enum_type, field_with_target, table_database_json, target_json
from querybase.drivers import get_driver
from querybase.drivers import types as t
from querybase.errors import BadRequest, check_403, check_404, field_errors
from querybase.models.database import (
    Database,
    Field,
    FieldValues,
    Table,
    field_json,
    has_field_values,
    table_json,
)
from querybase.models.user import User
from querybase.permissions import checks
from querybase.sync.field_values import update_field_values

router = APIRouter(route_class=MetabaseRoute, tags=["field"])

# In the order Metabase's set of them iterates, which its validation message keeps.
VisibilityType = Annotated[
    Literal["retired", "sensitive", "normal", "hidden", "details-only"],
    enum_type("retired", "sensitive", "normal", "hidden", "details-only"),
]
HasFieldValues = Literal["list", "search", "none", "auto-list"]

ONLY_LIST_VALUES = (
    "You can only update the human readable values of a mapped values of a Field whose value of "
    "`has_field_values` is `list` or whose 'base_type' is 'type/Boolean'."
)
LABELS_FOR_ALL = "If remapped values are specified, they must be specified for all field values"
LIMIT_REQUIRED = "Limit required if value is omitted"
# Metabase's cap on a value search without an explicit limit.
MAX_SEARCH_LIMIT = 1000


class UpdateFieldBody(BaseModel):
    caveats: NonBlankString | None = None
    description: NonBlankString | None = None
    display_name: NonBlankString | None = None
    fk_target_field_id: PositiveInt | None = None
    points_of_interest: NonBlankString | None = None
    semantic_type: str | None = None
    coercion_strategy: str | None = None
    visibility_type: VisibilityType | None = None
    has_field_values: HasFieldValues | None = None
    settings: dict[str, Any] | None = None
    nfc_path: list[NonBlankString] | None = None
    json_unfolding: bool | None = None


class FieldValuesBody(BaseModel):
    values: list[list[Any]]


# Set from the body whenever sent, null included; the others only when not null.
_NULLABLE_KEYS = (
    "caveats",
    "description",
    "points_of_interest",
    "semantic_type",
    "has_field_values",
    "nfc_path",
    "json_unfolding",
)


def _writable(db: DbSession, field_id: int, user: User) -> Field:
    """A field the caller may change: 404 when it does not exist, then 403 unless an admin."""
    return checks.writable(user, db.get(Field, field_id))


def _warehouse(db: DbSession, field: Field) -> tuple[Table, Database]:
    tbl = check_404(db.get(Table, field.table_id))
    return tbl, check_404(db.get(Database, tbl.db_id))


def _values_json(field: Field, row: FieldValues | None) -> dict[str, Any]:
    values = list(row.values or []) if row else []
    labels = list(row.human_readable_values or []) if row else []
    pairs = [[v, labels[i]] if i < len(labels) else [v] for i, v in enumerate(values)]
    return {"field_id": field.id, "values": pairs, "has_more_values": bool(row and row.has_more_values)}


def _should_have_values(field: Field) -> bool:
    """Metabase's `field-should-have-field-values?`: a visible, non-temporal list (or boolean) field."""
    return (
        field.visibility_type not in ("retired", "sensitive", "hidden", "details-only")
        and field.base_type not in t.TEMPORAL_TYPES
        and (field.has_field_values in ("list", "auto-list") or field.base_type == t.BOOLEAN)
    )


def _follow_fk(db: DbSession, field: Field) -> Field:
    """An FK field's target (Metabase's `follow-fks`); any other field itself."""
    if field.semantic_type == t.FK and field.fk_target_field_id is not None:
        return check_404(db.get(Field, field.fk_target_field_id))
    return field


def _source(tbl: Table, *fields: Field) -> SATable:
    return table(tbl.name, *[column(f.name) for f in fields], schema=tbl.schema)


@router.get("/{field_id}", responses=shapes.ok(shapes.FieldShape))
@quick
def get_field(field_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A field, with its table (and the table's database) and its FK target."""
    field = checks.readable_field(db, user, field_id)
    tbl, database = _warehouse(db, field)
    return {
        **field_with_target(db, field),
        "table": {**table_json(tbl), "db": table_database_json(database, user)},
    }


@router.put("/{field_id}", responses=shapes.ok(shapes.FieldShape))
def update_field(field_id: int, body: UpdateFieldBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Edit a field's metadata (admin). These edits survive every later sync. Changing an FK field's
    semantic type to something else forgets its target."""
    field = _writable(db, field_id, user)
    sent = body.model_fields_set
    new_semantic = body.semantic_type if "semantic_type" in sent else field.semantic_type
    removed_fk = field.semantic_type == t.FK and new_semantic != t.FK
    target_id = body.fk_target_field_id if "fk_target_field_id" in sent else field.fk_target_field_id
    if target_id is not None and db.get(Field, target_id) is None:
        raise field_errors({"fk_target_field_id": "Invalid target field"})
    for name in _NULLABLE_KEYS:
        if name in sent:
            setattr(field, name, getattr(body, name))
    for name in ("display_name", "visibility_type", "settings"):
        if getattr(body, name) is not None:
            setattr(field, name, getattr(body, name))
    field.fk_target_field_id = None if removed_fk else target_id
    if "coercion_strategy" in sent:
        field.coercion_strategy = body.coercion_strategy
        field.effective_type = field.base_type
    db.flush()
    return {**field_json(field), "target": target_json(db, field), "dimensions": []}


@router.get("/{field_id}/values", responses=shapes.ok(shapes.FieldValues))
def get_field_values(field_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The field's cached distinct values (`[[value], ...]`, or `[[value, label], ...]` when labelled),
    read from the database the first time they are asked for."""
    return field_values_json(db, checks.readable_field(db, user, field_id))


def field_values_json(db: DbSession, field: Field) -> dict[str, Any]:
    """`{"field_id", "values", "has_more_values"}` for a field, caching its values on first use."""
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


@router.post("/{field_id}/values", responses=shapes.ok(shapes.Status))
def set_field_values(
    field_id: int, body: FieldValuesBody, user: CurrentUser, db: DbSession
) -> dict[str, str]:
    """Set a list field's values and, optionally, a label for each: `{"values": [[value, label], ...]}`."""
    field = _writable(db, field_id, user)
    if not _should_have_values(field):
        raise BadRequest(ONLY_LIST_VALUES)
    if any(len(pair) not in (1, 2) for pair in body.values):
        raise BadRequest({"errors": {"values": "value must be a list of [value] or [value, label] pairs."}})
    labelled = [len(pair) == 2 for pair in body.values]
    if any(labelled) and not all(labelled):
        raise BadRequest(LABELS_FOR_ALL)
    row = db.scalar(select(FieldValues).where(FieldValues.field_id == field.id, FieldValues.type == "full"))
    if row is None:
        row = FieldValues(field_id=field.id, type="full")
        db.add(row)
    row.values = [pair[0] for pair in body.values]
    row.human_readable_values = [pair[1] for pair in body.values] if all(labelled) and labelled else None
    return {"status": "success"}


@router.post("/{field_id}/discard_values", responses=shapes.ok(shapes.Status))
def discard_field_values(field_id: int, user: CurrentUser, db: DbSession) -> dict[str, str]:
    """Forget a field's cached values."""
    field = _writable(db, field_id, user)
    for row in db.scalars(select(FieldValues).where(FieldValues.field_id == field.id)):
        db.delete(row)
    return {"status": "success"}


@router.post("/{field_id}/rescan_values", responses=shapes.ok(shapes.Status))
def rescan_field_values(field_id: int, user: CurrentUser, db: DbSession) -> dict[str, str]:
    """Refresh a field's cached values now."""
    field = _writable(db, field_id, user)
    tbl, database = _warehouse(db, field)
    driver = get_driver(database.engine)
    if driver is not None:
        with driver.connection(database.id, database.details or {}) as conn:
            update_field_values(db, conn, tbl, field)
    return {"status": "success"}


@router.get("/{field_id}/summary", responses=shapes.ok(shapes.FieldSummary))
def get_field_summary(field_id: int, user: CurrentUser, db: DbSession) -> list[list[Any]]:
    """`[["count", rows], ["distincts", distinct values]]` of the field's table."""
    field = checks.readable_field(db, user, field_id)
    tbl, database = _warehouse(db, field)
    driver = check_404(get_driver(database.engine))
    source = _source(tbl, field)
    col = source.c[field.name]
    with driver.connection(database.id, database.details or {}) as conn:
        count, distinct = conn.execute(
            select(func.count(), func.count(col.distinct())).select_from(source)
        ).one()
    return [["count", count], ["distincts", distinct]]


@router.get("/{field_id}/search/{search_field_id}", responses=shapes.ok(shapes.FieldSearchValues))
def search_field_values(
    field_id: int,
    search_field_id: int,
    user: CurrentUser,
    db: DbSession,
    value: NonBlankString | None = None,
    limit: PositiveInt | None = None,
) -> list[list[Any]]:
    """Values of `field_id` whose `search_field_id` (same table; FKs are followed to their targets)
    contains `value`, case-insensitively: `[[value, search value], ...]`, or `[[value], ...]` when both
    are the same field; in the order of the values."""
    if value is None and limit is None:
        raise BadRequest(LIMIT_REQUIRED)
    field, search = check_404(db.get(Field, field_id)), check_404(db.get(Field, search_field_id))
    check_403(checks.can_read_field(db, user, field))
    check_403(checks.can_read_field(db, user, search))
    field, search = _follow_fk(db, field), _follow_fk(db, search)
    if search.table_id != field.table_id:
        raise BadRequest("Invalid Request.")
    tbl, database = _warehouse(db, field)
    driver = check_404(get_driver(database.engine))
    same = field.id == search.id
    source = _source(tbl, *([field] if same else [field, search]))
    value_col, search_col = source.c[field.name], source.c[search.name]
    query = select(value_col).group_by(value_col).order_by(value_col)
    if not same:
        query = select(value_col, search_col).group_by(value_col, search_col).order_by(value_col, search_col)
    if value is not None:
        query = query.where(func.lower(search_col).contains(value.lower(), autoescape=True))
    with driver.connection(database.id, database.details or {}) as conn:
        rows = conn.execute(query.limit(limit or MAX_SEARCH_LIMIT)).all()
    return [list(row) for row in rows]


def _parse_value(field: Field, value: str) -> Any:
    """A query-string value as the field's type: numbers for numeric fields (Metabase's
    `parse-query-param-value-for-field`)."""
    if field.base_type in t.NUMBER_TYPES:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    return value


@router.get("/{field_id}/remapping/{remapped_id}")
def get_remapped_value(
    field_id: int, remapped_id: int, value: NonBlankString, user: CurrentUser, db: DbSession
) -> list[Any] | None:
    """`[value, remapped]`: the value of `remapped_id` in the row where `field_id` (or, for an FK, the
    field it points at) equals `value`; null when there is no such row."""
    field = checks.readable_field(db, user, field_id)
    remapped = checks.readable_field(db, user, remapped_id)
    typed = _parse_value(field, value)
    key = _follow_fk(db, field)
    tbl, database = _warehouse(db, key)
    driver = check_404(get_driver(database.engine))
    same = key.id == remapped.id
    source = _source(tbl, *([key] if same else [key, remapped]))
    query = select(source.c[key.name], source.c[remapped.name]).where(source.c[key.name] == typed).limit(1)
    with driver.connection(database.id, database.details or {}) as conn:
        found = conn.execute(query).first()
    return list(found) if found else None
