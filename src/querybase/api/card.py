"""`/api/card`: saved questions, models and metrics."""

from __future__ import annotations

import contextlib
import re
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from querybase.api import shapes
from querybase.api.dataset import get_query_metadata
from querybase.api.deps import CurrentUser, DbSession, SettingsDep, SuperUser
from querybase.api.routing import MetabaseRoute, download_fields, quick
from querybase.api.schema import (
    Boolean,
    Map,
    NonBlankString,
    PositiveInt,
    PositiveInt16,
    PositiveInt32,
    parse_integer,
    received,
)
from querybase.api.table import enum_type
from querybase.embedding import check_embedding, check_public_sharing, share_publicly
from querybase.errors import NO_SUCH_ENDPOINT, BadRequest, NotFound, check_403, check_404, field_errors
from querybase.jsonutil import JSONResponse
from querybase.models.activity import CardBookmark, record_view, record_view_after_read
from querybase.models.base import new_entity_id, utcnow
from querybase.models.card import (
    Card,
    card_json,
    card_revision_object,
    collection_map,
    creator_map,
    last_edit_info,
)
from querybase.models.collection import Collection, can_read_content, check_destination, root_collection_json
from querybase.models.dashboard import Dashboard, DashboardCard, DashboardCardSeries
from querybase.models.database import Database, Table
from querybase.models.revision import Revision, forget_revisions, push_revision
from querybase.models.segment import Segment
from querybase.models.user import User
from querybase.permissions import checks
from querybase.query_processor import permissions, process, streaming
from querybase.query_processor.answers import card_query, failed_body, query_context, run_card
from querybase.query_processor.errors import InvalidQuery, QueryError
from querybase.query_processor.mbql.normalize import normalize
from querybase.settings.registry import Settings

router = APIRouter(route_class=MetabaseRoute, tags=["card"])

CardType = Annotated[Literal["question", "model", "metric"], enum_type("question", "model", "metric")]
FilterOption = Annotated[
    Literal["all", "mine", "bookmarked", "database", "table", "using_model", "using_segment", "archived"],
    enum_type("archived", "table", "using_model", "bookmarked", "using_segment", "all", "mine", "database"),
]
_NANO_ID = re.compile(r"[A-Za-z0-9_-]{21}")
_ID_OR_NANO_ID = (
    "value must be an integer greater than zero., or String must be a valid 21-character NanoID string."
)


class CreateCardBody(BaseModel):
    name: NonBlankString
    type: CardType | None = None
    dataset_query: Map
    entity_id: NonBlankString | None = None
    parameters: list[dict[str, Any]] | None = None
    parameter_mappings: list[dict[str, Any]] | None = None
    description: NonBlankString | None = None
    display: NonBlankString
    visualization_settings: Map
    collection_id: PositiveInt | None = None
    collection_position: PositiveInt16 | None = None
    result_metadata: list[dict[str, Any]] | None = None
    cache_ttl: PositiveInt32 | None = None
    dashboard_id: PositiveInt | None = None
    dashboard_tab_id: PositiveInt | None = None
    # Before 0.49 clients marked models with `dataset: true`.
    dataset: Boolean | None = None


class UpdateCardBody(BaseModel):
    name: NonBlankString | None = None
    type: CardType | None = None
    dataset_query: Map | None = None
    parameters: list[dict[str, Any]] | None = None
    parameter_mappings: list[dict[str, Any]] | None = None
    description: str | None = None
    display: NonBlankString | None = None
    visualization_settings: Map | None = None
    archived: Boolean | None = None
    enable_embedding: Boolean | None = None
    embedding_params: dict[str, Literal["disabled", "enabled", "locked"]] | None = None
    embedding_type: str | None = None
    collection_id: PositiveInt | None = None
    collection_position: PositiveInt16 | None = None
    result_metadata: list[dict[str, Any]] | None = None
    cache_ttl: PositiveInt32 | None = None
    collection_preview: Boolean | None = None
    dashboard_id: PositiveInt | None = None
    dashboard_tab_id: PositiveInt | None = None
    dataset: Boolean | None = None


class QueryCardBody(BaseModel):
    parameters: list[dict[str, Any]] | None = None
    ignore_cache: Boolean = False
    collection_preview: Boolean | None = None
    dashboard_id: PositiveInt | None = None


class MoveCardsBody(BaseModel):
    card_ids: list[PositiveInt]
    collection_id: PositiveInt | None = None


# --- lookups and permissions --------------------------------------------------------------------------------


def may_read(db: Session, user: User, card: Card) -> bool:
    """Personal collections (and what is nested in them) are private to their owner and admins."""
    return can_read_content(db, user, card.collection_id)


def readable_card(db: Session, user: User, card_id: int | str) -> Card:
    """The card with id (or 21-character entity id) `card_id`: 404 when unknown, 403 when private."""
    card = check_404(_find_card(db, card_id))
    check_403(may_read(db, user, card))
    return card


def writable_card(db: Session, user: User, card_id: int) -> Card:
    """The card `card_id` for a change: 404 when unknown, 403 unless the user may curate its collection."""
    card = check_404(_find_card(db, card_id))
    checks.check_write_content(db, user, card.collection_id)
    return card


def _find_card(db: Session, card_id: int | str) -> Card | None:
    if isinstance(card_id, int):
        return db.get(Card, card_id)
    if card_id.isascii() and card_id.isdigit():
        return db.get(Card, parse_integer(card_id))
    if _NANO_ID.fullmatch(card_id):
        return db.scalar(select(Card).where(Card.entity_id == card_id))
    raise BadRequest(
        {
            "errors": {"id": _ID_OR_NANO_ID},
            "specific-errors": {
                "id": [received("should be a positive int, or valid NanoID string", card_id)]
            },
        }
    )


# --- queries ------------------------------------------------------------------------------------------------


def _legacy(query: dict[str, Any]) -> dict[str, Any]:
    """The stored query in legacy MBQL (what the query processor and the card's facts are based on)."""
    try:
        return normalize(query)
    except ValueError as error:
        raise BadRequest({"message": str(error), "error_type": InvalidQuery.error_type}) from None


def _query_facts(db: Session, user: User, settings: Settings, query: dict[str, Any]) -> dict[str, Any]:
    """The columns derived from a card's query: its database, kind, source table or source card."""
    ctx = query_context(db, user, settings, query, "question")
    legacy = _legacy(query)
    facts: dict[str, Any] = {
        "database_id": ctx.database.id,
        "query_type": legacy["type"],
        "table_id": None,
        "source_card_id": None,
    }
    if legacy["type"] == "query":
        inner = legacy["query"]
        while isinstance(inner.get("source-query"), dict):
            inner = inner["source-query"]
        source = inner.get("source-table")
        if isinstance(source, int) and not isinstance(source, bool):
            # A table that does not exist cannot be the card's (its column is a foreign key): the card
            # is saved without one, as one built on a question that does not exist is.
            facts["table_id"] = source if db.get(Table, source) is not None else None
        elif (
            isinstance(source, str)
            and source.startswith("card__")
            and source[6:].isascii()
            and source[6:].isdigit()
        ):
            source_card = db.get(Card, parse_integer(source[6:]))
            if source_card is not None:
                facts["source_card_id"] = source_card.id
                facts["table_id"] = source_card.table_id
    return facts


def _result_metadata(db: Session, user: User, settings: Settings, query: dict[str, Any]) -> Any:
    """The columns a query returns, as Metabase saves them with a card; null when it cannot run.

    MBQL columns are known once compiled; a native query has to run, so the app-DB transaction is
    committed first (the caller writes nothing before this)."""
    ctx = query_context(db, user, settings, query, "question")
    try:
        prepared = process.prepare(ctx, query)
        if prepared.cols is not None:
            return prepared.cols
        db.commit()
        result = process.run(prepared)
        result.execution.close()
        return result.cols
    except QueryError:
        return None


def _contains(value: Any, needle: Any) -> bool:
    if value == needle:
        return True
    if isinstance(value, dict):
        return any(_contains(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, needle) for v in value)
    return False


def _uses_source_card(card: Card, source_id: int) -> bool:
    try:
        legacy = normalize(card.dataset_query)
    except ValueError:
        return False
    return _contains(legacy, f"card__{source_id}")


def _uses_segment(card: Card, segment_id: int) -> bool:
    try:
        legacy = normalize(card.dataset_query)
    except ValueError:
        return False
    return _contains(legacy.get("query"), ["segment", segment_id])


# --- serialization ------------------------------------------------------------------------------------------


def _snapshot(card: Card) -> dict[str, Any]:
    """The card's columns, as Metabase selects a card."""
    return {column.key: getattr(card, column.key) for column in Card.__table__.columns}


def _card_row(db: Session, card: Card, *, hydrate: bool) -> dict[str, Any]:
    """A card as Metabase selects it (its columns), for lists; `hydrate` adds creator and collection."""
    data = _snapshot(card)
    if data["parameters"] is None:
        data["parameters"] = []
    if data["parameter_mappings"] is None:
        data["parameter_mappings"] = []
    if hydrate:
        creator = db.get(User, card.creator_id)
        collection = db.get(Collection, card.collection_id) if card.collection_id is not None else None
        data["creator"] = creator_map(creator) if creator is not None else None
        data["collection"] = collection_map(db, collection)
    return data


def _present_in_trash(db: Session, data: dict[str, Any]) -> dict[str, Any]:
    """A card archived by itself shows in the Trash (`collection_id` of the Trash), as Metabase's GET does."""
    if data["archived_directly"]:
        trash = db.scalar(select(Collection).where(Collection.type == "trash"))
        if trash is not None:
            data["collection_id"] = trash.id
            data["collection"] = collection_map(db, trash)
    return data


def _legacy_dataset_query(data: dict[str, Any]) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        data["dataset_query"] = normalize(data["dataset_query"])
    return data


# --- endpoints ----------------------------------------------------------------------------------------------


@router.get("", responses=shapes.ok(list[shapes.Card]))
def list_cards(
    user: CurrentUser,
    db: DbSession,
    f: FilterOption = "all",
    model_id: Annotated[PositiveInt | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Cards filtered by `f` (`all` by default), sorted by name; a plain array."""
    if f in ("database", "table", "using_model", "using_segment"):
        if model_id is None:
            message = f"model_id is a required parameter when filter mode is '{f}'"
            raise BadRequest({"errors": {"model_id": message}})
        if f == "database":
            check_404(db.get(Database, model_id))
        elif f == "table":
            check_404(db.get(Table, model_id))
        elif f == "using_model":
            readable_card(db, user, model_id)
        else:
            check_404(db.get(Segment, model_id))
    statement = select(Card).order_by(func.lower(Card.name), Card.id)
    if f == "archived":
        statement = statement.where(Card.archived.is_(True))
    else:
        statement = statement.where(Card.archived.is_(False))
    if f == "mine":
        statement = statement.where(Card.creator_id == user.id)
    elif f == "bookmarked":
        bookmarked = select(CardBookmark.card_id).where(CardBookmark.user_id == user.id)
        statement = statement.where(Card.id.in_(bookmarked))
    elif f == "database":
        statement = statement.where(Card.database_id == model_id)
    elif f == "table":
        statement = statement.where(Card.table_id == model_id)
    cards = list(db.scalars(statement))
    if f == "using_model":
        assert model_id is not None
        cards = [c for c in cards if _uses_source_card(c, model_id)]
    elif f == "using_segment":
        assert model_id is not None
        cards = [c for c in cards if _uses_segment(c, model_id)]
    # Metabase adds `last-edit-info` only to cards with a revision.
    ids = [card.id for card in cards]
    edited = set(
        db.scalars(select(Revision.model_id).where(Revision.model == "Card", Revision.model_id.in_(ids)))
    )
    out = []
    for card in cards:
        if not may_read(db, user, card):
            continue
        data = _card_row(db, card, hydrate=True)
        if card.id in edited:
            data["last-edit-info"] = last_edit_info(db, card)
        out.append(data)
    return out


@router.post("", responses=shapes.ok(shapes.Card))
def create_card(
    body: CreateCardBody, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """Save a question, model or metric; answers the hydrated card."""
    collection_id = body.collection_id
    if body.dashboard_id is not None:
        dashboard = check_404(db.get(Dashboard, body.dashboard_id))
        if "collection_id" in body.model_fields_set and collection_id != dashboard.collection_id:
            raise BadRequest(
                f"Mismatch detected between Dashboard's `collection_id` ({dashboard.collection_id}) and "
                f"`collection_id` ({collection_id})"
            )
        collection_id = dashboard.collection_id
    check_destination(db, user, collection_id)
    if body.entity_id is not None and (
        not _NANO_ID.fullmatch(body.entity_id)
        or db.scalar(select(Card.id).where(Card.entity_id == body.entity_id)) is not None
    ):
        raise field_errors({"entity_id": "String must be a valid, unused 21-character NanoID string."})
    facts = _query_facts(db, user, settings, body.dataset_query)
    checks.check_can_save(db, user, _legacy(body.dataset_query), facts["database_id"])
    metadata = body.result_metadata
    if metadata is None:
        metadata = _result_metadata(db, user, settings, body.dataset_query)
    card_type = body.type or ("model" if body.dataset else "question")
    card = Card(
        name=body.name,
        description=body.description,
        type=card_type,
        display=body.display,
        dataset_query=body.dataset_query,
        visualization_settings=body.visualization_settings,
        result_metadata=metadata,
        parameters=body.parameters or [],
        parameter_mappings=body.parameter_mappings or [],
        collection_id=collection_id,
        collection_position=body.collection_position,
        dashboard_id=body.dashboard_id,
        cache_ttl=body.cache_ttl,
        creator_id=user.id,
        entity_id=body.entity_id or new_entity_id(),
        **facts,
    )
    db.add(card)
    db.flush()
    push_revision(db, "Card", card.id, user.id, card_revision_object(card), is_creation=True)
    return card_json(db, card, user)


@router.post("/collections", responses=shapes.ok(shapes.Status))
def move_cards(body: MoveCardsBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Move cards into a collection (or the root, with a null `collection_id`)."""
    check_destination(db, user, body.collection_id)
    cards = list(db.scalars(select(Card).where(Card.id.in_(set(body.card_ids))).order_by(Card.id)))
    for card in cards:
        checks.check_write_content(db, user, card.collection_id)
    moving = [c for c in cards if c.collection_id != body.collection_id]
    positioned = sorted(
        (c for c in moving if c.collection_position is not None), key=lambda c: c.collection_position
    )
    top = db.scalar(
        select(func.max(Card.collection_position)).where(Card.collection_id == body.collection_id)
    )
    for offset, card in enumerate(positioned, start=1):
        card.collection_position = (top or 0) + offset
    for card in moving:
        card.collection_id = body.collection_id
    if body.collection_id is not None:
        record_view(db, user.id, "collection", body.collection_id, "view")
    return {"status": "ok"}


@router.get("/{card_id}", responses=shapes.ok(shapes.Card))
@quick
def get_card(
    card_id: str,
    request: Request,
    background: BackgroundTasks,
    user: CurrentUser,
    db: DbSession,
    legacy_mbql: Annotated[Boolean | None, Query(alias="legacy-mbql")] = None,
) -> dict[str, Any]:
    """One card by id or entity id (archived ones too); `legacy-mbql=true` gives its query in legacy MBQL. A
    card outside any collection is given the root's map as its `collection`; the read is a recent view."""
    card = readable_card(db, user, card_id)
    data = card_json(db, card, user)
    if data["collection_id"] is None:
        data["collection"] = root_collection_json(db, user)
    data = _present_in_trash(db, data)
    background.add_task(record_view_after_read, request.app.state.appdb, user.id, "card", card.id)
    return _legacy_dataset_query(data) if legacy_mbql else data


@router.put("/{card_id}", responses=shapes.ok(shapes.Card))
def update_card(
    card_id: int, body: UpdateCardBody, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """Change any of a card's attributes (in a collection the user may curate); `archived` moves it to or
    from the Trash. A changed query must be one the user may run."""
    card = writable_card(db, user, card_id)
    sent = {key: getattr(body, key) for key in body.model_fields_set}
    embedding = {"enable_embedding", "embedding_params", "embedding_type"} & sent.keys()
    if any(sent[k] != getattr(card, k) for k in embedding):
        check_embedding(settings)
        check_403(user.is_superuser)
    if sent.get("dashboard_id") is not None and sent["dashboard_id"] != card.dashboard_id:
        # Moving into a dashboard makes a dashboard question: it lives in the dashboard's collection.
        dashboard = check_404(db.get(Dashboard, sent["dashboard_id"]))
        sent["collection_id"] = dashboard.collection_id
        sent["archived"] = False
    if "collection_id" in sent and sent["collection_id"] != card.collection_id:
        check_destination(db, user, sent["collection_id"])
    query = sent.get("dataset_query")
    metadata = sent.get("result_metadata")
    if query is not None:
        facts = _query_facts(db, user, settings, query)
        if query != card.dataset_query:
            checks.check_can_save(db, user, _legacy(query), facts["database_id"])
        if metadata is None and query != card.dataset_query:
            metadata = _result_metadata(db, user, settings, query)
        for key, value in facts.items():
            setattr(card, key, value)
        card.dataset_query = query
    if metadata is not None:
        card.result_metadata = metadata
    new_type = sent.get("type") or ("model" if sent.get("dataset") else None)
    if new_type is not None:
        if new_type == "model" and sent.get("display") != "list":
            sent["display"] = "table"
        card.type = new_type
    for key in ("name", "display", "visualization_settings", "collection_preview", "enable_embedding"):
        if sent.get(key) is not None:
            setattr(card, key, sent[key])
    for key in ("description", "parameters", "parameter_mappings", "collection_id", "collection_position",
                "cache_ttl", "embedding_params", "embedding_type", "dashboard_id"):  # fmt: skip
        if key in sent:
            setattr(card, key, sent[key])
    if sent.get("archived") is not None and sent["archived"] != card.archived:
        card.archived = card.archived_directly = sent["archived"]
        if not card.archived and card.collection_id is not None:
            collection = db.get(Collection, card.collection_id)
            if collection is not None and collection.archived:
                card.collection_id = None
    db.flush()
    push_revision(db, "Card", card.id, user.id, card_revision_object(card))
    return card_json(db, card, user)


@router.delete("/{card_id}", status_code=204)
def delete_card(card_id: int, user: CurrentUser, db: DbSession) -> Response:
    """Delete a card for good (archiving is `PUT` with `archived`)."""
    card = writable_card(db, user, card_id)
    db.execute(DashboardCardSeries.__table__.delete().where(DashboardCardSeries.card_id == card.id))
    db.execute(DashboardCard.__table__.delete().where(DashboardCard.card_id == card.id))
    forget_revisions(db, "Card", [card.id])
    db.delete(card)
    return Response(status_code=204)


@router.post("/{card_id}/copy", responses=shapes.ok(shapes.Card))
def copy_card(card_id: int, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Save a copy named "Copy of <name>", created by the caller."""
    original = readable_card(db, user, card_id)
    check_destination(db, user, original.collection_id)
    copied = {
        key: getattr(original, key)
        for key in (
            "description",
            "type",
            "display",
            "dataset_query",
            "visualization_settings",
            "result_metadata",
            "parameters",
            "parameter_mappings",
            "query_type",
            "database_id",
            "table_id",
            "source_card_id",
            "collection_id",
            "collection_position",
            "dashboard_id",
            "cache_ttl",
            "collection_preview",
        )
    }
    card = Card(name=f"Copy of {original.name}", creator_id=user.id, **copied)
    db.add(card)
    db.flush()
    push_revision(db, "Card", card.id, user.id, card_revision_object(card), is_creation=True)
    return card_json(db, card, user)


@router.get("/{card_id}/dashboards", responses=shapes.ok(list[shapes.Named]))
def card_dashboards(card_id: int, user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """`{id, name}` of each dashboard that shows the card."""
    card = readable_card(db, user, card_id)
    on_dashcards = select(DashboardCard.dashboard_id).where(DashboardCard.card_id == card.id)
    as_series = (
        select(DashboardCard.dashboard_id)
        .join(DashboardCardSeries, DashboardCardSeries.dashboardcard_id == DashboardCard.id)
        .where(DashboardCardSeries.card_id == card.id)
    )
    dashboards = db.scalars(
        select(Dashboard)
        .where(Dashboard.id.in_(on_dashcards.union(as_series)), Dashboard.archived.is_(False))
        .order_by(Dashboard.id)
    )
    return [{"id": d.id, "name": d.name} for d in dashboards]


@router.get("/{card_id}/query_metadata", responses=shapes.ok(shapes.QueryMetadata))
def card_query_metadata(
    card_id: str, user: CurrentUser, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """What a client needs to show the card's query: its database and the tables it reads."""
    card = readable_card(db, user, card_id)
    return get_query_metadata(user, db, settings, card.dataset_query)


_SERIES_DISPLAYS = ("area", "bar", "line", "scalar")


def _is_temporal(col: dict[str, Any]) -> bool:
    return any(
        str(col.get(k) or "").startswith(("type/Date", "type/Time")) for k in ("base_type", "effective_type")
    )


def _is_numeric(col: dict[str, Any]) -> bool:
    numeric = ("type/Integer", "type/BigInteger", "type/Float", "type/Decimal", "type/Number")
    return str(col.get("base_type") or "") in numeric


def _series_compatible(card: Card, other: Card) -> bool:
    """Metabase's test for drawing `other` on `card`'s chart, from the saved columns of both."""
    if other.query_type == "native":
        return True
    mine, theirs = card.result_metadata or [], other.result_metadata or []
    if card.display == "scalar":
        return other.display == "scalar" and len(mine) == 1 and len(theirs) == 1
    if other.display not in ("area", "bar", "line"):
        return False
    dimensions = [c for c in theirs if c.get("source") == "breakout"]
    metrics = [c for c in theirs if c.get("source") == "aggregation"]
    initial = [c for c in mine if c.get("source") == "breakout"]
    if not dimensions or not metrics or not all(_is_numeric(c) for c in metrics):
        return False
    if not initial:
        return False
    first, new = initial[0], dimensions[0]
    if _is_temporal(first) != _is_temporal(new):
        return False
    return _is_numeric(first) == _is_numeric(new) or (_is_temporal(first) and _is_temporal(new))


@router.get("/{card_id}/series", responses=shapes.ok(list[shapes.Card]))
def card_series(
    card_id: int,
    user: CurrentUser,
    db: DbSession,
    last_cursor: Annotated[PositiveInt | None, Query()] = None,
    query: Annotated[NonBlankString | None, Query()] = None,
    exclude_ids: Annotated[list[int] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Cards that can be drawn as extra series on this card's chart, newest first."""
    card = readable_card(db, user, card_id)
    if card.display not in _SERIES_DISPLAYS:
        raise BadRequest(
            {
                "message": f"Card with type {card.display} is not compatible to have series",
                "display": card.display,
                "allowed-display": list(_SERIES_DISPLAYS),
            }
        )
    statement = select(Card).where(
        Card.archived.is_(False), Card.display.in_(_SERIES_DISPLAYS), Card.id != card.id
    )
    if last_cursor is not None:
        statement = statement.where(Card.id < last_cursor)
    if exclude_ids:
        statement = statement.where(Card.id.not_in(exclude_ids))
    if query is not None:
        statement = statement.where(func.lower(Card.name).contains(query.lower()))
    candidates = db.scalars(statement.order_by(Card.id.desc()))
    return [
        _card_row(db, other, hydrate=False)
        for other in candidates
        if may_read(db, user, other) and _series_compatible(card, other)
    ]


@router.post("/{card_id}/query", status_code=202, responses=shapes.ok(shapes.QueryResult, 202))
def query_card(
    card_id: str,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
    body: QueryCardBody | None = None,
) -> JSONResponse:
    """Run the card's query (with `parameters` applied); 202 whether it succeeds or fails."""
    body = body or QueryCardBody()
    card = readable_card(db, user, card_id)
    context = "collection" if body.collection_preview else "question"
    answer = run_card(db, user, settings, card, body.parameters, context)
    if context == "question" and answer["status"] == "completed":
        # Metabase's card-query event: a question run (not a collection preview) is a recent view.
        record_view(db, user.id, "card", card.id, "view")
    return JSONResponse(answer, status_code=202)


def _invalid_download_parameters(parameters: Any) -> dict[str, Any]:
    return {
        "errors": {"parameters": "nullable sequence of map where {Keyword -> any}"},
        "specific-errors": {"parameters": [received("invalid type", parameters)]},
    }


@router.post(
    "/{card_id}/query/{export_format}", responses=shapes.download(), openapi_extra=shapes.CARD_DOWNLOAD_BODY
)
async def download_card(
    card_id: int,
    export_format: str,
    request: Request,
    user: CurrentUser,
    db: DbSession,
    settings: SettingsDep,
) -> Response:
    """Run the card's query and stream its results as `csv`, `json` or `xlsx`, named after the card."""
    if export_format not in streaming.EXPORT_FORMATS:
        raise NotFound(NO_SUCH_ENDPOINT)
    parameters, format_rows = await download_fields(request, _invalid_download_parameters)
    return await run_in_threadpool(
        _download, db, user, settings, card_id, export_format, parameters, format_rows
    )


def _download(
    db: Session,
    user: User,
    settings: Settings,
    card_id: int,
    export_format: str,
    parameters: list[dict[str, Any]] | None,
    format_rows: bool,
) -> Response:
    card = readable_card(db, user, card_id)
    download = export_card(db, user, settings, card, export_format, parameters, format_rows)
    return JSONResponse(download, status_code=400) if isinstance(download, dict) else download


def export_card(
    db: Session,
    user: User | None,
    settings: Settings,
    card: Card,
    export_format: str,
    parameters: list[dict[str, Any]] | None,
    format_rows: bool,
    context: str | None = None,
) -> StreamingResponse | dict[str, Any]:
    """The card's results as a `csv`, `json` or `xlsx` download, or Metabase's failed body when the query
    cannot run. Public links and embeds download cards this way too, without a user."""
    ctx = query_context(db, user, settings, card.dataset_query, context or f"{export_format}-download")
    ctx.info[permissions.CARD_ID] = card.id
    started, started_at = time.monotonic(), utcnow()
    query: Any = card.dataset_query
    try:
        query = card_query(card, parameters)
        prepared = process.prepare(ctx, query, download=True)
        db.commit()
        result = process.run(prepared)
    except (QueryError, ValueError) as error:
        failure = error if isinstance(error, QueryError) else InvalidQuery(str(error))
        return failed_body(query, failure, started, started_at)
    visualization_settings = (
        card.visualization_settings if isinstance(card.visualization_settings, dict) else None
    )
    body = streaming.stream(
        export_format,
        result.cols,
        result.batches,
        format_rows=format_rows,
        visualization_settings=visualization_settings,
    )
    headers = streaming.download_headers(export_format, streaming.card_filename_prefix(card.name))
    return StreamingResponse(body, headers=headers)


# --- Sharing: public links and the lists of shared cards (admins only) --------------------------------------
# The anonymous side is `api/public.py`, `api/embed.py` and `api/preview_embed.py`.


@router.get("/public", responses=shapes.ok(list[shapes.Shared]))
def list_public_cards(admin: SuperUser, db: DbSession, settings: SettingsDep) -> list[dict[str, Any]]:
    """`{name, id, public_uuid}` of each card with a public link (400 while public sharing is off)."""
    check_public_sharing(settings)
    shared = select(Card).where(Card.public_uuid.is_not(None), Card.archived.is_(False)).order_by(Card.id)
    return [{"name": c.name, "id": c.id, "public_uuid": c.public_uuid} for c in db.scalars(shared)]


@router.get("/embeddable", responses=shapes.ok(list[shapes.Named]))
def list_embeddable_cards(admin: SuperUser, db: DbSession, settings: SettingsDep) -> list[dict[str, Any]]:
    """`{name, id}` of each card with `enable_embedding` (400 while embedding is off)."""
    check_embedding(settings)
    embeddable = (
        select(Card).where(Card.enable_embedding.is_(True), Card.archived.is_(False)).order_by(Card.id)
    )
    return [{"name": c.name, "id": c.id} for c in db.scalars(embeddable)]


@router.post("/{card_id}/public_link", responses=shapes.ok(shapes.PublicLink))
def create_public_link(
    card_id: int, admin: SuperUser, db: DbSession, settings: SettingsDep
) -> dict[str, str]:
    """The card's public UUID, made on the first request; sharing again answers the same one."""
    check_public_sharing(settings)
    card = check_404(db.get(Card, card_id))
    if card.archived:
        raise NotFound({"message": "The object has been archived.", "error_code": "archived"})
    return {"uuid": share_publicly(db, card, admin.id)}


@router.delete("/{card_id}/public_link", status_code=204)
def delete_public_link(card_id: int, admin: SuperUser, db: DbSession, settings: SettingsDep) -> Response:
    """Revoke the card's public link: its UUID stops working at once."""
    check_public_sharing(settings)
    card = db.get(Card, card_id)
    if card is None or card.public_uuid is None:
        raise NotFound()
    card.public_uuid = card.made_public_by_id = None
    return Response(status_code=204)


# `GET /public` and `/embeddable` come after `GET /{card_id}`, which would take them for ids: match them
# first.
router.routes.sort(key=lambda route: getattr(route, "path", None) not in ("/public", "/embeddable"))
