"""`/api/search`: find cards, models, metrics, dashboards, collections, tables, databases, segments.

Matching. The search text is cut into words (runs of letters and digits, lower-cased); an item matches when
every word starts a word of its searchable text: the name (and display name), the description for cards,
dashboards, tables and databases, and — with `search_native_query=true` — the SQL of native cards. This is
the matching of Metabase's app-DB search engine (all words must match; the last one may be unfinished),
widened to prefixes of every word so that half-typed words anywhere still find things. It is not the
substring matching of Metabase's slower in-place engine: `ders` does not find `Orders`.

Speed. Cards, dashboards and collections — the content that grows to hundreds of thousands of rows — are
matched through the `search_token` index (`models/search_index.py`): each search word is a range scan on
`(model, token)`, so a search reads the matching rows only, never the whole table. Tables, databases and
segments are few; they are narrowed in SQL with `LIKE '%word%'` and checked word by word here. As in
Metabase, at most 1,000 rows of each model are read and at most 1,000 results are answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased, load_only

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import BooleanValue, NonBlankString, PageValue, PositiveInt, query_vector_of
from querybase.api.table import enum_type
from querybase.errors import BadRequest
from querybase.models.base import utcnow
from querybase.models.card import Card
from querybase.models.collection import (
    ROOT_NAME,
    TRASH_TYPE,
    Collection,
    can_read,
    children_location,
    effective_location,
    in_visible_collection,
    location_ids,
    personal_tree_clause,
    trash_collection,
)
from querybase.models.dashboard import Dashboard, DashboardCard
from querybase.models.database import Database, Table
from querybase.models.revision import Revision
from querybase.models.search_index import (
    DESCRIPTION,
    NAME,
    NATIVE_QUERY,
    SearchToken,
    matches,
    word_range,
    words,
)
from querybase.models.segment import Segment
from querybase.models.user import User
from querybase.permissions import checks
from querybase.permissions import collection as collection_permissions
from querybase.query_processor.parameters import InvalidParameter
from querybase.query_processor.parameters.dates import datetime_range

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
# Each model's table, and the models found through the search index.
ENTITIES: dict[str, Any] = {
    "card": Card,
    "dataset": Card,
    "metric": Card,
    "dashboard": Dashboard,
    "collection": Collection,
    "table": Table,
    "database": Database,
    "segment": Segment,
}
INDEXED = {"card", "dataset", "metric", "dashboard", "collection"}
# The models each optional filter applies to; asking for one leaves the others out (Metabase's
# `search-context->applicable-models`, less the models querybase does not have).
FILTER_MODELS = {
    "created_at": {"collection", "database", "table", "dashboard", "card", "dataset", "metric"},
    "created_by": {"card", "dataset", "metric", "dashboard"},
    "last_edited_at": {"dashboard", "card", "dataset", "metric"},
    "last_edited_by": {"dashboard", "card", "dataset", "metric"},
    "search_native_query": {"card", "dataset", "metric"},
    "verified": {"card", "dataset", "metric"},
    "display_type": {"card", "dataset", "metric"},
}
# What search items show of cards and dashboards (their queries and layouts are not read).
CARD_COLUMNS = (
    Card.type,
    Card.name,
    Card.description,
    Card.archived,
    Card.archived_directly,
    Card.collection_id,
    Card.collection_position,
    Card.dashboard_id,
    Card.database_id,
    Card.table_id,
    Card.display,
    Card.creator_id,
    Card.created_at,
    Card.updated_at,
)
DASHBOARD_COLUMNS = (
    Dashboard.name,
    Dashboard.description,
    Dashboard.archived,
    Dashboard.archived_directly,
    Dashboard.collection_id,
    Dashboard.collection_position,
    Dashboard.creator_id,
    Dashboard.created_at,
    Dashboard.updated_at,
)
# Metabase reads at most this many rows of a search from the app DB, and answers at most this many results.
DB_MAX_RESULTS = 1000
MAX_RESULTS = 1000
SearchModel = Annotated[Literal[SEARCH_MODELS], enum_type(*SEARCH_MODELS)]  # type: ignore[valid-type]
PERSONAL_FILTERS = ("all", "only", "only-mine", "exclude", "exclude-others")
PersonalFilter = Annotated[Literal[PERSONAL_FILTERS], enum_type(*PERSONAL_FILTERS)]  # type: ignore[valid-type]
SearchModels = query_vector_of(SearchModel)
PositiveInts = query_vector_of(PositiveInt)
NonBlankStrings = query_vector_of(NonBlankString)
LIKE_ESCAPE = "\\"
Range = tuple[dt.datetime | None, dt.datetime | None]


@dataclass
class Filters:
    """What the request asks for, beyond the model and the search text."""

    user: User
    words: list[str]
    archived: bool
    table_db_id: int | None
    created_by: list[int] | None
    last_edited_by: list[int] | None
    created_at: Range | None
    last_edited_at: Range | None
    native_query: bool
    personal: str | None
    collection: Collection | None
    display_type: list[str] | None
    ids: list[int] | None
    dashboard_questions: bool
    # The tables and databases the user may see (None: all, for admins).
    tables: set[int] | None = None
    databases: set[int] | None = None


def _date_range(value: str | None) -> Range | None:
    """The half-open range a `created_at` / `last_edited_at` date string covers (as a date parameter's)."""
    if value is None:
        return None
    try:
        return datetime_range(value, utcnow().replace(tzinfo=None))
    except InvalidParameter:
        raise BadRequest(f"Failed to parse datetime value: {value}") from None


def _in_range(column: Any, bounds: Range | None) -> ColumnElement[bool]:
    if bounds is None:
        return true()
    start, end = bounds
    return and_(
        true() if start is None else column >= start.replace(tzinfo=dt.UTC),
        true() if end is None else column < end.replace(tzinfo=dt.UTC),
    )


# ---------------------------------------------------------------------------------------------------
# Matching


def _indexed_hits(model: str, statement: Select[Any], filters: Filters, limit: int) -> Select[Any]:
    """`(id, name)` of up to `limit` items that `statement` selects and whose searchable text has every
    search word, by the search index. The longest word (likely the rarest) is read as a range of the index,
    joined to the items' filters, and stops at `limit` distinct items; each other word is a lookup of the
    item's own words. So a search reads about as many index rows as it answers, however common its words."""
    entity = ENTITIES[model]
    fields = _fields(model, filters)
    words_left = list(filters.words)
    driver = max(words_left, key=len)
    words_left.remove(driver)
    low, high = word_range(driver)
    ids = (
        select(SearchToken.model_id, entity.name)
        .distinct()
        .join(entity, entity.id == SearchToken.model_id)
        .where(
            SearchToken.model == model,
            SearchToken.token >= low,
            SearchToken.token < high,
            SearchToken.field.in_(fields),
        )
    )
    if statement.whereclause is not None:
        ids = ids.where(statement.whereclause)
    for word in words_left:
        other = aliased(SearchToken)
        low, high = word_range(word)
        ids = ids.where(
            exists().where(
                other.model == model,
                other.model_id == entity.id,
                other.token >= low,
                other.token < high,
                other.field.in_(fields),
            )
        )
    return ids.limit(limit)


def _like(column: Any, word: str) -> ColumnElement[bool]:
    escaped = word.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape=LIKE_ESCAPE)


def _contains_words(filters: Filters, *columns: Any) -> ColumnElement[bool]:
    """SQL that keeps a superset of the matches of unindexed models (each word somewhere in the text);
    `_hits` then applies the word rule."""
    return and_(true(), *(or_(*(_like(column, word) for column in columns)) for word in filters.words))


def _fields(model: str, filters: Filters) -> tuple[str, ...]:
    """The texts of an indexed model that are searched."""
    if model == "collection":
        return (NAME,)
    if model in CARD_TYPES and filters.native_query:
        return (NAME, DESCRIPTION, NATIVE_QUERY)
    return (NAME, DESCRIPTION)


# ---------------------------------------------------------------------------------------------------
# Filters


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


def _edited(model: str, id_column: Any, filters: Filters) -> ColumnElement[bool]:
    """The `last_edited_by` and `last_edited_at` filters, on the newest revision (as Metabase shows it)."""
    if filters.last_edited_by is None and filters.last_edited_at is None:
        return true()
    newest = select(Revision.model_id).where(
        Revision.model == model,
        Revision.most_recent.is_(True),
        _in_range(Revision.timestamp, filters.last_edited_at),
    )
    if filters.last_edited_by is not None:
        newest = newest.where(Revision.user_id.in_(filters.last_edited_by))
    return id_column.in_(newest)


def _card_query(model: str, filters: Filters) -> Select[Any]:
    statement = select(Card).where(
        Card.type == CARD_TYPES[model],
        Card.archived.is_(filters.archived),
        in_visible_collection(filters.user, Card.collection_id),
        _personal_filter(filters, Card.collection_id),
        _in_collection(filters, Card.collection_id),
        _edited("Card", Card.id, filters),
        _in_range(Card.created_at, filters.created_at),
    )
    # A dashboard question shows only when asked for, and only while it is on its dashboard.
    on_dashboard = exists().where(DashboardCard.card_id == Card.id)
    statement = statement.where(
        or_(Card.dashboard_id.is_(None), on_dashboard if filters.dashboard_questions else false())
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
    if filters.table_db_id is not None:
        return None
    statement = select(Dashboard).where(
        Dashboard.archived.is_(filters.archived),
        in_visible_collection(filters.user, Dashboard.collection_id),
        _personal_filter(filters, Dashboard.collection_id),
        _in_collection(filters, Dashboard.collection_id),
        _edited("Dashboard", Dashboard.id, filters),
        _in_range(Dashboard.created_at, filters.created_at),
    )
    if filters.created_by is not None:
        statement = statement.where(Dashboard.creator_id.in_(filters.created_by))
    if filters.ids is not None:
        statement = statement.where(Dashboard.id.in_(filters.ids))
    return statement


def _collection_query(filters: Filters) -> Select[Any] | None:
    if filters.table_db_id is not None:
        return None
    statement = select(Collection).where(
        Collection.archived.is_(filters.archived),
        or_(Collection.type.is_(None), Collection.type != TRASH_TYPE),
        or_(Collection.namespace.is_(None), Collection.namespace != "snippets"),
        collection_permissions.readable_clause(filters.user),
        _personal_filter(filters, None, self_collection=Collection),
        _in_range(Collection.created_at, filters.created_at),
    )
    if filters.collection is not None:
        statement = statement.where(Collection.location.like(children_location(filters.collection) + "%"))
    if filters.ids is not None:
        statement = statement.where(Collection.id.in_(filters.ids))
    return statement


def _outside_collections(filters: Filters) -> bool:
    """Tables, databases and segments live in no collection, so collection filters leave them out."""
    return (
        filters.archived or filters.collection is not None or (filters.personal or "all").startswith("only")
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
            _contains_words(filters, Table.name, Table.display_name, Table.description),
            _in_range(Table.created_at, filters.created_at),
        )
    )
    if filters.table_db_id is not None:
        statement = statement.where(Table.db_id == filters.table_db_id)
    if filters.ids is not None:
        statement = statement.where(Table.id.in_(filters.ids))
    if filters.tables is not None:
        statement = statement.where(Table.id.in_(filters.tables))
    return statement


def _database_query(filters: Filters) -> Select[Any] | None:
    if _outside_collections(filters):
        return None
    statement = select(Database).where(
        Database.is_audit.is_(False),
        _contains_words(filters, Database.name, Database.description),
        _in_range(Database.created_at, filters.created_at),
    )
    if filters.table_db_id is not None:
        statement = statement.where(Database.id == filters.table_db_id)
    if filters.ids is not None:
        statement = statement.where(Database.id.in_(filters.ids))
    if filters.databases is not None:
        statement = statement.where(Database.id.in_(filters.databases))
    return statement


def _segment_query(filters: Filters) -> Select[Any] | None:
    if filters.collection is not None or (filters.personal or "all").startswith("only"):
        return None
    statement = (
        select(Segment, Table, Database)
        .join(Table, Table.id == Segment.table_id)
        .join(Database, Database.id == Table.db_id)
        .where(Segment.archived.is_(filters.archived), _contains_words(filters, Segment.name))
    )
    if filters.table_db_id is not None:
        statement = statement.where(Table.db_id == filters.table_db_id)
    if filters.ids is not None:
        statement = statement.where(Segment.id.in_(filters.ids))
    if filters.tables is not None:
        statement = statement.where(Table.id.in_(filters.tables))
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


def _hits(db: Session, model: str, filters: Filters, limit: int = DB_MAX_RESULTS) -> list[tuple[int, str]]:
    """`(id, name)` of up to `limit` matches of `model` (enough to rank them): indexed models found through
    the index, the others narrowed in SQL and checked word by word."""
    statement = _query(model, filters)
    if statement is None:
        return []
    entity = ENTITIES[model]
    if not filters.words:
        named = statement.with_only_columns(entity.id, entity.name).limit(limit)
        return [(id_, name) for id_, name in db.execute(named)]
    if model in INDEXED:
        return [(id_, name) for id_, name in db.execute(_indexed_hits(model, statement, filters, limit))]
    kept = []
    for row in db.execute(statement):
        item = row[0]
        texts = [item.name, getattr(item, "display_name", None), getattr(item, "description", None)]
        if matches(filters.words, texts[:1] if model == "segment" else texts):
            kept.append((item.id, item.name))
            if len(kept) == limit:
                break
    return kept


def _rows(db: Session, model: str, filters: Filters, ids: list[int]) -> dict[int, Any]:
    """The full rows of the hits `ids` of `model` (of cards and dashboards, what items show)."""
    statement = _query(model, filters)
    assert statement is not None
    entity = ENTITIES[model]
    if entity is Card:
        statement = statement.options(load_only(*CARD_COLUMNS))
    elif entity is Dashboard:
        statement = statement.options(load_only(*DASHBOARD_COLUMNS))
    return {row[0].id: row for row in db.execute(statement.where(entity.id.in_(ids)))}


def applicable_models(
    requested: list[str] | None, filters: Filters, *, verified: bool, native_query: bool
) -> list[str]:
    """The models to search, in Metabase's order: those asked for, less those an optional filter excludes."""
    wanted = set(requested or SEARCH_MODELS)
    given = {
        "created_at": filters.created_at is not None,
        "created_by": filters.created_by is not None,
        "last_edited_at": filters.last_edited_at is not None,
        "last_edited_by": filters.last_edited_by is not None,
        "search_native_query": native_query,
        "verified": verified,
        "display_type": filters.display_type is not None,
    }
    for name, applies in given.items():
        if applies:
            wanted &= FILTER_MODELS[name]
    return [model for model in MODEL_ORDER if model in wanted]


# ---------------------------------------------------------------------------------------------------
# Result items


def _score(name: str | None, filters: Filters, text: str) -> float:
    """How well `name` matches: exactly, as a prefix, as a whole phrase, word by word, or not (a match
    elsewhere, such as the description)."""
    if not filters.words:
        return 0.0
    lowered = (name or "").lower()
    if lowered == text:
        return 1.0
    if lowered.startswith(text):
        return 0.8
    if text in lowered:
        return 0.6
    return 0.4 if matches(filters.words, [name]) else 0.2


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
        "effective_location": None,
        "context": None,
    }
    item.update(values)
    return item


def _collection_map(collection: Collection | None) -> dict[str, Any]:
    """`{id, name, authority_level, type}` of the collection an item is in (all null at the root)."""
    return {
        "id": None if collection is None else collection.id,
        "name": None if collection is None else collection.name,
        "authority_level": None if collection is None else collection.authority_level,
        "type": None if collection is None else collection.type,
    }


class Lookups:
    """What result items need from other tables, each loaded once for all the results."""

    def __init__(self, db: Session, user: User, model_ancestors: bool) -> None:
        self.db = db
        self.user = user
        self.is_admin = user.is_superuser
        self.model_ancestors = model_ancestors
        self._users: dict[int, User] = {}
        self._collections: dict[int, Collection] = {}
        self._trash: Collection | None = None

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

    def trash(self) -> Collection:
        if self._trash is None:
            self._trash = trash_collection(self.db)
        return self._trash

    def content_collection(self, item: Card | Dashboard, model: str) -> dict[str, Any]:
        """The `collection` of a card or dashboard: the Trash for what was archived by itself; for models
        with `model_ancestors`, the effective ancestors of their collection too."""
        if item.archived_directly:
            return _collection_map(self.trash())
        collection = self.collection(item.collection_id)
        data = _collection_map(collection)
        if model == "dataset" and self.model_ancestors:
            data["effective_ancestors"] = self.ancestors(collection)
        return data

    def ancestors(self, collection: Collection | None) -> list[dict[str, Any]]:
        """`{name, id, type}` of each readable ancestor of `collection` (not the root, nor itself)."""
        if collection is None:
            return []
        ids = location_ids(collection.location)
        self.collections(set(ids))
        found = [self._collections[i] for i in ids if i in self._collections]
        return [
            {"name": c.name, "id": c.id, "type": c.type} for c in found if can_read(self.db, self.user, c)
        ]

    def parent_of(self, collection: Collection) -> tuple[dict[str, Any], str]:
        """A collection result's `collection` — its effective parent (the root's has no `type`, so the
        collection's own shows) — and its effective location."""
        location = effective_location(self.db, self.user, collection)
        ids = location_ids(location)
        if not ids:
            return {
                "id": "root",
                "name": ROOT_NAME,
                "authority_level": None,
                "type": collection.type,
            }, location
        self.collections({ids[-1]})
        parent = self._collections.get(ids[-1])
        return (_collection_map(parent) if parent is not None else _collection_map(None)), location

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
    if not cards:
        return []
    ids = [c.id for c in cards]
    edits = lookups.last_edits("Card", ids)
    lookups.users({c.creator_id for c in cards} | {user_id for user_id, _ in edits.values()})
    lookups.collections({c.collection_id for c in cards if c.collection_id is not None})
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
    dashboards = {
        d.id: d
        for d in db.scalars(
            select(Dashboard).where(Dashboard.id.in_({c.dashboard_id for c in cards if c.dashboard_id}))
        )
    }
    return [
        _item(
            model,
            card.id,
            card.name,
            description=card.description,
            archived=card.archived,
            collection=lookups.content_collection(card, model),
            collection_position=card.collection_position,
            dashboard=(
                {"id": dashboard.id, "name": dashboard.name, "moderation_status": None}
                if (dashboard := dashboards.get(card.dashboard_id or 0)) is not None
                else None
            ),
            dashboard_count=counts.get(card.id, 0),
            database_id=card.database_id,
            database_name=databases.get(card.database_id),
            display=card.display,
            table_id=card.table_id,
            can_write=collection_permissions.can_write_content(db, lookups.user, card.collection_id),
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
            collection=lookups.content_collection(dashboard, "dashboard"),
            collection_position=dashboard.collection_position,
            can_write=collection_permissions.can_write_content(db, lookups.user, dashboard.collection_id),
            created_at=dashboard.created_at,
            creator_id=dashboard.creator_id,
            creator_common_name=lookups.name_of(dashboard.creator_id),
            updated_at=dashboard.updated_at,
            **_edit_values(edits, dashboard.id, lookups),
        )
        for dashboard in dashboards
    ]


def _collection_items(db: Session, rows: list[Any], lookups: Lookups) -> list[dict[str, Any]]:
    items = []
    for (collection,) in rows:
        parent, location = lookups.parent_of(collection)
        items.append(
            _item(
                "collection",
                collection.id,
                collection.name,
                description=collection.description,
                archived=collection.archived,
                collection=parent,
                effective_location=location,
                can_write=collection_permissions.can_write_collection(db, lookups.user, collection),
                created_at=collection.created_at,
                updated_at=collection.created_at,
            )
        )
    return items


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


def _page_items(
    db: Session, filters: Filters, page: list[tuple[float, str, tuple[int, str]]], lookups: Lookups
) -> list[dict[str, Any]]:
    """The items of a page of ranked hits, in order, each with its score; built model by model, so that
    what they need from other tables is loaded once per model."""
    by_model: dict[str, list[int]] = {}
    for _, model, (id_, _name) in page:
        by_model.setdefault(model, []).append(id_)
    items: dict[tuple[str, int], dict[str, Any]] = {}
    for model, ids in by_model.items():
        rows = _rows(db, model, filters, ids)
        built = _items(db, model, [rows[id_] for id_ in ids if id_ in rows], lookups)
        items |= {(model, item["id"]): item for item in built}
    answer = []
    for score, model, (id_, _name) in page:
        item = items.get((model, id_))
        if item is not None:
            item["scores"] = [{"name": "text-match", "score": score, "weight": 1, "contribution": score}]
            answer.append(item)
    return answer


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


@router.get("", responses=shapes.ok(shapes.SearchPage))
def search(
    user: CurrentUser,
    db: DbSession,
    q: str | None = None,
    models: Annotated[SearchModels | None, Query()] = None,
    archived: BooleanValue | None = False,
    table_db_id: PositiveInt | None = None,
    collection: PositiveInt | None = None,
    created_at: NonBlankString | None = None,
    created_by: Annotated[PositiveInts | None, Query()] = None,
    last_edited_at: NonBlankString | None = None,
    last_edited_by: Annotated[PositiveInts | None, Query()] = None,
    model_ancestors: BooleanValue | None = False,
    search_native_query: BooleanValue | None = None,
    verified: BooleanValue | None = None,
    display_type: Annotated[NonBlankStrings | None, Query()] = None,
    filter_items_in_personal_collection: PersonalFilter | None = None,
    ids: Annotated[PositiveInts | None, Query()] = None,
    calculate_available_models: BooleanValue | None = None,
    include_dashboard_questions: BooleanValue | None = False,
    context: str | None = None,
    limit: PageValue = None,
    offset: PageValue = None,
) -> dict[str, Any]:
    """Everything the user may see whose searchable text matches `q`, best matches first."""
    text = (q or "").strip().lower()
    within = db.get(Collection, collection) if collection is not None else None
    filters = Filters(
        user=user,
        words=words(text),
        archived=bool(archived),
        table_db_id=table_db_id,
        created_by=list(dict.fromkeys(created_by)) if created_by else None,
        last_edited_by=list(dict.fromkeys(last_edited_by)) if last_edited_by else None,
        created_at=_date_range(created_at),
        last_edited_at=_date_range(last_edited_at),
        native_query=bool(search_native_query),
        personal=filter_items_in_personal_collection,
        collection=within,
        display_type=list(dict.fromkeys(display_type)) if display_type else None,
        ids=list(dict.fromkeys(ids)) if ids else None,
        dashboard_questions=bool(include_dashboard_questions),
        tables=checks.readable_table_ids(db, user),
        databases=checks.readable_database_ids(db, user),
    )
    if filters.ids is not None and len(set(models or SEARCH_MODELS)) != 1:
        raise BadRequest("Filtering by ids work only when you ask for a single model")
    searchable = not verified and (collection is None or within is not None)
    # Text with no word in it (only punctuation) matches nothing.
    if text and not filters.words:
        searchable = False
    wanted = applicable_models(models, filters, verified=bool(verified), native_query=filters.native_query)
    # Rank the matching rows first, then build items for the page only.
    ranked: list[tuple[float, str, tuple[int, str]]] = []
    for model in wanted if searchable else []:
        ranked += [
            (_score(name, filters, text), model, (id_, name)) for id_, name in _hits(db, model, filters)
        ]
    ranked.sort(key=lambda hit: (-hit[0], MODEL_ORDER.index(hit[1]), (hit[2][1] or "").lower(), hit[2][0]))
    ranked = ranked[:MAX_RESULTS]
    if limit is not None or offset is not None:
        limit, offset = (50 if limit is None else limit), (offset or 0)
    page = ranked if limit is None else ranked[offset : offset + limit]
    body: dict[str, Any] = {
        "data": _page_items(db, filters, page, Lookups(db, user, bool(model_ancestors))),
        "total": len(ranked),
        "limit": limit,
        "offset": offset,
        "models": list(dict.fromkeys(models)) if models else None,
        "table_db_id": table_db_id,
        "engine": ENGINE,
    }
    if calculate_available_models:
        every = applicable_models(None, filters, verified=bool(verified), native_query=filters.native_query)
        body["available_models"] = [m for m in every if _hits(db, m, filters, limit=1)] if searchable else []
    return body
