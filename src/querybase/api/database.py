"""`/api/database`: connect databases, read what sync learnt about them, and trigger syncs."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from pydantic import AfterValidator, BaseModel
from sqlalchemy import Select, func, select

from querybase import sample_database, sync
from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.routing import MetabaseRoute, quick
from querybase.api.schema import NON_BLANK, MbType, NonBlankString, PositiveInt, non_blank, received
from querybase.api.table import ROOT_COLLECTION_SCHEMA, ordered_fields, target_json, virtual_table
from querybase.drivers import get_driver
from querybase.drivers.base import ConnectionFailure
from querybase.drivers.sql import POOLS, SQLDriver
from querybase.errors import BadRequest, NotFound, PaymentRequired, check_403, check_404
from querybase.models.card import Card
from querybase.models.collection import Collection
from querybase.models.database import (
    Database,
    Field,
    FieldValues,
    Table,
    database_json,
    expanded_schedules,
    field_json,
    merge_redacted,
    secret_keys,
    table_json,
)
from querybase.models.revision import forget_revisions
from querybase.models.segment import LegacyMetric, Segment
from querybase.models.user import User
from querybase.permissions import checks
from querybase.permissions.collection import can_read_content
from querybase.permissions.data import can_read_database, native_permissions, set_new_database_permissions
from querybase.query_processor.saved import SAVED_QUESTIONS_DB_ID

router = APIRouter(route_class=MetabaseRoute, tags=["database"])

SAMPLE_NOT_EDITABLE = "The sample database cannot be edited."
CACHE_TTL_NEEDS_PREMIUM = (
    "The cache TTL database setting is only enabled if you have a premium token with the cache granular "
    "controls feature."
)
NEED_PREFIX = "Must include prefix or search"
# At most this many autocomplete suggestions (tables and fields together), as in Metabase.
AUTOCOMPLETE_LIMIT = 50


def _explain_engine(value: Any) -> list[str]:
    """Metabase's DBEngineString is `[:and NonBlankString [:fn "Valid database engine"]]`: the first
    failing part explains."""
    if not isinstance(value, str) or not value.strip():
        return NON_BLANK.explain(value)
    return [received("Valid database engine", value)]


def _known_engine(value: str) -> str:
    non_blank(value)
    if get_driver(value) is None:
        raise ValueError("Valid database engine")
    return value


def _explain_details(value: Any) -> list[str]:
    return [received("invalid type", value)]


DB_ENGINE = MbType("value must be a valid database engine.", _explain_engine)
# Metabase's `ms/DatabaseDetails`: any map, described as "Value must be a map.".
DATABASE_DETAILS = MbType("Value must be a map.", _explain_details)

DBEngineString = Annotated[str, AfterValidator(_known_engine), DB_ENGINE]
DatabaseDetails = Annotated[dict[str, Any], DATABASE_DETAILS]


class Schedules(BaseModel):
    metadata_sync: dict[str, Any] | None = None
    cache_field_values: dict[str, Any] | None = None


class CreateDatabaseBody(BaseModel):
    name: NonBlankString
    engine: DBEngineString
    details: DatabaseDetails
    is_full_sync: bool | None = True
    is_on_demand: bool | None = False
    schedules: Schedules | None = None
    auto_run_queries: bool | None = None
    cache_ttl: PositiveInt | None = None
    connection_source: str | None = None
    provider_name: str | None = None


class UpdateDatabaseBody(BaseModel):
    name: NonBlankString | None = None
    engine: DBEngineString | None = None
    refingerprint: bool | None = None
    details: DatabaseDetails | None = None
    schedules: Schedules | None = None
    is_full_sync: bool | None = None
    is_on_demand: bool | None = None
    description: str | None = None
    caveats: str | None = None
    points_of_interest: str | None = None
    auto_run_queries: bool | None = None
    cache_ttl: PositiveInt | None = None
    provider_name: str | None = None
    settings: dict[str, Any] | None = None


class ValidateDetails(BaseModel):
    engine: DBEngineString
    details: DatabaseDetails


class ValidateBody(BaseModel):
    details: ValidateDetails


def engine_driver(engine: str) -> SQLDriver:
    driver = get_driver(engine)
    if driver is None:  # an engine stored before its driver was removed
        raise BadRequest(
            {
                "errors": {"engine": DB_ENGINE.description},
                "specific-errors": {"engine": _explain_engine(engine)},
            }
        )
    return driver


def failure_body(failure: ConnectionFailure) -> dict[str, Any]:
    """Metabase's error map: the message, and the form fields to check only when there are some."""
    return {"message": failure.message, **({"errors": failure.errors} if failure.errors else {})}


def test_connection(driver: SQLDriver, details: dict[str, Any]) -> None:
    """Raise Metabase's 400 (`{"message", "errors"}`) when the details do not connect."""
    try:
        driver.can_connect(details)
    except ConnectionFailure as failure:
        raise BadRequest(failure_body(failure)) from None


def _get(db: DbSession, database_id: int) -> Database:
    return check_404(db.get(Database, database_id))


def _writable(db: DbSession, database_id: int, user: User) -> Database:
    """A database the caller may change: 404 when it does not exist, then 403 unless an admin (Metabase's
    `write-check`)."""
    database = _get(db, database_id)
    check_403(user.is_superuser)
    return database


def _tables_query(database_id: int, *, visible_only: bool) -> Select[tuple[Table]]:
    query = select(Table).where(Table.db_id == database_id, Table.active.is_(True))
    if visible_only:
        query = query.where(Table.visibility_type.is_(None))
    return query


def _tables(db: DbSession, database_id: int, *, visible_only: bool = True) -> list[Table]:
    """The database's active tables (only those not hidden, unless asked), by display name."""
    query = _tables_query(database_id, visible_only=visible_only)
    return list(db.scalars(query.order_by(func.lower(Table.display_name), Table.id)))


def _readable_tables(
    db: DbSession, user: User, database_id: int, *, visible_only: bool = True
) -> list[Table]:
    """The tables of `_tables` that `user` may see."""
    return checks.readable_tables(db, user, _tables(db, database_id, visible_only=visible_only))


def _with_fields(db: DbSession, table: Table, *, include_sensitive: bool = False) -> dict[str, Any]:
    """A table with its fields, each with its FK target, as `metadata` and `include=tables.fields` show it."""
    fields = [
        {**field_json(f), "target": target_json(db, f)}
        for f in ordered_fields(db, table)
        if include_sensitive or f.visibility_type != "sensitive"
    ]
    return {**table_json(table), "fields": fields}


def _listed(db: DbSession, database: Database, user: User) -> dict[str, Any]:
    """A database as `GET /api/database` lists it."""
    return {
        **database_json(database, user),
        "native_permissions": native_permissions(db, user, database.id),
        "can_upload": False,
        "router_user_attribute": None,
    }


def _presented(database: Database, user: User) -> dict[str, Any]:
    """A database as `GET /api/database/:id` shows it."""
    data = {
        **database_json(database, user),
        "router_user_attribute": None,
        "schedules": expanded_schedules(database),
        "can_upload": False,
    }
    if user.is_superuser:
        data["can-manage"] = True
    return data


@router.get("", responses=shapes.ok(shapes.DatabasePage))
def list_databases(
    user: CurrentUser,
    db: DbSession,
    include: str | None = None,
    saved: bool = False,
    include_only_uploadable: bool = False,
) -> dict[str, Any]:
    """The databases the user may see: `{data, total}`; `include=tables` adds their visible tables."""
    databases = db.scalars(select(Database).order_by(func.lower(Database.name), func.lower(Database.engine)))
    data = []
    for database in databases:
        if not can_read_database(db, user, database.id):
            continue
        item = _listed(db, database, user)
        if include == "tables":
            item["tables"] = [table_json(t) for t in _readable_tables(db, user, database.id)]
        data.append(item)
    if include_only_uploadable:
        data = []
    elif saved and _saved_question_cards(db, user, types=("question",)):
        data.append(saved_questions_database(db, user, include_tables=include == "tables", fields=False))
    return {"data": data, "total": len(data)}


# ---------------------------------------------------------------------------------------------------
# The "Saved Questions" virtual database: saved questions and models shown as tables (`card__N`) of a
# database -1337, grouped in schemas named after their collections.


def _saved_question_cards(db: DbSession, user: User, *, types: tuple[str, ...]) -> list[Card]:
    """Cards that may be used as a source: not archived, with result metadata, in a collection the user
    may read (others' personal collections are private), by name."""
    query = (
        select(Card)
        .where(Card.archived.is_(False), Card.result_metadata.is_not(None), Card.type.in_(types))
        .order_by(func.lower(Card.name), Card.id)
    )
    readable: dict[int | None, bool] = {}

    def can_read(collection_id: int | None) -> bool:
        if collection_id not in readable:
            readable[collection_id] = can_read_content(db, user, collection_id)
        return readable[collection_id]

    return [c for c in db.scalars(query) if isinstance(c.result_metadata, list) and can_read(c.collection_id)]


def saved_questions_database(
    db: DbSession, user: User, *, include_tables: bool, fields: bool
) -> dict[str, Any]:
    """Metabase's virtual database map: `{name, id: -1337, features, is_saved_questions}`, with `tables` (its
    saved questions; models are listed under `/datasets`) when asked."""
    data: dict[str, Any] = {
        "name": "Saved Questions",
        "id": SAVED_QUESTIONS_DB_ID,
        "features": ["basic-aggregations"],
        "is_saved_questions": True,
    }
    if include_tables:
        cards = _saved_question_cards(db, user, types=("question",))
        data["tables"] = [virtual_table(db, c, fields=fields) for c in cards]
    return data


def _virtual_schemas(db: DbSession, user: User, card_type: str) -> list[str]:
    """The names of the collections holding usable cards of `card_type` ("Everything else" for the root)."""
    tables = [virtual_table(db, c, fields=False) for c in _saved_question_cards(db, user, types=(card_type,))]
    return sorted({t["schema"] for t in tables}, key=str.lower)


def _virtual_schema_tables(db: DbSession, user: User, card_type: str, schema: str) -> list[dict[str, Any]]:
    """The usable cards of `card_type` in the collections named `schema` (the root collection for "Everything
    else"); 404 when no collection has that name."""
    if schema == ROOT_COLLECTION_SCHEMA:
        wanted: set[int | None] = {None}
    else:
        wanted = set(db.scalars(select(Collection.id).where(Collection.name == schema)))
        check_404(wanted or None)
    cards = _saved_question_cards(db, user, types=(card_type,))
    return [virtual_table(db, c, fields=False) for c in cards if c.collection_id in wanted]


@router.get(f"/{SAVED_QUESTIONS_DB_ID}/metadata", responses=shapes.ok(shapes.SavedQuestionsMetadata))
def get_saved_questions_metadata(user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The Saved Questions database with its saved questions as tables, with their fields."""
    return saved_questions_database(db, user, include_tables=True, fields=True)


@router.get(f"/{SAVED_QUESTIONS_DB_ID}/schemas")
def list_saved_questions_schemas(user: CurrentUser, db: DbSession) -> list[str]:
    """The collections (by name) that hold saved questions, as schemas."""
    return _virtual_schemas(db, user, "question")


@router.get(f"/{SAVED_QUESTIONS_DB_ID}/schema/{{schema}}", responses=shapes.ok(list[shapes.VirtualTable]))
def list_saved_questions_schema_tables(schema: str, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The saved questions of one collection (by name) as tables."""
    return _virtual_schema_tables(db, user, "question", schema)


@router.get(f"/{SAVED_QUESTIONS_DB_ID}/datasets")
def list_saved_models_schemas(user: CurrentUser, db: DbSession) -> list[str]:
    """The collections (by name) that hold models, as schemas."""
    return _virtual_schemas(db, user, "model")


@router.get(f"/{SAVED_QUESTIONS_DB_ID}/datasets/{{schema}}", responses=shapes.ok(list[shapes.VirtualTable]))
def list_saved_models_schema_tables(schema: str, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The models of one collection (by name) as tables."""
    return _virtual_schema_tables(db, user, "model", schema)


@router.post(
    "",
    responses={**shapes.ok(shapes.Database), 402: {"description": "A database cache TTL is a paid feature."}},
)
def create_database(
    body: CreateDatabaseBody,
    request: Request,
    background: BackgroundTasks,
    admin: SuperUser,
    db: DbSession,
) -> dict[str, Any]:
    """Connect a database: the connection is tested first; sync starts in the background."""
    database = add_database(db, body, creator=admin)
    # Runs after the response, so after the request's transaction has committed the new row.
    background.add_task(sync.start_sync, request.app.state.appdb, database.id)
    return database_json(database, admin)


def add_database(db: DbSession, body: CreateDatabaseBody, *, creator: User) -> Database:
    """Test the connection (Metabase's 400 when it fails) and save the database, not yet synced."""
    if body.cache_ttl is not None:
        raise PaymentRequired(CACHE_TTL_NEEDS_PREMIUM)
    test_connection(engine_driver(body.engine), body.details)
    database = Database(
        name=body.name,
        engine=body.engine,
        details=body.details,
        is_full_sync=body.is_full_sync is not False,
        is_on_demand=bool(body.is_on_demand),
        auto_run_queries=body.auto_run_queries is not False,
        provider_name=body.provider_name,
        creator_id=creator.id,
        initial_sync_status="incomplete",
    )
    db.add(database)
    db.flush()
    set_new_database_permissions(db, database.id)
    db.refresh(database)
    return database


@router.post("/validate", responses=shapes.ok(shapes.Validity))
def validate_database(body: ValidateBody, admin: SuperUser) -> dict[str, Any]:
    """Test connection details without saving: the details with `"valid": true`, or the error with
    `"valid": false` (always 200, as in Metabase)."""
    try:
        engine_driver(body.details.engine).can_connect(body.details.details)
    except ConnectionFailure as failure:
        return {**failure_body(failure), "valid": False}
    return {**body.details.details, "valid": True}


@router.post("/sample_database", responses=shapes.ok(shapes.Database))
def add_sample_database(
    request: Request, background: BackgroundTasks, admin: SuperUser, db: DbSession
) -> dict[str, Any]:
    """Add the Sample Database back (it may have been deleted) and sync it; answers with it."""
    existing = db.scalar(select(Database).where(Database.is_sample.is_(True)))
    if existing is not None:
        return database_json(existing, admin)
    database = sample_database.register(db, request.app.state.config)
    db.refresh(database)
    background.add_task(sync.start_sync, request.app.state.appdb, database.id)
    return database_json(database, admin)


@router.get("/{database_id}", responses=shapes.ok(shapes.Database))
@quick
def get_database(
    database_id: int, user: CurrentUser, db: DbSession, include: str | None = None
) -> dict[str, Any]:
    """A database; `include=tables` or `include=tables.fields` adds its visible tables (and their fields)."""
    database = checks.readable_database(db, user, database_id)
    data = _presented(database, user)
    if include == "tables":
        data["tables"] = [table_json(t) for t in _readable_tables(db, user, database_id)]
    elif include == "tables.fields":
        data["tables"] = [_with_fields(db, t) for t in _readable_tables(db, user, database_id)]
    return data


@router.put("/{database_id}", responses=shapes.ok(shapes.Database))
def update_database(
    database_id: int, body: UpdateDatabaseBody, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """Change a database. Changed connection details are tested first; a secret sent back redacted
    (`**MetabasePass**`) keeps its stored value, and details not sent are kept."""
    database = _writable(db, database_id, user)
    if database.is_sample:
        raise BadRequest(SAMPLE_NOT_EDITABLE)
    engine = body.engine or database.engine
    engine_changed = engine != database.engine
    driver = engine_driver(engine)
    details = database.details or {}
    if body.details is not None:
        incoming = merge_redacted(body.details, details, secret_keys(driver))
        details = incoming if engine_changed else {**details, **incoming}
    if details != database.details or engine_changed:
        test_connection(driver, details)
        POOLS.close(database.id)
    database.engine = engine
    database.details = details
    sent = body.model_fields_set
    for name in (
        "name",
        "refingerprint",
        "description",
        "caveats",
        "points_of_interest",
        "auto_run_queries",
    ):
        value = getattr(body, name)
        if value is not None:
            setattr(database, name, value)
    if body.is_full_sync is not None:
        database.is_full_sync = body.is_full_sync
    if "is_on_demand" in sent:
        database.is_on_demand = bool(body.is_on_demand)
    if "provider_name" in sent:
        database.provider_name = body.provider_name
    if body.settings:
        merged = {**(database.settings or {}), **body.settings}
        database.settings = {k: v for k, v in merged.items() if v is not None}
    db.flush()
    db.refresh(database)
    return {**database_json(database, user), "schedules": expanded_schedules(database)}


@router.delete("/{database_id}", status_code=204)
def delete_database(database_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Forget a database and everything synced from it; its connection pool is closed."""
    database = _get(db, database_id)
    tables = select(Table.id).where(Table.db_id == database_id)
    forget_revisions(db, "Card", select(Card.id).where(Card.database_id == database_id))
    forget_revisions(db, "Segment", select(Segment.id).where(Segment.table_id.in_(tables)))
    forget_revisions(db, "LegacyMetric", select(LegacyMetric.id).where(LegacyMetric.table_id.in_(tables)))
    db.delete(database)
    db.flush()
    POOLS.close(database_id)
    return Response(status_code=204)


@router.get("/{database_id}/metadata", responses=shapes.ok(shapes.DatabaseMetadata))
def get_metadata(
    database_id: int,
    user: CurrentUser,
    db: DbSession,
    include_hidden: bool = False,
    skip_fields: bool = False,
    remove_inactive: bool = False,
) -> dict[str, Any]:
    """A database with its tables and their fields (hidden tables and sensitive fields only with
    `include_hidden`)."""
    database = checks.readable_database(db, user, database_id)
    tables = _readable_tables(db, user, database_id, visible_only=not include_hidden)
    return {
        **database_json(database, user),
        "tables": [
            {
                **(table_json(t) if skip_fields else _with_fields(db, t, include_sensitive=include_hidden)),
                "segments": [],
                "metrics": [],
            }
            for t in tables
        ],
    }


@router.get("/{database_id}/fields", responses=shapes.ok(list[shapes.DatabaseField]))
def list_database_fields(database_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """Every field of the database that is neither sensitive nor retired and that the user may see, with its
    table's name."""
    checks.readable_database(db, user, database_id)
    rows = db.execute(
        select(Field, Table)
        .join(Table, Field.table_id == Table.id)
        .where(Table.db_id == database_id, Field.visibility_type.not_in(["sensitive", "retired"]))
        .order_by(Table.id, Field.id)
    )
    return [
        {
            "id": f.id,
            "name": f.name,
            "display_name": f.display_name,
            "base_type": f.base_type,
            "semantic_type": f.semantic_type,
            "table_name": t.name,
            "table_id": t.id,
            "schema": t.schema,
        }
        for f, t in rows
        if checks.can_read_table(db, user, t)
    ]


@router.get("/{database_id}/idfields", responses=shapes.ok(list[shapes.IdField]))
def list_id_fields(database_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The primary-key fields of the database's active tables that the user may see, each with its table, by
    table name."""
    checks.readable_database(db, user, database_id)
    rows = db.execute(
        select(Field, Table)
        .join(Table, Field.table_id == Table.id)
        .where(Table.db_id == database_id, Table.active.is_(True), Field.semantic_type == "type/PK")
        .order_by(func.lower(Table.name), Field.id)
    )
    return [
        {**field_json(f), "table": table_json(t, present=False)}
        for f, t in rows
        if checks.can_read_table(db, user, t)
    ]


@router.get("/{database_id}/schemas")
def list_schemas(database_id: int, user: CurrentUser, db: DbSession) -> list[str]:
    """The names of the schemas that have visible tables the user may see (`""` for engines without
    schemas)."""
    checks.readable_database(db, user, database_id)
    schemas = {t.schema or "" for t in _tables(db, database_id)}
    return sorted(s for s in schemas if checks.can_read_schema(db, user, database_id, s))


@router.get("/{database_id}/schema/{schema}", responses=shapes.ok(list[shapes.Table]))
def list_schema_tables(
    database_id: int, schema: str, user: CurrentUser, db: DbSession
) -> list[dict[str, Any]]:
    """The visible tables of one schema that the user may see; 404 when there are none."""
    return _schema_tables(db, user, database_id, schema)


def _schema_tables(db: DbSession, user: User, database_id: int, schema: str) -> list[dict[str, Any]]:
    """A schema's tables: 403 unless the user may see the database and the schema, 404 when none is left."""
    checks.readable_database(db, user, database_id)
    check_403(checks.can_read_schema(db, user, database_id, schema))
    tables = [t for t in _readable_tables(db, user, database_id) if (t.schema or "") == schema]
    if not tables:
        raise NotFound()
    return [table_json(t) for t in tables]


@router.get("/{database_id}/schema/", responses=shapes.ok(list[shapes.Table]))
@router.get("/{database_id}/schema", responses=shapes.ok(list[shapes.Table]))
def list_schemaless_tables(
    database_id: int, user: CurrentUser, db: DbSession, schema: str | None = None
) -> list[dict[str, Any]]:
    """The visible tables of the `schema` query parameter's schema, or without a schema when it is not
    given (Metabase's `/schema/`); 404 when there are none."""
    return _schema_tables(db, user, database_id, schema or "")


def _like_escaped(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/{database_id}/autocomplete_suggestions")
def autocomplete_suggestions(
    database_id: int,
    user: CurrentUser,
    db: DbSession,
    response: Response,
    prefix: NonBlankString | None = None,
    substring: NonBlankString | None = None,
) -> list[list[str]]:
    """Table and field names for the SQL editor, by `substring` or else `prefix` (case-insensitive):
    `[["PRODUCTS", "Table"], ["PRODUCT_ID", "ORDERS :type/Integer :type/FK"]]`; only what the user may see."""
    checks.readable_database(db, user, database_id)
    if not prefix and not substring:
        raise BadRequest(NEED_PREFIX)
    pattern = f"%{_like_escaped(substring)}%" if substring else f"{_like_escaped(prefix or '')}%"
    # As in Metabase, what the user may not see is left out of the first matches (not replaced).
    tables = checks.readable_tables(
        db,
        user,
        db.scalars(
            _tables_query(database_id, visible_only=True)
            .where(func.lower(Table.name).like(pattern, escape="\\"))
            .order_by(func.lower(Table.name), Table.id)
            .limit(AUTOCOMPLETE_LIMIT)
        ),
    )
    matches = db.execute(
        select(Field, Table)
        .join(Table, Field.table_id == Table.id)
        .where(Table.db_id == database_id, Table.active.is_(True), Field.active.is_(True))
        .where(Field.visibility_type.not_in(["sensitive", "retired"]))
        .where(func.lower(Field.name).like(pattern, escape="\\"))
        .order_by(func.lower(Field.name), func.lower(Table.name), Field.id)
        .limit(AUTOCOMPLETE_LIMIT)
    ).all()
    fields = [(f, t.name) for f, t in matches if checks.can_read_table(db, user, t)]
    # Metabase's split: tables fill up to the limit less half the fields, fields take the rest
    # (Clojure's `take` of a fraction rounds up).
    take_tables = min(Fraction(len(tables)), AUTOCOMPLETE_LIMIT - Fraction(len(fields), 2))
    take_fields = AUTOCOMPLETE_LIMIT - take_tables
    suggestions = [[t.name, "Table"] for t in tables[: max(math.ceil(take_tables), 0)]]
    for field, table_name in fields[: max(math.ceil(take_fields), 0)]:
        kind = f"{table_name} :{field.base_type}" + (
            f" :{field.semantic_type}" if field.semantic_type else ""
        )
        suggestions.append([field.name, kind])
    # The same prefix is typed again and again while writing a query: let the browser cache a minute.
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Vary"] = "Cookie"
    return suggestions


@router.post("/{database_id}/sync_schema", responses=shapes.ok(shapes.Status))
def sync_schema(
    database_id: int, request: Request, background: BackgroundTasks, user: CurrentUser, db: DbSession
) -> dict[str, str]:
    """Sync the database's metadata now (in the background); 422 with the reason when it cannot connect."""
    database = _writable(db, database_id, user)
    try:
        engine_driver(database.engine).can_connect(database.details or {})
    except ConnectionFailure as failure:
        raise BadRequest(failure.message, 422) from None
    background.add_task(sync.start_sync, request.app.state.appdb, database_id)
    return {"status": "ok"}


@router.post("/{database_id}/rescan_values", responses=shapes.ok(shapes.Status))
def rescan_values(
    database_id: int, request: Request, background: BackgroundTasks, user: CurrentUser, db: DbSession
) -> dict[str, str]:
    """Refresh the cached values of the database's list fields (in the background)."""
    _writable(db, database_id, user)
    background.add_task(sync.start_rescan, request.app.state.appdb, database_id)
    return {"status": "ok"}


@router.post("/{database_id}/discard_values", responses=shapes.ok(shapes.Status))
def discard_values(database_id: int, user: CurrentUser, db: DbSession) -> dict[str, str]:
    """Forget the cached values of every field of the database."""
    _writable(db, database_id, user)
    field_ids = select(Field.id).join(Table, Field.table_id == Table.id).where(Table.db_id == database_id)
    for row in db.scalars(select(FieldValues).where(FieldValues.field_id.in_(field_ids))):
        db.delete(row)
    return {"status": "ok"}


@router.post("/{database_id}/dismiss_spinner", responses=shapes.ok(shapes.Status))
def dismiss_spinner(database_id: int, user: CurrentUser, db: DbSession) -> dict[str, str]:
    """Mark the initial sync of the database and its tables complete, as an admin may do for a sync that
    never finishes."""
    database = _writable(db, database_id, user)
    database.initial_sync_status = "complete"
    for table in _tables(db, database_id):
        table.initial_sync_status = "complete"
    return {"status": "ok"}
