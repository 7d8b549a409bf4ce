"""`/api/collection`: the root, nested, personal collections and the Trash, and their items."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession, SuperUser
from querybase.api.routing import MetabaseRoute, quick
from querybase.api.schema import (
    BooleanValue,
    Int,
    Map,
    NonBlankString,
    PageValue,
    PositiveInt,
    parse_integer,
    query_vector_of,
)
from querybase.api.table import enum_type
from querybase.errors import BadRequest, PaymentRequired, check_403, check_404, field_errors
from querybase.models.activity import record_view
from querybase.models.card import Card
from querybase.models.collection import (
    TRASH_TYPE,
    Collection,
    can_read,
    can_write,
    children_location,
    collection_detail,
    collection_json,
    effective_location,
    in_visible_collection,
    location_ids,
    personal_tree_clause,
    root_json,
    slugify,
    trash_collection,
)
from querybase.models.dashboard import Dashboard, DashboardCard
from querybase.models.revision import last_edits
from querybase.models.snippet import NativeQuerySnippet
from querybase.models.timeline import Timeline
from querybase.models.user import User
from querybase.permissions import collection as collection_permissions

router = APIRouter(route_class=MetabaseRoute, tags=["collection"])

TRASH_MESSAGE = "You cannot modify the Trash Collection."
MOVE_INTO_SELF = "You can't move a Collection into itself or into one of its descendants."
MOVE_PERSONAL = "You cannot move a Personal Collection."
ARCHIVE_PERSONAL = "You cannot archive a Personal Collection!"

ITEM_MODELS = (
    "dashboard",
    "dataset",
    "no_models",
    "timeline",
    "snippet",
    "collection",
    "document",
    "pulse",
    "metric",
    "card",
)
ItemModel = Annotated[Literal[ITEM_MODELS], enum_type(*ITEM_MODELS)]  # type: ignore[valid-type]
ItemModels = query_vector_of(ItemModel)
PinnedState = Annotated[
    Literal["is_not_pinned", "is_pinned", "all"], enum_type("is_not_pinned", "is_pinned", "all")
]
SortColumn = Annotated[
    Literal["model", "name", "last_edited_by", "last_edited_at"],
    enum_type("model", "name", "last_edited_by", "last_edited_at"),
]
SortDirection = Annotated[Literal["desc", "asc"], enum_type("desc", "asc")]
# The models a collection's items can have, in the order Metabase walks them; snippets live only in the
# "snippets" namespace, everything else only outside it.
CHILD_MODELS = ("collection", "dataset", "metric", "card", "dashboard", "pulse", "snippet", "timeline")
MODEL_RANKING = {
    "dashboard": 1,
    "pulse": 2,
    "dataset": 3,
    "metric": 4,
    "card": 5,
    "snippet": 6,
    "collection": 7,
    "timeline": 8,
}
CARD_MODEL = {"question": "card", "model": "dataset", "metric": "metric"}


class CreateCollectionBody(BaseModel):
    name: NonBlankString
    description: NonBlankString | None = None
    parent_id: PositiveInt | None = None
    namespace: NonBlankString | None = None
    authority_level: Annotated[Literal["official"], enum_type("official")] | None = None


class UpdateCollectionBody(BaseModel):
    name: NonBlankString | None = None
    description: NonBlankString | None = None
    archived: BooleanValue | None = False
    parent_id: PositiveInt | None = None
    authority_level: Annotated[Literal["official"], enum_type("official")] | None = None


# ---------------------------------------------------------------------------------------------------
# Reading collections


def _find(db: Session, raw_id: str) -> Collection:
    """A collection by numeric id or 21-character entity id; 404 when there is none."""
    if raw_id.isascii() and raw_id.isdigit():
        collection = db.get(Collection, parse_integer(raw_id))
    elif re.fullmatch(r"[A-Za-z0-9_\-]{21}", raw_id):
        collection = db.scalar(select(Collection).where(Collection.entity_id == raw_id))
    else:
        collection = None
    return check_404(collection)


def read_collection(db: Session, user: User, raw_id: str | int) -> Collection:
    collection = _find(db, str(raw_id))
    check_403(can_read(db, user, collection))
    return collection


def write_collection(db: Session, user: User, collection_id: int) -> Collection:
    collection = check_404(db.get(Collection, collection_id))
    check_403(can_write(db, user, collection))
    return collection


def _list_order(collections: Iterable[Collection]) -> list[Collection]:
    """Official first, then ordinary before the Trash and other special types, then by name."""
    return sorted(
        collections,
        key=lambda c: (
            c.authority_level != "official",
            0 if c.type is None else 1 if c.type == TRASH_TYPE else 2,
            c.name.lower(),
            c.id,
        ),
    )


def _select_collections(
    user: User,
    *,
    archived: bool | None,
    exclude_other_user_collections: bool,
    namespace: str | None,
    personal_only: bool = False,
) -> Select[tuple[Collection]]:
    trash = Collection.type == TRASH_TYPE
    not_trash = or_(Collection.type.is_(None), Collection.type != TRASH_TYPE)
    statement = select(Collection).where(collection_permissions.readable_clause(user))
    if archived is True:
        statement = statement.where(or_(trash, Collection.archived.is_(True)))
    elif archived is False:
        statement = statement.where(not_trash, Collection.archived.is_(False))
    if personal_only:
        statement = statement.where(Collection.personal_owner_id.is_not(None))
    if exclude_other_user_collections:
        statement = statement.where(~personal_tree_clause(Collection, lambda owner: owner != user.id))
    if namespace is None:
        statement = statement.where(Collection.namespace.is_(None))
    else:
        statement = statement.where(Collection.namespace == namespace)
    return statement


@router.get("", responses=shapes.ok(list[shapes.Collection]))
def list_collections(
    user: CurrentUser,
    db: DbSession,
    archived: BooleanValue | None = False,
    exclude_other_user_collections: Annotated[
        BooleanValue | None, Query(alias="exclude-other-user-collections")
    ] = False,
    namespace: NonBlankString | None = None,
    personal_only: Annotated[BooleanValue | None, Query(alias="personal-only")] = False,
) -> list[dict[str, Any]]:
    """Every collection the user may read (not the Trash unless `archived`), the root first."""
    statement = _select_collections(
        user,
        archived=bool(archived),
        exclude_other_user_collections=bool(exclude_other_user_collections),
        namespace=namespace,
        personal_only=bool(personal_only),
    )
    collections = [collection_json(db, user, c) for c in _list_order(db.scalars(statement))]
    if archived or personal_only or not collection_permissions.can_read_collection(db, user, None, namespace):
        return collections
    root = {
        "authority_level": None,
        "name": "Our analytics",
        "id": "root",
        "can_write": collection_permissions.can_write_collection(db, user, None, namespace),
        "is_personal": False,
        "can_delete": False,
    }
    if namespace is not None:
        root["namespace"] = namespace
    return [root, *collections]


def _card_types_by_collection(
    db: Session, collection_ids: Iterable[int] | None = None
) -> dict[int, set[str]]:
    """Which kinds of (unarchived, non-dashboard) cards each collection holds directly."""
    statement = (
        select(Card.collection_id, Card.type)
        .distinct()
        .where(Card.archived.is_(False), Card.dashboard_id.is_(None), Card.collection_id.is_not(None))
    )
    if collection_ids is not None:
        statement = statement.where(Card.collection_id.in_(list(collection_ids)))
    kinds: dict[int, set[str]] = defaultdict(set)
    for collection_id, card_type in db.execute(statement):
        kinds[collection_id].add(CARD_MODEL.get(card_type, "card"))
    return kinds


def _collections_with_dashboards(db: Session, collection_ids: Iterable[int] | None = None) -> set[int]:
    statement = (
        select(Dashboard.collection_id)
        .distinct()
        .where(Dashboard.archived.is_(False), Dashboard.collection_id.is_not(None))
    )
    if collection_ids is not None:
        statement = statement.where(Dashboard.collection_id.in_(list(collection_ids)))
    return set(db.scalars(statement))


def _here_and_below(
    db: Session, collections: list[Collection]
) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """For each of `collections` (a whole subtree): the kinds of items directly in it (`here`) and
    anywhere under it (`below`)."""
    ids = [c.id for c in collections]
    here: dict[int, set[str]] = defaultdict(set)
    for collection_id, kinds in _card_types_by_collection(db, ids).items():
        here[collection_id] |= kinds
    for collection_id in _collections_with_dashboards(db, ids):
        here[collection_id].add("dashboard")
    for collection in collections:
        parent = location_ids(collection.location)
        if parent:
            here[parent[-1]].add("collection")
    below: dict[int, set[str]] = defaultdict(set)
    for collection in collections:
        for ancestor in location_ids(collection.location):
            below[ancestor] |= here[collection.id]
    return here, below


@router.get("/tree", responses=shapes.ok(list[shapes.CollectionNode] | list[shapes.ShallowCollectionNode]))
def collection_tree(
    user: CurrentUser,
    db: DbSession,
    exclude_archived: Annotated[BooleanValue | None, Query(alias="exclude-archived")] = False,
    exclude_other_user_collections: Annotated[
        BooleanValue | None, Query(alias="exclude-other-user-collections")
    ] = False,
    namespace: NonBlankString | None = None,
    shallow: BooleanValue | None = False,
    collection_id: Annotated[PositiveInt | None, Query(alias="collection-id")] = None,
) -> list[dict[str, Any]]:
    """The readable collections nested under `children`, each with the kinds of items `here` and `below`.
    `shallow` gives one level (under `collection-id`, or the root) with `children` a boolean."""
    statement = _select_collections(
        user,
        archived=False if exclude_archived else None,
        exclude_other_user_collections=bool(exclude_other_user_collections),
        namespace=namespace,
    )
    collections = _list_order(db.scalars(statement))
    by_location: dict[str, list[Collection]] = defaultdict(list)
    for collection in collections:
        by_location[collection.location].append(collection)
    ids = {c.id for c in collections}

    if shallow:
        parent = db.get(Collection, collection_id) if collection_id is not None else None
        start = children_location(parent) if parent is not None else "/"
        return [
            {**collection_json(db, user, c), "children": bool(by_location.get(children_location(c)))}
            for c in by_location.get(start, [])
        ]

    here, below = _here_and_below(db, collections)

    def node(collection: Collection) -> dict[str, Any]:
        children = by_location.get(children_location(collection), [])
        return {
            **collection_json(db, user, collection),
            "here": sorted(here.get(collection.id, set())),
            "below": sorted(below.get(collection.id, set())),
            "children": [node(child) for child in children],
        }

    # A collection whose parent is hidden from the user shows at the top, as Metabase's effective tree does.
    tops = [c for c in collections if not (location_ids(c.location) and location_ids(c.location)[-1] in ids)]
    return [node(c) for c in tops]


@router.get("/root", responses=shapes.ok(shapes.Collection))
@quick
def get_root(user: CurrentUser, db: DbSession, namespace: NonBlankString | None = None) -> dict[str, Any]:
    """The root pseudo-collection: everything with no `collection_id`."""
    writable = collection_permissions.can_write_collection(db, user, None, namespace)
    return {**root_json(namespace), "can_write": writable}


@router.get("/trash", responses=shapes.ok(shapes.Collection))
def get_trash(user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The Trash, where archived items are listed."""
    return collection_detail(db, user, trash_collection(db))


# ---------------------------------------------------------------------------------------------------
# The collection permissions graph (rules in `permissions/collection.py`). Declared before `/{id}` so
# that `/graph` is not read as a collection id.


class CollectionGraphBody(BaseModel):
    groups: Map
    revision: Int | None = None
    namespace: NonBlankString | None = None


@router.get("/graph", responses=shapes.ok(shapes.CollectionGraph))
def get_graph(admin: SuperUser, db: DbSession, namespace: NonBlankString | None = None) -> dict[str, Any]:
    """Which groups may read or curate which collections (of `namespace`)."""
    return collection_permissions.json_graph(collection_permissions.graph(db, namespace))


@router.put(
    "/graph",
    responses={
        **shapes.ok(shapes.CollectionGraph | shapes.CollectionGraphRevision),
        409: {"description": "The graph changed since it was read."},
    },
)
def put_graph(
    body: CollectionGraphBody,
    admin: SuperUser,
    db: DbSession,
    force: BooleanValue | None = False,
    skip_graph: Annotated[BooleanValue | None, Query(alias="skip-graph")] = False,
) -> dict[str, Any]:
    """Apply (part of) a graph read earlier; refused (409) when based on an older revision, unless
    `force`. Answers the whole graph, or only the new revision with `skip-graph`."""
    result = collection_permissions.update_graph(
        db,
        admin,
        body.groups,
        body.revision,
        body.namespace,
        force=bool(force),
        skip_graph=bool(skip_graph),
    )
    return collection_permissions.json_graph(result)


# ---------------------------------------------------------------------------------------------------
# Items


_OPTIONAL_BLOCK = re.compile(r"\[\[.*?\]\]", re.S)
_TAG = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")


def fully_parameterized(dataset_query: Any) -> bool:
    """Whether a card's native query can run without parameter values: every tag used outside an
    optional `[[...]]` block is a field filter, snippet or card reference or has a default, and every
    required tag has a default."""
    native = (dataset_query or {}).get("native") if isinstance(dataset_query, dict) else None
    tags = (native or {}).get("template-tags") if isinstance(native, dict) else None
    if not tags:
        return True
    text = _OPTIONAL_BLOCK.sub("", native.get("query") or "")
    for name in _TAG.findall(text):
        tag = tags.get(name)
        if (
            tag is not None
            and tag.get("type") not in ("dimension", "snippet", "card")
            and tag.get("default") is None
        ):
            return False
    return all(not tag.get("required") or tag.get("default") is not None for tag in tags.values())


def _pinned(column: Any, pinned_state: str | None) -> list[Any]:
    if pinned_state == "is_pinned":
        return [column.is_not(None)]
    if pinned_state == "is_not_pinned":
        return [column.is_(None)]
    return []


def _card_items(
    db: Session,
    user: User,
    collection: Collection | None,
    kinds: set[str],
    *,
    archived: bool,
    pinned_state: str | None,
    show_dashboard_questions: bool,
) -> list[dict[str, Any]]:
    card_types = [t for t, model in CARD_MODEL.items() if model in kinds]
    if not card_types:
        return []
    statement = select(Card).where(Card.type.in_(card_types), Card.archived.is_(archived))
    if collection is not None and collection.type == TRASH_TYPE:
        statement = statement.where(
            Card.archived_directly.is_(True),
            in_visible_collection(user, Card.collection_id),
        )
    else:
        statement = statement.where(
            Card.collection_id.is_(None) if collection is None else Card.collection_id == collection.id,
            Card.archived_directly.is_(False),
        )
    if not show_dashboard_questions:
        statement = statement.where(Card.dashboard_id.is_(None))
    cards = db.scalars(statement.where(*_pinned(Card.collection_position, pinned_state))).all()
    ids = [c.id for c in cards]
    edits = last_edits(db, "Card", ids)
    dashboard_counts = (
        dict(
            db.execute(
                select(DashboardCard.card_id, func.count(func.distinct(DashboardCard.dashboard_id)))
                .where(DashboardCard.card_id.in_(ids))
                .group_by(DashboardCard.card_id)
            ).all()
        )
        if ids
        else {}
    )
    dashboards = {
        d.id: d
        for d in db.scalars(
            select(Dashboard).where(Dashboard.id.in_({c.dashboard_id for c in cards if c.dashboard_id}))
        )
    }
    items = []
    for card in cards:
        writable = _writable_in(db, user, card.collection_id)
        dashboard = dashboards.get(card.dashboard_id) if card.dashboard_id else None
        item: dict[str, Any] = {
            "id": card.id,
            "name": card.name,
            "description": card.description,
            "entity_id": card.entity_id,
            "display": card.display,
            "collection_preview": card.collection_preview,
            "collection_id": card.collection_id,
            "dashboard_id": card.dashboard_id,
            "model": CARD_MODEL.get(card.type, "card"),
            "collection_position": card.collection_position,
            "location": None,
            "moderated_status": None,
            "archived": card.archived,
            "last_used_at": card.last_used_at,
            "can_write": writable,
            "can_restore": bool(card.archived_directly and writable),
            "can_delete": bool(card.archived and writable),
            "dashboard_count": dashboard_counts.get(card.id, 0),
            "dashboard": None
            if dashboard is None
            else {"id": dashboard.id, "name": dashboard.name, "moderation_status": None},
            "fully_parameterized": fully_parameterized(card.dataset_query),
        }
        if card.type != "metric":
            item["database_id"] = card.database_id
        if card.id in edits:
            item["last-edit-info"] = edits[card.id]
        items.append(item)
    return items


def _writable_in(db: Session, user: User, collection_id: int | None) -> bool:
    return collection_permissions.can_write_content(db, user, collection_id)


def _dashboard_items(
    db: Session, user: User, collection: Collection | None, *, archived: bool, pinned_state: str | None
) -> list[dict[str, Any]]:
    statement = select(Dashboard).where(Dashboard.archived.is_(archived))
    if collection is not None and collection.type == TRASH_TYPE:
        statement = statement.where(
            Dashboard.archived_directly.is_(True),
            in_visible_collection(user, Dashboard.collection_id),
        )
    else:
        statement = statement.where(
            Dashboard.collection_id.is_(None)
            if collection is None
            else Dashboard.collection_id == collection.id,
            Dashboard.archived_directly.is_not(True),
        )
    dashboards = db.scalars(statement.where(*_pinned(Dashboard.collection_position, pinned_state))).all()
    ids = [d.id for d in dashboards]
    edits = last_edits(db, "Dashboard", ids)
    with_questions = (
        set(
            db.scalars(
                select(Card.dashboard_id)
                .distinct()
                .join(
                    DashboardCard,
                    (DashboardCard.card_id == Card.id) & (DashboardCard.dashboard_id == Card.dashboard_id),
                )
                .where(Card.archived.is_(False), Card.dashboard_id.in_(ids))
            )
        )
        if ids
        else set()
    )
    items = []
    for dashboard in dashboards:
        writable = _writable_in(db, user, dashboard.collection_id)
        item: dict[str, Any] = {
            "id": dashboard.id,
            "name": dashboard.name,
            "description": dashboard.description,
            "entity_id": dashboard.entity_id,
            "collection_id": dashboard.collection_id,
            "dashboard_id": None,
            "model": "dashboard",
            "collection_position": dashboard.collection_position,
            "location": children_location(collection) if collection is not None else "/",
            "moderated_status": None,
            "database_id": None,
            "archived": dashboard.archived,
            "last_used_at": dashboard.last_viewed_at,
            "can_write": writable,
            "can_restore": bool(dashboard.archived_directly and writable),
            "can_delete": bool(dashboard.archived and writable),
        }
        if dashboard.id in with_questions:
            item["here"] = ["card"]
        if dashboard.id in edits:
            item["last-edit-info"] = edits[dashboard.id]
        items.append(item)
    return items


def _collection_items(
    db: Session,
    user: User,
    collection: Collection | None,
    *,
    archived: bool,
    pinned_state: str | None,
    namespace: str | None,
) -> list[dict[str, Any]]:
    if pinned_state == "is_pinned":
        return []
    trash = Collection.type == TRASH_TYPE
    not_trash = or_(Collection.type.is_(None), Collection.type != TRASH_TYPE)
    statement = select(Collection).where(
        Collection.personal_owner_id.is_(None), collection_permissions.readable_clause(user)
    )
    if collection is not None and collection.type == TRASH_TYPE:
        statement = statement.where(Collection.archived_directly.is_(True))
    else:
        statement = statement.where(Collection.location == children_location(collection))
    if archived:
        statement = statement.where(or_(Collection.archived.is_(True), trash))
    else:
        statement = statement.where(Collection.archived.is_(False), not_trash)
    if namespace is None:
        statement = statement.where(or_(Collection.namespace.is_(None), Collection.namespace != "snippets"))
    else:
        statement = statement.where(Collection.namespace == namespace)
    children = db.scalars(statement).all()
    if not children:
        return []
    subtree = list(children) + list(
        db.scalars(
            select(Collection).where(
                or_(*(Collection.location.like(children_location(c) + "%") for c in children))
            )
        )
    )
    here, below = _here_and_below(db, subtree)
    items = []
    for child in children:
        data = collection_json(db, user, child)
        item: dict[str, Any] = {
            "id": child.id,
            "name": child.name,
            "description": child.description,
            "entity_id": child.entity_id,
            "collection_id": child.id,
            "dashboard_id": None,
            "model": "collection",
            "authority_level": child.authority_level,
            "location": child.location,
            "type": child.type,
            "database_id": None,
            "archived": child.archived,
            "last_used_at": None,
            "can_write": data["can_write"],
            "effective_location": effective_location(db, user, child),
            "can_restore": data["can_restore"],
            "can_delete": data["can_delete"],
            "here": sorted(here.get(child.id, set())),
            "below": sorted(below.get(child.id, set())),
        }
        items.append(item)
    return items


def _snippet_items(db: Session, *, archived: bool) -> list[dict[str, Any]]:
    snippets = db.scalars(select(NativeQuerySnippet).where(NativeQuerySnippet.archived.is_(archived)))
    return [
        {
            "id": s.id,
            "name": s.name,
            "entity_id": s.entity_id,
            "model": "snippet",
            "collection_id": None,
            "dashboard_id": None,
            "archived": s.archived,
            "location": None,
            "database_id": None,
            "last_used_at": None,
        }
        for s in snippets
    ]


def _timeline_items(
    db: Session, collection: Collection | None, *, archived: bool, pinned_state: str | None
) -> list[dict[str, Any]]:
    if pinned_state == "is_pinned":
        return []
    timelines = db.scalars(
        select(Timeline).where(
            Timeline.collection_id.is_(None)
            if collection is None
            else Timeline.collection_id == collection.id,
            Timeline.archived.is_(archived),
        )
    )
    return [
        {
            "id": t.id,
            "collection_id": t.collection_id,
            "name": t.name,
            "model": "timeline",
            "entity_id": t.entity_id,
            "icon": t.icon,
            "dashboard_id": None,
            "archived": t.archived,
            "location": None,
            "database_id": None,
            "last_used_at": None,
        }
        for t in timelines
    ]


def _sort_key(sort_column: str, descending: bool, official_first: bool) -> Any:
    """Metabase's order: official collections first (when asked), ordinary collections before the Trash,
    then the chosen column (missing values last), then name and id so paging is stable."""

    def key(item: dict[str, Any]) -> tuple[Any, ...]:
        edit = item.get("last-edit-info")
        special = 1 if item["model"] == "collection" and item.get("type") is not None else 0
        prefix: tuple[Any, ...] = (
            (item.get("authority_level") != "official") if official_first else 0,
            special,
        )
        name = item["name"].lower()
        if sort_column == "last_edited_at":
            value = edit["timestamp"].timestamp() if edit else None
            main: tuple[Any, ...] = (value is None, 0 if value is None else (-value if descending else value))
        elif sort_column == "last_edited_by":
            last = (edit or {}).get("last_name")
            first = (edit or {}).get("first_name")
            main = (
                last is None,
                _directed(last or "", descending),
                first is None,
                _directed(first or "", descending),
            )
        elif sort_column == "model":
            rank = MODEL_RANKING.get(item["model"], 100)
            main = (-rank if descending else rank,)
        else:
            main = (_directed(name, descending),)
        return (*prefix, *main, name, item["id"])

    return key


class _Reversed:
    """A string that sorts backwards, to sort one key descending among ascending ones."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value


def _directed(value: str, descending: bool) -> Any:
    return _Reversed(value) if descending else value


def collection_items(
    db: Session,
    user: User,
    collection: Collection | None,
    *,
    models: list[str] | None,
    archived: bool,
    pinned_state: str | None,
    sort_column: str | None,
    sort_direction: str | None,
    official_collections_first: bool,
    namespace: str | None,
    show_dashboard_questions: bool,
    limit: int | None,
    offset: int | None,
) -> dict[str, Any]:
    """The items of `collection` (None: the root) as Metabase's `{data, total, models, limit, offset}`."""
    wanted = set(models or [])
    in_snippets = namespace == "snippets"
    kinds = sorted(
        model
        for model in CHILD_MODELS
        if (not wanted or model in wanted) and (model == "collection" or (model == "snippet") == in_snippets)
    )
    if collection is None and not collection_permissions.can_read_collection(db, user, None, namespace):
        # Without read access to the root, only the collections under it are listed (Metabase's rule).
        kinds = [k for k in kinds if k == "collection"]
    if limit is not None or offset is not None:
        limit, offset = (50 if limit is None else limit), (offset or 0)
    if not kinds:
        return {"total": 0, "data": [], "limit": limit, "offset": offset, "models": []}
    items: list[dict[str, Any]] = []
    kind_set = set(kinds)
    items += _card_items(
        db,
        user,
        collection,
        kind_set,
        archived=archived,
        pinned_state=pinned_state,
        show_dashboard_questions=show_dashboard_questions,
    )
    if "dashboard" in kind_set:
        items += _dashboard_items(db, user, collection, archived=archived, pinned_state=pinned_state)
    if "collection" in kind_set:
        items += _collection_items(
            db,
            user,
            collection,
            archived=archived,
            pinned_state=pinned_state,
            namespace=namespace,
        )
    if "snippet" in kind_set:
        items += _snippet_items(db, archived=archived)
    if "timeline" in kind_set:
        items += _timeline_items(db, collection, archived=archived, pinned_state=pinned_state)
    items.sort(key=_sort_key(sort_column or "name", sort_direction == "desc", official_collections_first))
    listed_in = None if collection is None else collection.id
    for item in items:
        item["collection_id"] = listed_in
    total = len(items)
    page = items if limit is None else items[offset : offset + limit]
    body: dict[str, Any] = {"total": total, "data": page, "models": kinds}
    if not in_snippets:
        body |= {"limit": limit, "offset": offset}
    return body


@router.get("/root/items", responses=shapes.ok(shapes.ItemsPage))
@quick
def root_items(
    user: CurrentUser,
    db: DbSession,
    models: Annotated[ItemModels | None, Query()] = None,
    archived: BooleanValue | None = False,
    namespace: NonBlankString | None = None,
    pinned_state: PinnedState | None = None,
    sort_column: SortColumn | None = None,
    sort_direction: SortDirection | None = None,
    official_collections_first: BooleanValue | None = None,
    show_dashboard_questions: BooleanValue | None = None,
    limit: PageValue = None,
    offset: PageValue = None,
) -> dict[str, Any]:
    """What sits at the root: items with no collection and top-level collections (not personal ones)."""
    return collection_items(
        db,
        user,
        None,
        models=models,
        archived=bool(archived),
        pinned_state=pinned_state,
        sort_column=sort_column,
        sort_direction=sort_direction,
        official_collections_first=official_collections_first is not False,
        namespace=namespace,
        show_dashboard_questions=bool(show_dashboard_questions),
        limit=limit,
        offset=offset,
    )


@router.get("/{collection_id}/items", responses=shapes.ok(shapes.ItemsPage))
@quick
def items(
    collection_id: str,
    user: CurrentUser,
    db: DbSession,
    models: Annotated[ItemModels | None, Query()] = None,
    archived: BooleanValue | None = False,
    pinned_state: PinnedState | None = None,
    sort_column: SortColumn | None = None,
    sort_direction: SortDirection | None = None,
    official_collections_first: BooleanValue | None = None,
    show_dashboard_questions: BooleanValue | None = False,
    limit: PageValue = None,
    offset: PageValue = None,
) -> dict[str, Any]:
    """A collection's items; archived ones instead when asked, when the collection is archived, or in the
    Trash (which lists everything archived by itself)."""
    collection = read_collection(db, user, collection_id)
    is_trash = collection.type == TRASH_TYPE
    return collection_items(
        db,
        user,
        collection,
        models=models,
        archived=bool(archived) or collection.archived or is_trash,
        pinned_state=pinned_state,
        sort_column=sort_column,
        sort_direction=sort_direction,
        official_collections_first=bool(official_collections_first)
        if official_collections_first is not None or is_trash
        else True,
        namespace=collection.namespace,
        show_dashboard_questions=bool(show_dashboard_questions),
        limit=limit,
        offset=offset,
    )


@router.get("/{collection_id}", responses=shapes.ok(shapes.Collection))
@quick
def get_collection(collection_id: str, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """One collection, by id or entity id, with its parent and effective location and ancestors."""
    return collection_detail(db, user, read_collection(db, user, collection_id))


# ---------------------------------------------------------------------------------------------------
# Writing collections


def _check_parent_writable(db: Session, user: User, parent_id: int | None) -> Collection | None:
    """The parent a collection is created in or moved to: it must exist, not be the Trash, and be
    writable by the user (the root too)."""
    if parent_id is None:
        check_403(collection_permissions.can_write_collection(db, user, None))
        return None
    parent = check_404(db.get(Collection, parent_id))
    if parent.type == TRASH_TYPE:
        raise BadRequest(TRASH_MESSAGE)
    check_403(can_write(db, user, parent))
    return parent


@router.post(
    "",
    responses={
        **shapes.ok(shapes.Collection),
        402: {"description": "Official collections are a paid feature."},
    },
)
def create_collection(body: CreateCollectionBody, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """A new collection at the root or under `parent_id`."""
    parent = _check_parent_writable(db, user, body.parent_id)
    if body.authority_level is not None:
        raise _official_collections_error()
    collection = Collection(
        name=body.name,
        slug=slugify(body.name),
        description=body.description,
        namespace=body.namespace,
        location=children_location(parent),
    )
    db.add(collection)
    db.flush()
    collection_permissions.copy_parent_permissions(db, collection)
    # Metabase's collection-touch event: creating or changing a collection makes it a recent view.
    record_view(db, user.id, "collection", collection.id, "view")
    return collection_detail(db, user, collection)


def _official_collections_error() -> PaymentRequired:
    """Official collections are an Enterprise feature."""
    return PaymentRequired(
        "Official Collections is a paid feature not currently available to your instance. "
        "Please upgrade to use it. Learn more at metabase.com/upgrade/"
    )


def _descendants(db: Session, collection: Collection) -> list[Collection]:
    return list(
        db.scalars(select(Collection).where(Collection.location.like(children_location(collection) + "%")))
    )


def move_collection(db: Session, collection: Collection, new_location: str) -> None:
    """Move `collection` and, with it, every collection under it."""
    old_prefix = children_location(collection)
    descendants = _descendants(db, collection)
    collection.location = new_location
    new_prefix = children_location(collection)
    for descendant in descendants:
        descendant.location = new_prefix + descendant.location[len(old_prefix) :]


def archive_collection(db: Session, collection: Collection) -> None:
    """Archive `collection` by itself and everything under it along with it, under one operation id, so
    unarchiving brings back exactly what this archived."""
    operation = str(uuid.uuid4())
    affected = [collection.id]
    for descendant in _descendants(db, collection):
        if not descendant.archived:
            descendant.archived, descendant.archived_directly = True, False
            descendant.archive_operation_id = operation
            affected.append(descendant.id)
    collection.archived, collection.archived_directly = True, True
    collection.archive_operation_id = operation
    for model in (Card, Dashboard):
        db.execute(
            update(model)
            .where(model.collection_id.in_(affected), model.archived.is_(False))
            .values(archived=True, archived_directly=False)
        )


def unarchive_collection(db: Session, collection: Collection) -> None:
    """Undo the archive operation that archived `collection`."""
    operation = collection.archive_operation_id
    affected = [collection.id]
    if operation is not None:
        affected = list(db.scalars(select(Collection.id).where(Collection.archive_operation_id == operation)))
        db.execute(
            update(Collection)
            .where(Collection.archive_operation_id == operation)
            .values(archived=False, archived_directly=None, archive_operation_id=None)
        )
    collection.archived, collection.archived_directly, collection.archive_operation_id = False, None, None
    for model in (Card, Dashboard):
        db.execute(
            update(model)
            .where(
                model.collection_id.in_(affected),
                model.archived.is_(True),
                model.archived_directly.is_(False),
            )
            .values(archived=False)
        )


@router.put(
    "/{collection_id}",
    responses={
        **shapes.ok(shapes.Collection),
        402: {"description": "Official collections are a paid feature."},
    },
)
def update_collection(
    collection_id: int, body: UpdateCollectionBody, user: CurrentUser, db: DbSession
) -> dict[str, Any]:
    """Rename, describe, move (`parent_id`) or archive/unarchive (`archived`) a collection."""
    collection = write_collection(db, user, collection_id)
    given = body.model_fields_set
    if "authority_level" in given and body.authority_level != collection.authority_level:
        raise _official_collections_error()
    is_personal = collection.personal_owner_id is not None
    archiving = "archived" in given and body.archived is not None and body.archived != collection.archived
    current_parent = location_ids(collection.location)[-1] if collection.location != "/" else None
    moving = "parent_id" in given and body.parent_id != current_parent
    if is_personal and archiving:
        raise field_errors({"archived": ARCHIVE_PERSONAL})
    if is_personal and moving:
        raise field_errors({"location": MOVE_PERSONAL})
    if "name" in given and body.name is not None:
        collection.name, collection.slug = body.name, slugify(body.name)
    if "description" in given:
        collection.description = body.description
    if archiving:
        if body.archived:
            archive_collection(db, collection)
        else:
            if moving:
                _move(db, user, collection, body.parent_id)
            unarchive_collection(db, collection)
    elif moving:
        _move(db, user, collection, body.parent_id)
    db.flush()
    db.refresh(collection)
    record_view(db, user.id, "collection", collection.id, "view")
    return collection_detail(db, user, collection)


def _move(db: Session, user: User, collection: Collection, new_parent_id: int | None) -> None:
    parent = _check_parent_writable(db, user, new_parent_id)
    if parent is not None and collection.id in (parent.id, *location_ids(parent.location)):
        raise BadRequest(MOVE_INTO_SELF)
    old_location = collection.location
    move_collection(db, collection, children_location(parent))
    collection_permissions.after_move(db, collection, old_location)


@router.delete("/{collection_id}", status_code=204)
def delete_collection(collection_id: int, admin: SuperUser, db: DbSession) -> Response:
    """Delete an archived collection for good, with everything in and under it."""
    collection = check_404(db.get(Collection, collection_id))
    if collection.type == TRASH_TYPE:
        raise BadRequest(TRASH_MESSAGE)
    if not collection.archived:
        raise BadRequest("Collection must be trashed before deletion.")
    ids = [collection.id, *(c.id for c in _descendants(db, collection))]
    dashboards = select(Dashboard.id).where(Dashboard.collection_id.in_(ids))
    cards = select(Card.id).where(Card.collection_id.in_(ids))
    db.execute(
        delete(DashboardCard).where(
            or_(DashboardCard.dashboard_id.in_(dashboards), DashboardCard.card_id.in_(cards))
        )
    )
    db.execute(update(Card).where(Card.dashboard_id.in_(dashboards)).values(dashboard_id=None))
    for model in (Card, Dashboard):
        db.execute(delete(model).where(model.collection_id.in_(ids)))
    db.execute(delete(Collection).where(Collection.id.in_(ids)))
    return Response(status_code=204)
