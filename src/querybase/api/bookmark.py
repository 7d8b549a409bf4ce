"""`/api/bookmark`: cards, dashboards and collections a user marked.

A bookmark is identified by (model, item id), not by its row: the three kinds live in three tables.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from querybase.api import shapes
from querybase.api.deps import CurrentUser, DbSession
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import PositiveInt
from querybase.api.table import enum_type
from querybase.errors import BadRequest, check_403, check_404
from querybase.models.activity import CardBookmark, CollectionBookmark, DashboardBookmark
from querybase.models.card import Card
from querybase.models.collection import Collection
from querybase.models.dashboard import Dashboard
from querybase.models.user import User
from querybase.permissions.collection import can_read_collection, can_read_content

router = APIRouter(route_class=MetabaseRoute, tags=["bookmark"])

MODEL_VALUES = ("card", "dashboard", "collection", "document")
Model = Annotated[Literal[MODEL_VALUES], enum_type(*MODEL_VALUES)]  # type: ignore[valid-type]
# model → (the bookmarked model, its bookmark table, the bookmark's item column).
LOOKUP: dict[str, tuple[Any, Any, str]] = {
    "card": (Card, CardBookmark, "card_id"),
    "dashboard": (Dashboard, DashboardBookmark, "dashboard_id"),
    "collection": (Collection, CollectionBookmark, "collection_id"),
}


class Ordering(BaseModel):
    type: Model
    item_id: PositiveInt


class OrderingsBody(BaseModel):
    orderings: list[Ordering]


def readable(db: Session, user: User, item: Any) -> bool:
    """Whether `user` may see `item`: a collection, or a card or dashboard by its collection."""
    if isinstance(item, Collection):
        return can_read_collection(db, user, item)
    return can_read_content(db, user, item.collection_id)


def bookmark_json(db: Session, model: str, item: Any) -> dict[str, Any]:
    """Metabase's bookmark entry: `id` is "<model>-<item id>"; keys whose value is null are left out.
    A dashboard carries its collection's `authority_level`, as Metabase's join gives it."""
    data: dict[str, Any] = {"id": f"{model}-{item.id}", "type": model, "item_id": item.id, "name": item.name}
    data["description"] = item.description
    if model == "card":
        data |= {"card_type": item.type, "display": item.display}
    collection = item if model == "collection" else None
    if model == "dashboard" and item.collection_id is not None:
        collection = db.get(Collection, item.collection_id)
    if collection is not None:
        data |= {"authority_level": collection.authority_level, "is_remote_synced": False}
    return {key: value for key, value in data.items() if value is not None}


@router.get("", responses=shapes.ok(list[shapes.Bookmark]))
def list_bookmarks(user: CurrentUser, db: DbSession) -> list[dict[str, Any]]:
    """The user's bookmarks of things that are not archived and that they may still read, newest first."""
    entries: list[tuple[Any, dict[str, Any]]] = []
    for model, (item_model, bookmark_model, key) in LOOKUP.items():
        rows = db.execute(
            select(bookmark_model.created_at, item_model)
            .join(item_model, item_model.id == getattr(bookmark_model, key))
            .where(bookmark_model.user_id == user.id, item_model.archived.is_(False))
        ).all()
        entries += [
            (created, bookmark_json(db, model, item)) for created, item in rows if readable(db, user, item)
        ]
    entries.sort(key=lambda entry: entry[0], reverse=True)
    return [entry for _, entry in entries]


def _lookup(model: str) -> tuple[Any, Any, str]:
    """Documents are not a thing here: bookmarking one finds nothing."""
    if model not in LOOKUP:
        check_404(None)
    return LOOKUP[model]


@router.post("/{model}/{item_id}", responses=shapes.ok(shapes.NewBookmark))
def create_bookmark(model: Model, item_id: PositiveInt, user: CurrentUser, db: DbSession) -> dict[str, Any]:
    """Bookmark something the user can read (once)."""
    item_model, bookmark_model, key = _lookup(model)
    item = check_404(db.get(item_model, item_id))
    check_403(readable(db, user, item))
    existing = db.scalar(
        select(bookmark_model.id).where(
            bookmark_model.user_id == user.id, getattr(bookmark_model, key) == item_id
        )
    )
    if existing is not None:
        raise BadRequest("Bookmark already exists")
    bookmark = bookmark_model(user_id=user.id, **{key: item_id})
    db.add(bookmark)
    db.flush()
    return {"id": bookmark.id, "user_id": user.id, key: item_id, "created_at": bookmark.created_at}


@router.delete("/{model}/{item_id}", status_code=204)
def delete_bookmark(model: Model, item_id: PositiveInt, user: CurrentUser, db: DbSession) -> Response:
    """Remove the user's bookmark, if any."""
    if model in LOOKUP:
        _, bookmark_model, key = LOOKUP[model]
        db.execute(
            delete(bookmark_model).where(
                bookmark_model.user_id == user.id, getattr(bookmark_model, key) == item_id
            )
        )
    return Response(status_code=204)


@router.put("/ordering", status_code=204)
def set_ordering(body: OrderingsBody, user: CurrentUser, db: DbSession) -> Response:
    """Accepts the user's order of bookmarks. The schema has no `bookmark_ordering` table yet, so the
    order is validated but not kept: the list stays newest first."""
    return Response(status_code=204)
