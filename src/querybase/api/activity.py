"""`/api/activity`: recent views and popular items.

Views are rows of `recent_views` (`models/activity.py`), written where Metabase publishes its view events:
reading a card or a dashboard (after the GET, in a transaction of its own), running a question, creating or
changing a collection; `POST /api/activity/recents` adds data-picker selections. Each is shown as Metabase's
recent item: the object's name and description, where it lives, and whether the user may change it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import PositiveInt, query_vector_of
from querybase.api.table import enum_type
from querybase.errors import check_403, check_404
from querybase.models.activity import CARD_TYPE_MODELS, RecentView, record_view
from querybase.models.base import utcnow
from querybase.models.card import Card, collection_map
from querybase.models.collection import (
    Collection,
    can_read,
    can_write,
    effective_location,
    location_ids,
)
from querybase.models.dashboard import Dashboard, dashboard_row
from querybase.models.database import Database, Table
from querybase.models.user import User
from querybase.permissions import checks
from querybase.permissions import collection as collection_permissions

router = APIRouter(route_class=MetabaseRoute, tags=["activity"])

RECENT_MODELS = ("card", "dataset", "metric", "dashboard", "table", "collection", "document")
RecentModel = Annotated[Literal[RECENT_MODELS], enum_type(*RECENT_MODELS)]  # type: ignore[valid-type]
Context = Annotated[Literal["selections", "views"], enum_type("selections", "views")]
Contexts = query_vector_of(Context)
Selection = Annotated[Literal["selection"], enum_type("selection")]
# How each query context is stored.
STORED_CONTEXT = {"views": "view", "selections": "selection"}
ROOT_PARENT = {"id": "root", "name": "Our analytics", "authority_level": None}
POPULAR_PRECEDENCE = {"dashboard": 0, "card": 1, "dataset": 2, "metric": 3, "table": 4, "collection": 5}


class RecentBody(BaseModel):
    model: RecentModel
    model_id: PositiveInt
    context: Selection


def parent_collection(db: Session, collection_id: int | None) -> dict[str, Any] | None:
    """`{id, name, authority_level}` of the collection an item is in (the root when none); None when that
    collection is archived or gone, which hides the item as Metabase does."""
    if collection_id is None:
        return ROOT_PARENT
    collection = db.get(Collection, collection_id)
    if collection is None or collection.archived:
        return None
    return {"id": collection.id, "name": collection.name, "authority_level": collection.authority_level}


def _in_readable_collection(
    db: Session, user: User, collection_id: int | None, *, write: bool = False
) -> bool:
    """Whether `user` may see (or change) what is kept in `collection_id` (None: the root)."""
    allowed = collection_permissions.can_write_content if write else collection_permissions.can_read_content
    return allowed(db, user, collection_id)


def card_item(
    db: Session, user: User, card: Card, base: dict[str, Any], metadata: bool
) -> dict[str, Any] | None:
    if card.archived or not _in_readable_collection(db, user, card.collection_id):
        return None
    parent = parent_collection(db, card.collection_id)
    if parent is None:
        return None
    model = CARD_TYPE_MODELS.get(card.type, "card")
    item: dict[str, Any] = {
        **base,
        "name": card.name,
        "description": card.description,
        "model": model,
        "can_write": _in_readable_collection(db, user, card.collection_id, write=True),
        "moderated_status": None,
        "parent_collection": parent,
    }
    if model == "card":
        dashboard = db.get(Dashboard, card.dashboard_id) if card.dashboard_id is not None else None
        item |= {
            "dashboard": {"name": dashboard.name, "id": dashboard.id} if dashboard is not None else None,
            "database_id": card.database_id,
            "display": card.display,
            "dataset_query": card.dataset_query,
            "entity_id": card.entity_id,
            "visualization_settings": card.visualization_settings,
        }
    elif model == "dataset":
        item["database_id"] = card.database_id
    else:
        item["display"] = card.display
    if metadata:
        item["result_metadata"] = card.result_metadata
    return item


def dashboard_item(
    db: Session, user: User, dashboard: Dashboard, base: dict[str, Any]
) -> dict[str, Any] | None:
    if dashboard.archived or not _in_readable_collection(db, user, dashboard.collection_id):
        return None
    parent = parent_collection(db, dashboard.collection_id)
    if parent is None:
        return None
    return {
        **base,
        "name": dashboard.name,
        "description": dashboard.description,
        "model": "dashboard",
        "can_write": _in_readable_collection(db, user, dashboard.collection_id, write=True),
        "moderated_status": None,
        "parent_collection": parent,
    }


def collection_item(
    db: Session, user: User, collection: Collection, base: dict[str, Any]
) -> dict[str, Any] | None:
    if collection.archived or collection.namespace is not None or not can_read(db, user, collection):
        return None
    location = effective_location(db, user, collection)
    ids = location_ids(location)
    parent = db.get(Collection, ids[-1]) if ids else None
    return {
        **base,
        "name": collection.name,
        "description": collection.description,
        "model": "collection",
        "can_write": can_write(db, user, collection),
        "authority_level": collection.authority_level,
        "collection_type": collection.type,
        "effective_location": location,
        "parent_collection": (
            {"id": parent.id, "name": parent.name, "authority_level": parent.authority_level}
            if parent is not None
            else ROOT_PARENT
        ),
    }


def table_item(db: Session, user: User, table: Table, base: dict[str, Any]) -> dict[str, Any] | None:
    database = db.get(Database, table.db_id)
    if database is None or not table.active or table.visibility_type == "hidden":
        return None
    if not checks.can_read_table(db, user, table):
        return None
    return {
        **base,
        "name": table.name,
        "description": table.description,
        "model": "table",
        "display_name": table.display_name,
        "can_write": user.is_superuser,
        "table_schema": table.schema,
        "database": {
            "id": database.id,
            "name": database.name,
            "initial_sync_status": database.initial_sync_status,
        },
    }


def recent_item(
    db: Session, user: User, model: str, model_id: int, timestamp: dt.datetime, metadata: bool = False
) -> dict[str, Any] | None:
    """The recent item for a stored view, or None when its object is gone, archived or hidden."""
    base = {"id": model_id, "timestamp": timestamp}
    if model == "card":
        card = db.get(Card, model_id)
        return card_item(db, user, card, base, metadata) if card is not None else None
    if model == "dashboard":
        dashboard = db.get(Dashboard, model_id)
        return dashboard_item(db, user, dashboard, base) if dashboard is not None else None
    if model == "collection":
        collection = db.get(Collection, model_id)
        if collection is None or collection.type == "trash":
            return None
        return collection_item(db, user, collection, base)
    if model == "table":
        table = db.get(Table, model_id)
        return table_item(db, user, table, base) if table is not None else None
    return None


def recents(db: Session, user: User, contexts: list[str], metadata: bool = False) -> list[dict[str, Any]]:
    """The user's recent items in `contexts`, newest first, each object once."""
    views = db.scalars(
        select(RecentView)
        .where(RecentView.user_id == user.id, RecentView.context.in_([STORED_CONTEXT[c] for c in contexts]))
        .order_by(RecentView.timestamp.desc(), RecentView.id.desc())
    )
    items: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for view in views:
        item = recent_item(db, user, view.model, view.model_id, view.timestamp, metadata)
        if item is not None and (item["id"], item["model"]) not in seen:
            seen.add((item["id"], item["model"]))
            items.append(item)
    return items


@router.get("/recent_views", responses=shapes.ok(shapes.RecentViews))
def recent_views(user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """The user's recently viewed items (Metabase's deprecated form of `recents?context=views`)."""
    return {"recent_views": recents(db, user, ["views"])}


@router.get("/recents", responses=shapes.ok(shapes.Recents))
def get_recents(
    user: CurrentUser,
    db: DbSession,
    context: Annotated[Contexts, Query()],
    include_metadata: bool = False,
) -> dict[str, Any]:
    """The user's recent items in the given contexts (`views`, `selections`)."""
    return {"recents": recents(db, user, list(dict.fromkeys(context)), include_metadata)}


RECENT_MODEL_CLASSES: dict[str, Any] = {
    "card": Card,
    "dataset": Card,
    "metric": Card,
    "dashboard": Dashboard,
    "table": Table,
    "collection": Collection,
}


@router.post("/recents", status_code=204)
def add_recent(body: RecentBody, user: CurrentUser, db: DbSession) -> Response:
    """Remember an item the user picked in the data picker."""
    model_class = RECENT_MODEL_CLASSES.get(body.model)
    item = check_404(db.get(model_class, body.model_id) if model_class is not None else None)
    if isinstance(item, Collection):
        check_403(can_read(db, user, item))
    elif not isinstance(item, Table):
        check_403(_in_readable_collection(db, user, item.collection_id))
    record_view(db, user.id, body.model, body.model_id, "selection")
    return Response(status_code=204)


@router.get("/popular_items", responses=shapes.ok(shapes.PopularItems))
def popular_items(user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Up to 5 items viewed most (by anyone) and most recently: dashboards first, then cards, tables;
    within a kind by Metabase's score (recency weighs 2, view count 4)."""
    rows = db.execute(
        select(
            RecentView.model, RecentView.model_id, func.count(), func.max(RecentView.timestamp).label("last")
        )
        .where(RecentView.context == "view", RecentView.model.in_(("dashboard", "table", "card")))
        .group_by(RecentView.model, RecentView.model_id)
        .order_by(func.max(RecentView.timestamp).desc())
        .limit(24)
    ).all()
    items = []
    for model, model_id, count, last in rows:
        item = recent_item(db, user, model, model_id, last)
        if item is not None:
            items.append((item, count))
    if not items:
        return {"popular_items": []}
    most = max(count for _, count in items)
    scored = [
        (item, 2 * (len(items) - position) / len(items) + 4 * count / most)
        for position, (item, count) in enumerate(items)
    ]
    scored.sort(key=lambda entry: (POPULAR_PRECEDENCE.get(entry[0]["model"], 9), -entry[1]))
    return {"popular_items": [item for item, _ in scored[:5]]}


@router.get(
    "/most_recently_viewed_dashboard",
    responses={
        **shapes.ok(shapes.RecentDashboard),
        204: {"description": "No dashboard viewed in the past day."},
    },
)
def most_recently_viewed_dashboard(user: CurrentUser, db: DbSession) -> Any:
    """The dashboard the user viewed last in the past day (with its collection), or 204."""
    since = utcnow() - dt.timedelta(days=1)
    dashboard_ids = db.scalars(
        select(RecentView.model_id)
        .join(Dashboard, Dashboard.id == RecentView.model_id)
        .where(
            RecentView.user_id == user.id,
            RecentView.model == "dashboard",
            RecentView.timestamp > since,
            Dashboard.archived.is_(False),
        )
        .order_by(RecentView.id.desc())
        .limit(1)
    ).all()
    if not dashboard_ids:
        return Response(status_code=204)
    dashboard = check_404(db.get(Dashboard, dashboard_ids[0]))
    if not _in_readable_collection(db, user, dashboard.collection_id):
        return Response(status_code=204)
    collection = db.get(Collection, dashboard.collection_id) if dashboard.collection_id is not None else None
    return {**dashboard_row(dashboard), "collection": collection_map(db, collection)}
