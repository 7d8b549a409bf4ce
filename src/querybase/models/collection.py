"""Collections: the root (not a row), nested collections (`location` is the path of ancestor ids),
personal collections (one per person) and the Trash (`type` "trash")."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    ForeignKey,
    Select,
    String,
    event,
    exists,
    false,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from querybase.models.base import Base, new_entity_id, utcnow
from querybase.models.search_index import NAME, changed, index_item, unindex_item


class Collection(Base):
    """A collection of questions, dashboards and other collections; `location` is its ancestors' path."""

    __tablename__ = "collection"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(254))
    slug: Mapped[str] = mapped_column(String(510))
    description: Mapped[str | None] = mapped_column(String(4096))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Archived by itself (not because an ancestor was), and which archive operation did it, for restore.
    archived_directly: Mapped[bool | None] = mapped_column(Boolean)
    archive_operation_id: Mapped[str | None] = mapped_column(String(36))
    location: Mapped[str] = mapped_column(String(254), default="/", server_default="/")
    personal_owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), unique=True
    )
    namespace: Mapped[str | None] = mapped_column(String(254))
    authority_level: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(256))
    entity_id: Mapped[str | None] = mapped_column(String(21), unique=True, default=new_entity_id)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@event.listens_for(Collection, "after_insert")
@event.listens_for(Collection, "after_update")
def _index_collection(_mapper: Any, connection: Connection, collection: Collection) -> None:
    """Keep the collection's search-index words in step with its name."""
    if changed(collection, ("id", "name")):
        index_item(connection, "collection", collection.id, {NAME: collection.name})


@event.listens_for(Collection, "after_delete")
def _unindex_collection(_mapper: Any, connection: Connection, collection: Collection) -> None:
    unindex_item(connection, "collection", collection.id)


def slugify(name: str) -> str:
    """Metabase's collection slug: lower case, runs of other characters become `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:254]


def personal_collection_name(owner: Any) -> str:
    return f"{owner.common_name}'s Personal Collection"


def personal_collection_id(db: Session, owner: Any) -> int | None:
    """The id of `owner`'s personal collection. Users that are not people (API keys) have none."""
    if owner.type != "personal":
        return None
    return db.scalar(select(Collection.id).where(Collection.personal_owner_id == owner.id))


def create_personal_collection(db: Session, owner: Any) -> None:
    """Give a new person their personal collection. Metabase makes it on first use; querybase makes it
    with the user, so that reading a user (a GET) never has to write."""
    name = personal_collection_name(owner)
    db.add(Collection(name=name, slug=slugify(name), personal_owner_id=owner.id))


def rename_personal_collection(db: Session, owner: Any) -> None:
    """Follow a change of `owner`'s name, as Metabase does when a user is renamed (if the collection
    exists yet)."""
    collection = db.scalar(select(Collection).where(Collection.personal_owner_id == owner.id))
    name = personal_collection_name(owner)
    if collection is not None and collection.name != name:
        collection.name, collection.slug = name, slugify(name)


# ---------------------------------------------------------------------------------------------------
# Locations, visibility and JSON views.

ROOT_NAME = "Our analytics"
TRASH_TYPE = "trash"
# The key Metabase leaves on the root pseudo-collection when it appears among effective ancestors.
IS_ROOT_KEY = "metabase.collections.models.collection.root/is-root?"


def location_ids(location: str | None) -> list[int]:
    """The ancestor ids in a location path: "/1/5/" → [1, 5]."""
    return [int(part) for part in (location or "").split("/") if part]


def children_location(collection: Collection | None) -> str:
    """Where `collection`'s children live; the root's children live at "/"."""
    return "/" if collection is None else f"{collection.location}{collection.id}/"


def parent_id(collection: Collection) -> int | None:
    ids = location_ids(collection.location)
    return ids[-1] if ids else None


def trash_collection(db: Session) -> Collection:
    """The Trash, made by the migrations (so it always exists)."""
    return db.scalars(select(Collection).where(Collection.type == TRASH_TYPE).limit(1)).one()


def personal_tree_owner(db: Session, collection: Collection) -> int | None:
    """The owner of the personal collection `collection` is, or sits under; None outside personal trees."""
    if collection.personal_owner_id is not None:
        return collection.personal_owner_id
    ids = location_ids(collection.location)
    if not ids:
        return None
    # `get` finds the top-level ancestor in the session when a listing has loaded it already.
    top = db.get(Collection, ids[0])
    return None if top is None else top.personal_owner_id


# Who may read or curate a collection is decided in `permissions/collection.py` (imported when called:
# it builds on this module).


def can_read(db: Session, user: Any, collection: Collection) -> bool:
    from querybase.permissions import collection as rules

    return rules.can_read_collection(db, user, collection)


def can_read_content(db: Session, user: Any, collection_id: int | None) -> bool:
    """Whether `user` may see a card or dashboard kept in collection `collection_id` (None: the root)."""
    from querybase.permissions import collection as rules

    return rules.can_read_content(db, user, collection_id)


def check_destination(db: Session, user: Any, collection_id: int | None) -> None:
    """Saving content into `collection_id` (None: the root): it must exist (404) and the user must be
    allowed to curate it (403)."""
    from querybase.permissions import collection as rules

    rules.check_save_into(db, user, collection_id)


def can_write(db: Session, user: Any, collection: Collection) -> bool:
    from querybase.permissions import collection as rules

    return rules.can_write_collection(db, user, collection)


def personal_tree_clause(
    table: Any = Collection, owner: Callable[[Any], ColumnElement[bool]] | None = None
) -> ColumnElement[bool]:
    """SQL: `table` (the collection entity or an alias of it) is a personal collection, or lies under one,
    whose owner id column satisfies `owner` (any owner when None)."""
    personal = aliased(Collection)
    return exists().where(
        personal.personal_owner_id.is_not(None),
        true() if owner is None else owner(personal.personal_owner_id),
        or_(
            personal.id == table.id,
            # No CAST: on MySQL it would give the pattern a collation that clashes with the column's.
            table.location.like(literal("/") + type_coerce(personal.id, String) + literal("/%")),
        ),
    )


def others_personal_clause(user: Any, table: Any = Collection) -> ColumnElement[bool]:
    """SQL: `table` is another person's personal collection or lies under one. Always false for admins,
    who see every collection."""
    if user.is_superuser:
        return false()
    return personal_tree_clause(table, lambda owner_id: owner_id != user.id)


def visible_collection_ids(user: Any) -> Select[tuple[int]]:
    """SQL: the ids of the collections `user` may read, to filter cards and dashboards by."""
    from querybase.permissions import collection as rules

    return rules.readable_ids(user)


def in_visible_collection(user: Any, collection_id: Any) -> ColumnElement[bool]:
    """SQL: a `collection_id` column points at a collection `user` may read (the root included)."""
    from querybase.permissions import collection as rules

    return rules.in_readable_collection(user, collection_id)


COLUMNS = (
    "authority_level",
    "description",
    "archived",
    "slug",
    "archive_operation_id",
    "name",
    "personal_owner_id",
    "type",
    "is_sample",
    "id",
    "archived_directly",
    "entity_id",
    "location",
    "namespace",
    "created_at",
)


def collection_json(db: Session, user: Any, collection: Collection) -> dict[str, Any]:
    """A collection as `GET /api/collection` lists it: its columns plus what the user may do with it."""
    writable = can_write(db, user, collection)
    parent = db.get(Collection, parent_id(collection)) if collection.location != "/" else None
    return {
        **{column: getattr(collection, column) for column in COLUMNS},
        "can_write": writable,
        "is_personal": personal_tree_owner(db, collection) is not None,
        "can_restore": bool(
            collection.archived_directly and writable and (parent is None or not parent.archived)
        ),
        "can_delete": bool(collection.archived and user.is_superuser),
    }


def root_ancestor(namespace: str | None = None) -> dict[str, Any]:
    """The root as it heads a list of effective ancestors."""
    root: dict[str, Any] = {IS_ROOT_KEY: True, "authority_level": None, "name": ROOT_NAME, "id": "root"}
    if namespace is not None:
        root["namespace"] = namespace
    return {**root, "can_write": True}


def root_collection_json(db: Session, user: Any) -> dict[str, Any]:
    """The root as Metabase hydrates it onto a card or dashboard that has no collection (`GET` of one, and a
    new dashboard): the root placeholder with its UI details, and whether `user` may curate it."""
    from querybase.permissions import collection as rules

    return {
        IS_ROOT_KEY: True,
        "authority_level": None,
        "name": ROOT_NAME,
        "is_personal": False,
        "id": "root",
        "can_write": rules.can_write_collection(db, user, None),
    }


def effective_location(db: Session, user: Any, collection: Collection) -> str:
    """The location as the user sees it: items archived by themselves appear in the Trash; ancestors the
    user may not read are skipped."""
    if collection.archived_directly:
        return children_location(trash_collection(db))
    ids = location_ids(collection.location)
    if not ids:
        return "/"
    ancestors = db.scalars(select(Collection).where(Collection.id.in_(ids))).all()
    readable = {c.id for c in ancestors if can_read(db, user, c)}
    return "/" + "".join(f"{i}/" for i in ids if i in readable)


def effective_ancestors(db: Session, user: Any, collection: Collection) -> list[dict[str, Any]]:
    ids = location_ids(effective_location(db, user, collection))
    by_id = {c.id: c for c in db.scalars(select(Collection).where(Collection.id.in_(ids)))} if ids else {}
    from querybase.permissions import collection as rules

    root_writable = rules.can_write_collection(db, user, None, collection.namespace)
    ancestors = [{**root_ancestor(collection.namespace), "can_write": root_writable}]
    for ancestor_id in ids:
        ancestor = by_id[ancestor_id]
        ancestors.append(
            {
                "name": ancestor.name,
                "id": ancestor.id,
                "personal_owner_id": ancestor.personal_owner_id,
                "type": ancestor.type,
                "can_write": can_write(db, user, ancestor),
            }
        )
    return ancestors


def collection_detail(db: Session, user: Any, collection: Collection) -> dict[str, Any]:
    """A collection as `GET /api/collection/:id` answers: with parent and effective location/ancestors."""
    return {
        **collection_json(db, user, collection),
        "parent_id": parent_id(collection),
        "effective_location": effective_location(db, user, collection),
        "effective_ancestors": effective_ancestors(db, user, collection),
    }


def root_json(namespace: str | None = None) -> dict[str, Any]:
    """The root pseudo-collection (`GET /api/collection/root`)."""
    return {
        "authority_level": None,
        "name": ROOT_NAME,
        "id": "root",
        "namespace": namespace,
        "is_personal": False,
        "can_write": True,
        "can_restore": False,
        "can_delete": False,
        "parent_id": None,
        "effective_location": None,
        "effective_ancestors": [],
    }
