"""`/api/search`: find cards, models, metrics, dashboards, collections, tables, databases, segments.

Metabase's in-place engine: each model is matched in SQL (lower-cased names against `LIKE` patterns with
bound parameters, so indexes on names can help and nothing is loaded that does not match), then the
matches are ranked by how well the name matches and by Metabase's model order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue, PositiveInt
from querybase.api.table import enum_type
from querybase.models.card import Card
from querybase.models.collection import (
    TRASH_TYPE,
    Collection,
    children_location,
    in_visible_collection,
    others_personal_clause,
    personal_tree_clause,
)
from querybase.models.dashboard import Dashboard, DashboardCard
from querybase.models.database import Database, Table
from querybase.models.revision import Revision
from querybase.models.segment import Segment
from querybase.models.user import User

router = APIRouter(route_class=MetabaseRoute, tags=["search"])

ENGINE = "search.engine/in-place"
SEARCH_MODELS = (
    "dashboard",
    "table",
    "dataset",
    "segment",
    "collection",
    "transform",
    "document",
    "database",
    "action",
    "indexed-entity",
    "metric",
    "card",
)
# Metabase's tie-break between equally relevant results.
MODEL_ORDER = (
    "dashboard",
    "metric",
    "segment",
    "indexed-entity",
    "card",
    "dataset",
    "collection",
    "table",
    "action",
    "document",
    "transform",
    "database",
)
CARD_TYPES = {"card": "question", "dataset": "model", "metric": "metric"}
SearchModel = Annotated[Literal[SEARCH_MODELS], enum_type(*SEARCH_MODELS)]  # type: ignore[valid-type]
PERSONAL_FILTERS = ("all", "only", "only-mine", "exclude", "exclude-others")
PersonalFilter = Annotated[Literal[PERSONAL_FILTERS], enum_type(*PERSONAL_FILTERS)]  # type: ignore[valid-type]
LIKE_ESCAPE = "\\"


@dataclass
class Filters:
    """What the request asks for, beyond the model and the search text."""

    user: User
    words: list[str]
    archived: bool
    table_db_id: int | None
    created_by: list[int] | None
    last_edited_by: list[int] | None
    personal: str | None
    collection: Collection | None
    display_type: list[str] | None
    ids: list[int] | None


def _like(column: Any, word: str) -> ColumnElement[bool]:
    escaped = word.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape=LIKE_ESCAPE)


def _matches(filters: Filters, *columns: Any) -> ColumnElement[bool]:
    """Every word of the search text appears in one of `columns` (case-insensitively)."""
    if not filters.words:
        return true()
    return and_(*(or_(*(_like(column, word) for column in columns)) for word in filters.words))


def _personal_filter(
    filters: Filters, collection_id: Any, *, self_collection: Any = None
) -> ColumnElement[bool]:
    """SQL for `filter_items_in_personal_collection` on items whose collection is `collection_id` (or, for
    collections, on the collection entity itself)."""
    mode = filters.personal
    if mode in (None, "all"):
        return true()
    owner_id = filters.user.id
    owners: dict[str, Callable[[Any], ColumnElement[bool]] | None] = {
        "only": None,
        "exclude": None,
        "only-mine": lambda owner: owner == owner_id,
        "exclude-others": lambda owner: owner != owner_id,
    }
    if self_collection is not None:
        in_tree: ColumnElement[bool] = personal_tree_clause(self_collection, owners[mode])
    else:
        in_tree = collection_id.in_(
            select(Collection.id).where(personal_tree_clause(Collection, owners[mode]))
        )
    if mode.startswith("only"):
        return in_tree
    return ~in_tree if self_collection is not None else or_(collection_id.is_(None), ~in_tree)


def _in_collection(filters: Filters, collection_id: Any) -> ColumnElement[bool]:
    """The `collection` filter: items in that collection or anywhere under it."""
    if filters.collection is None:
        return true()
    under = select(Collection.id).where(Collection.location.like(children_location(filters.collection) + "%"))
    return or_(collection_id == filters.collection.id, collection_id.in_(under))


def _edited_by(model: str, id_column: Any, filters: Filters) -> ColumnElement[bool]:
    if filters.last_edited_by is None:
        return true()
    return id_column.in_(
        select(Revision.model_id).where(
            Revision.model == model,
            Revision.most_recent.is_(True),
            Revision.user_id.in_(filters.last_edited_by),
        )
    )


def _card_query(model: str, filters: Filters) -> Select[Any]:
    statement = select(Card).where(
        Card.type == CARD_TYPES[model],
        Card.archived.is_(filters.archived),
        _matches(filters, Card.name),
        in_visible_collection(filters.user, Card.collection_id),
        _personal_filter(filters, Card.collection_id),
        _in_collection(filters, Card.collection_id),
        _edited_by("Card", Card.id, filters),
    )
    if filters.table_db_id is not None:
        statement = statement.where(Card.database_id == filters.table_db_id)
    if filters.created_by is not None:
        statement = statement.where(Card.creator_id.in_(filters.created_by))
    if filters.display_type is not None:
        statement = statement.where(Card.display.in_(filters.display_type))
    if filters.ids is not None:
        statement = statement.where(Card.id.in_(filters.ids))
    return statement


def _dashboard_query(filters: Filters) -> Select[Any] | None:
    if filters.table_db_id is not None or filters.display_type is not None:
        return None
    statement = select(Dashboard).where(
        Dashboard.archived.is_(filters.archived),
        _matches(filters, Dashboard.name),
        in_visible_collection(filters.user, Dashboard.collection_id),
        _personal_filter(filters, Dashboard.collection_id),
        _in_collection(filters, Dashboard.collection_id),
        _edited_by("Dashboard", Dashboard.id, filters),
    )
    if filters.created_by is not None:
        statement = statement.where(Dashboard.creator_id.in_(filters.created_by))
    if filters.ids is not None:
        statement = statement.where(Dashboard.id.in_(filters.ids))
    return statement


def _collection_query(filters: Filters) -> Select[Any] | None:
    if _only_content_filters(filters) or filters.table_db_id is not None:
        return None
    statement = select(Collection).where(
        Collection.archived.is_(filters.archived),
        or_(Collection.type.is_(None), Collection.type != TRASH_TYPE),
        or_(Collection.namespace.is_(None), Collection.namespace != "snippets"),
        _matches(filters, Collection.name),
        ~others_personal_clause(filters.user),
        _personal_filter(filters, None, self_collection=Collection),
    )
    if filters.collection is not None:
        statement = statement.where(Collection.location.like(children_location(filters.collection) + "%"))
    if filters.ids is not None:
        statement = statement.where(Collection.id.in_(filters.ids))
    return statement


def _only_content_filters(filters: Filters) -> bool:
    """Filters only cards and dashboards have: creators, editors, chart types."""
    return any(f is not None for f in (filters.created_by, filters.last_edited_by, filters.display_type))


def _outside_collections(filters: Filters) -> bool:
    """Tables, databases and segments live in no collection, so collection filters leave them out."""
    return (
        filters.archived
        or _only_content_filters(filters)
        or filters.collection is not None
        or (filters.personal or "all").startswith("only")
    )


def _table_query(filters: Filters) -> Select[Any] | None:
    if _outside_collections(filters):
        return None
    statement = (
        select(Table, Database)
        .join(Database, Database.id == Table.db_id)
        .where(
            Table.active.is_(True),
            Table.visibility_type.is_(None),
            _matches(filters, Table.name, Table.display_name),
        )
    )
    if filters.table_db_id is not None:
        statement = statement.where(Table.db_id == filters.table_db_id)
    if filters.ids is not None:
        statement = statement.where(Table.id.in_(filters.ids))
    return statement


def _database_query(filters: Filters) -> Select[Any] | None:
    if _outside_collections(filters):
        return None
    statement = select(Database).where(Database.is_audit.is_(False), _matches(filters, Database.name))
    if filters.table_db_id is not None:
        statement = statement.where(Database.id == filters.table_db_id)
    if filters.ids is not None:
        statement = statement.where(Database.id.in_(filters.ids))
    return statement


def _segment_query(filters: Filters) -> Select[Any] | None:
    if _only_content_filters(filters) or filters.collection is not None:
        return None
    if (filters.personal or "all").startswith("only"):
        return None
    statement = (
        select(Segment, Table, Database)
        .join(Table, Table.id == Segment.table_id)
        .join(Database, Database.id == Table.db_id)
        .where(Segment.archived.is_(filters.archived), _matches(filters, Segment.name))
    )
    if filters.table_db_id is not None:
        statement = statement.where(Table.db_id == filters.table_db_id)
    if filters.ids is not None:
        statement = statement.where(Segment.id.in_(filters.ids))
    return statement


def _query(model: str, filters: Filters) -> Select[Any] | None:
    """The SQL finding `model`'s matches, or None when the model cannot match these filters."""
    if model in CARD_TYPES:
        return _card_query(model, filters)
    builders: dict[str, Callable[[Filters], Select[Any] | None]] = {
        "dashboard": _dashboard_query,
        "collection": _collection_query,
        "table": _table_query,
        "database": _database_query,
        "segment": _segment_query,
    }
    builder = builders.get(model)
    return None if builder is None else builder(filters)


# ---------------------------------------------------------------------------------------------------
# Result items


def _score(name: str | None, filters: Filters, text: str) -> float:
    """How well `name` matches: exactly, as a prefix, as a whole phrase, or word by word."""
    if not filters.words:
        return 0.0
    lowered = (name or "").lower()
    if lowered == text:
        return 1.0
    if lowered.startswith(text):
        return 0.8
    if text in lowered:
        return 0.6
    return 0.4


def _item(model: str, id_: int, name: str | None, **values: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": id_,
        "model": model,
        "name": name,
        "description": None,
        "archived": False,
        "collection": _collection_map(None),
        "collection_position": None,
        "dashboard": None,
        "dashboard_count": None,
        "database_id": None,
        "database_name": None,
        "display": None,
        "table_id": None,
        "table_name": None,
        "table_schema": None,
        "table_description": None,
        "model_id": None,
        "model_name": None,
        "model_index_id": None,
        "pk_ref": None,
        "bookmark": False,
        "moderated_status": None,
        "initial_sync_status": None,
        "can_write": None,
        "created_at": None,
        "creator_id": None,
        "creator_common_name": None,
        "updated_at": None,
        "last_edited_at": None,
        "last_editor_id": None,
        "last_editor_common_name": None,
        "context": None,
    }
    item.update(values)
    return item


def _collection_map(collection: Collection | None) -> dict[str, Any]:
    return {
        "id": None if collection is None else collection.id,
        "name": None if collection is None else collection.name,
        "authority_level": None if collection is None else collection.authority_level,
        "type": None if collection is None else collection.type,
        "effective_ancestors": [],
    }


class Lookups:
    """What result items need from other tables, each loaded once for all the results."""

    def __init__(self, db: Session, user: User) -> None:
        self.db = db
        self.is_admin = user.is_superuser
        self._users: dict[int, User] = {}
        self._collections: dict[int, Collection] = {}

    def users(self, ids: set[int]) -> None:
        missing = ids - set(self._users)
        if missing:
            self._users |= {u.id: u for u in self.db.scalars(select(User).where(User.id.in_(missing)))}

    def name_of(self, user_id: int | None) -> str | None:
        user = self._users.get(user_id) if user_id is not None else None
        return None if user is None else user.common_name

    def collections(self, ids: set[int]) -> None:
        missing = ids - set(self._collections)
        if missing:
            self._collections |= {
                c.id: c for c in self.db.scalars(select(Collection).where(Collection.id.in_(missing)))
            }

    def collection(self, collection_id: int | None) -> Collection | None:
        return None if collection_id is None else self._collections.get(collection_id)

    def last_edits(self, model: str, ids: list[int]) -> dict[int, tuple[int, Any]]:
        if not ids:
            return {}
        rows = self.db.execute(
            select(Revision.model_id, Revision.user_id, Revision.timestamp).where(
                Revision.model == model, Revision.model_id.in_(ids), Revision.most_recent.is_(True)
            )
        )
        return {model_id: (user_id, timestamp) for model_id, user_id, timestamp in rows}


def _edit_values(edits: dict[int, tuple[int, Any]], object_id: int, lookups: Lookups) -> dict[str, Any]:
    if object_id not in edits:
        return {}
    user_id, timestamp = edits[object_id]
    return {
        "last_edited_at": timestamp,
        "last_editor_id": user_id,
        "last_editor_common_name": lookups.name_of(user_id),
    }


def _card_items(db: Session, model: str, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    cards: list[Card] = [row[0] for row in rows]
    ids = [c.id for c in cards]
    edits = lookups.last_edits("Card", ids)
    lookups.users({c.creator_id for c in cards} | {user_id for user_id, _ in edits.values()})
    lookups.collections({c.collection_id for c in cards if c.collection_id is not None})
    if not cards:
        return []
    databases = dict(
        db.execute(
            select(Database.id, Database.name).where(Database.id.in_({c.database_id for c in cards}))
        ).all()
    )
    counts = dict(
        db.execute(
            select(DashboardCard.card_id, func.count(func.distinct(DashboardCard.dashboard_id)))
            .where(DashboardCard.card_id.in_(ids))
            .group_by(DashboardCard.card_id)
        ).all()
    )
    return [
        _item(
            model,
            card.id,
            card.name,
            description=card.description,
            archived=card.archived,
            collection=_collection_map(lookups.collection(card.collection_id)),
            collection_position=card.collection_position,
            dashboard_count=counts.get(card.id, 0),
            database_id=card.database_id,
            database_name=databases.get(card.database_id),
            display=card.display,
            table_id=card.table_id,
            can_write=True,
            created_at=card.created_at,
            creator_id=card.creator_id,
            creator_common_name=lookups.name_of(card.creator_id),
            updated_at=card.updated_at,
            **_edit_values(edits, card.id, lookups),
        )
        for card in cards
    ]


def _dashboard_items(db: Session, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    dashboards: list[Dashboard] = [row[0] for row in rows]
    edits = lookups.last_edits("Dashboard", [d.id for d in dashboards])
    lookups.users({d.creator_id for d in dashboards} | {user_id for user_id, _ in edits.values()})
    lookups.collections({d.collection_id for d in dashboards if d.collection_id is not None})
    return [
        _item(
            "dashboard",
            dashboard.id,
            dashboard.name,
            description=dashboard.description,
            archived=dashboard.archived,
            collection=_collection_map(lookups.collection(dashboard.collection_id)),
            collection_position=dashboard.collection_position,
            can_write=True,
            created_at=dashboard.created_at,
            creator_id=dashboard.creator_id,
            creator_common_name=lookups.name_of(dashboard.creator_id),
            updated_at=dashboard.updated_at,
            **_edit_values(edits, dashboard.id, lookups),
        )
        for dashboard in dashboards
    ]


def _collection_items(db: Session, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    return [
        _item(
            "collection",
            collection.id,
            collection.name,
            description=collection.description,
            archived=collection.archived,
            collection=_collection_map(collection),
            can_write=True,
            created_at=collection.created_at,
            updated_at=collection.created_at,
        )
        for (collection,) in rows
    ]


def _table_items(db: Session, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    return [
        _item(
            "table",
            table.id,
            table.name,
            description=table.description,
            database_id=table.db_id,
            database_name=database.name,
            table_id=table.id,
            table_name=table.name,
            table_schema=table.schema,
            table_description=table.description,
            initial_sync_status=table.initial_sync_status,
            can_write=lookups.is_admin,
            created_at=table.created_at,
            updated_at=table.updated_at,
        )
        for table, database in rows
    ]


def _database_items(db: Session, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    return [
        _item(
            "database",
            database.id,
            database.name,
            description=database.description,
            database_id=database.id,
            database_name=database.name,
            initial_sync_status=database.initial_sync_status,
            can_write=lookups.is_admin,
            created_at=database.created_at,
            updated_at=database.updated_at,
        )
        for (database,) in rows
    ]


def _segment_items(db: Session, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    segments = [row[0] for row in rows]
    edits = lookups.last_edits("Segment", [s.id for s in segments])
    lookups.users({s.creator_id for s in segments} | {user_id for user_id, _ in edits.values()})
    return [
        _item(
            "segment",
            segment.id,
            segment.name,
            description=segment.description,
            archived=segment.archived,
            database_id=table.db_id,
            database_name=database.name,
            table_id=table.id,
            table_name=table.display_name or table.name,
            table_schema=table.schema,
            table_description=table.description,
            can_write=lookups.is_admin,
            created_at=segment.created_at,
            creator_id=segment.creator_id,
            creator_common_name=lookups.name_of(segment.creator_id),
            updated_at=segment.updated_at,
            **_edit_values(edits, segment.id, lookups),
        )
        for segment, table, database in rows
    ]


def _items(db: Session, model: str, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    if model in CARD_TYPES:
        return _card_items(db, model, rows, lookups)
    serializers = {
        "dashboard": _dashboard_items,
        "collection": _collection_items,
        "table": _table_items,
        "database": _database_items,
        "segment": _segment_items,
    }
    return serializers[model](db, rows, lookups)


@router.get("")
def search(
    user: CurrentUser,
    db: DbSession,
    q: str | None = None,
    models: Annotated[list[SearchModel] | None, Query()] = None,
    archived: BooleanValue | None = False,
    table_db_id: PositiveInt | None = None,
    collection: PositiveInt | None = None,
    created_by: Annotated[list[PositiveInt] | None, Query()] = None,
    last_edited_by: Annotated[list[PositiveInt] | None, Query()] = None,
    verified: BooleanValue | None = None,
    display_type: Annotated[list[str] | None, Query()] = None,
    filter_items_in_personal_collection: PersonalFilter | None = None,
    ids: Annotated[list[PositiveInt] | None, Query()] = None,
    calculate_available_models: BooleanValue | None = None,
    context: str | None = None,
    limit: int | None = Query(None, ge=0),
    offset: int | None = Query(None, ge=0),
) -> dict[str, Any]:
    """Everything the user may see whose name matches `q`, best matches first."""
    text = (q or "").strip().lower()
    within = db.get(Collection, collection) if collection is not None else None
    filters = Filters(
        user=user,
        words=text.split(),
        archived=bool(archived),
        table_db_id=table_db_id,
        created_by=created_by,
        last_edited_by=last_edited_by,
        personal=filter_items_in_personal_collection,
        collection=within,
        display_type=display_type,
        ids=ids,
    )
    wanted = [m for m in MODEL_ORDER if not models or m in models]
    if collection is not None and within is None:
        wanted = []
    if verified:
        # Nothing is verified without Enterprise content verification.
        wanted = []
    lookups = Lookups(db, user)
    results: list[dict[str, Any]] = []
    for model in wanted:
        statement = _query(model, filters)
        if statement is not None:
            results += _items(db, model, db.execute(statement).all(), lookups)
    for item in results:
        score = _score(item["name"], filters, text)
        item["scores"] = [{"name": "text-match", "score": score, "weight": 1, "contribution": score}]
    results.sort(
        key=lambda item: (
            -item["scores"][0]["score"],
            MODEL_ORDER.index(item["model"]),
            (item["name"] or "").lower(),
            item["id"],
        )
    )
    if limit is not None or offset is not None:
        limit, offset = (50 if limit is None else limit), (offset or 0)
    page = results if limit is None else results[offset : offset + limit]
    body: dict[str, Any] = {
        "data": page,
        "total": len(results),
        "limit": limit,
        "offset": offset,
        "models": list(dict.fromkeys(models)) if models else None,
        "table_db_id": table_db_id,
        "engine": ENGINE,
    }
    if calculate_available_models:
        searchable = not verified and (collection is None or within is not None)
        body["available_models"] = _available_models(db, filters) if searchable else []
    return body


def _available_models(db: Session, filters: Filters) -> list[str]:
    """The models that would have results for this search, whatever `models` asked for."""
    available = []
    for model in MODEL_ORDER:
        statement = _query(model, filters)
        if statement is not None and db.execute(statement.limit(1)).first() is not None:
            available.append(model)
    return available
