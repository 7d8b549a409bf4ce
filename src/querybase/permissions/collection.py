"""Collection permissions: who may see ("read") and curate ("write") what, as Metabase decides it.

- Administrators read and curate everything.
- A personal collection, and every collection under it, belongs to its owner alone.
- Any other collection (and the root, "Our analytics") is read or curated by the groups holding read or
  curate rows for it (`/collection/<id>/read/`, `/collection/<id>/`). Rows are not inherited at run
  time: a new collection starts with a copy of its parent's rows (the root's, at the top level), and a
  collection moved out of a personal collection takes its new parent's.
- The Trash is visible to everyone (its items keep their own collections' rules) and curated by no one;
  snippet folders are open to everyone, as in Metabase's open-source edition.

The collection graph of `/api/collection/graph` shows these rows per group; see `graph` and
`update_graph`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, or_, select, true
from sqlalchemy.orm import Session, aliased

from querybase.errors import BadRequest, check_403, check_404
from querybase.longs import parse_long
from querybase.models.collection import (
    TRASH_TYPE,
    Collection,
    children_location,
    location_ids,
    parent_id,
    personal_tree_clause,
    personal_tree_owner,
)
from querybase.models.permissions import CollectionPermissionGraphRevision, Permission
from querybase.models.user import ADMIN_GROUP_ID, PermissionsGroup, PermissionsGroupMembership
from querybase.permissions import revision
from querybase.permissions.data_graph import diff

ACCESS = "perms/collection-access"
READ, WRITE = "read", "write"
# `perm_value` of a row, by level.
STORED = {READ: "read", WRITE: "read-and-write"}
SNIPPETS = "snippets"
ROOT = "root"

_CACHE = "querybase.collection-permissions"


def path(collection_id: int | None, level: str, namespace: str | None = None) -> str:
    """Metabase's permission path of a collection (None: the root of `namespace`) at `level`."""
    if collection_id is not None:
        base = f"/collection/{collection_id}/"
    elif namespace:
        base = f"/collection/namespace/{namespace}/root/"
    else:
        base = "/collection/root/"
    return base + ("read/" if level == READ else "")


def forget(db: Session) -> None:
    """Drop the session's cached lookups (after any write to collection permissions)."""
    db.info.pop(_CACHE, None)


def _levels(db: Session, user: Any) -> dict[Any, str]:
    """What `user`'s groups hold: collection id, or ("root", namespace), -> the best level."""
    cache: dict[int, dict[Any, str]] = db.info.setdefault(_CACHE, {})
    if user.id not in cache:
        levels: dict[Any, str] = {}
        rows = db.execute(
            select(Permission.collection_id, Permission.object, Permission.perm_value)
            .join(PermissionsGroupMembership, PermissionsGroupMembership.group_id == Permission.group_id)
            .where(PermissionsGroupMembership.user_id == user.id, Permission.perm_type == ACCESS)
        )
        for collection_id, obj, value in rows:
            key = collection_id if collection_id is not None else (ROOT, _root_namespace(obj))
            if levels.get(key) != WRITE:
                levels[key] = WRITE if value == STORED[WRITE] else READ
        cache[user.id] = levels
    return cache[user.id]


def _root_namespace(obj: str) -> str | None:
    """The namespace of a root path: "/collection/namespace/snippets/root/" -> "snippets"."""
    parts = obj.strip("/").split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "namespace" else None


def _open_to_all(collection: Collection | None, namespace: str | None) -> bool:
    """Snippet folders carry no permissions in the open-source edition."""
    return (collection.namespace if collection is not None else namespace) == SNIPPETS


def level_of(
    db: Session, user: Any, collection: Collection | None, namespace: str | None = None
) -> str | None:
    """The level `user` holds on `collection` (None: the root of `namespace`): "write", "read" or None."""
    if user.is_superuser or _open_to_all(collection, namespace):
        return WRITE
    if collection is None:
        return _levels(db, user).get((ROOT, namespace))
    if collection.type == TRASH_TYPE:
        return READ
    owner = personal_tree_owner(db, collection)
    if owner is not None:
        return WRITE if owner == user.id else None
    return _levels(db, user).get(collection.id)


def can_read_collection(
    db: Session, user: Any, collection: Collection | None, namespace: str | None = None
) -> bool:
    return level_of(db, user, collection, namespace) is not None


def can_write_collection(
    db: Session, user: Any, collection: Collection | None, namespace: str | None = None
) -> bool:
    if collection is not None and collection.type == TRASH_TYPE:
        return False
    return level_of(db, user, collection, namespace) == WRITE


def can_read_content(db: Session, user: Any, collection_id: int | None) -> bool:
    """Whether `user` may see a card, dashboard or timeline kept in `collection_id` (None: the root).
    A saved question runs for whoever may read its collection (Metabase's rule)."""
    if user.is_superuser:
        return True
    if collection_id is None:
        return can_read_collection(db, user, None)
    collection = db.get(Collection, collection_id)
    return collection is None or can_read_collection(db, user, collection)


def can_write_content(db: Session, user: Any, collection_id: int | None) -> bool:
    """Whether `user` may change a card, dashboard or timeline kept in `collection_id` (None: the root)."""
    if user.is_superuser:
        return True
    collection = db.get(Collection, collection_id) if collection_id is not None else None
    return can_write_collection(db, user, collection)


def check_save_into(db: Session, user: Any, collection_id: int | None) -> None:
    """Saving content into `collection_id` (None: the root): it must exist (404) and the user must be
    allowed to curate it (403). The Trash keeps the rule it had: whoever can see it."""
    collection = check_404(db.get(Collection, collection_id)) if collection_id is not None else None
    if collection is not None and collection.type == TRASH_TYPE:
        return
    check_403(can_write_collection(db, user, collection))


def _granted_collection_ids(user: Any) -> Select[tuple[int | None]]:
    return (
        select(Permission.collection_id)
        .join(PermissionsGroupMembership, PermissionsGroupMembership.group_id == Permission.group_id)
        .where(
            PermissionsGroupMembership.user_id == user.id,
            Permission.perm_type == ACCESS,
            Permission.collection_id.is_not(None),
        )
    )


def readable_clause(user: Any, table: Any = Collection) -> ColumnElement[bool]:
    """SQL: `user` may read `table` (the collection entity or an alias of it)."""
    if user.is_superuser:
        return true()
    return or_(
        personal_tree_clause(table, lambda owner_id: owner_id == user.id),
        table.type == TRASH_TYPE,
        table.namespace == SNIPPETS,
        table.id.in_(_granted_collection_ids(user)),
    )


def readable_ids(user: Any) -> Select[tuple[int]]:
    """SQL: the ids of the collections `user` may read."""
    readable = aliased(Collection)
    return select(readable.id).where(readable_clause(user, readable))


def in_readable_collection(user: Any, collection_id: Any) -> ColumnElement[bool]:
    """SQL: a `collection_id` column points at a collection `user` may read, or at the root when the
    user may read the root."""
    if user.is_superuser:
        return true()
    root = exists().where(
        PermissionsGroupMembership.user_id == user.id,
        PermissionsGroupMembership.group_id == Permission.group_id,
        Permission.object.in_([path(None, WRITE), path(None, READ)]),
    )
    return or_(and_(collection_id.is_(None), root), collection_id.in_(readable_ids(user)))


# ---------------------------------------------------------------------------------------------------
# Changing permissions


def revoke(db: Session, group_id: int, collection_id: int | None, namespace: str | None = None) -> None:
    objects = [path(collection_id, WRITE, namespace), path(collection_id, READ, namespace)]
    db.execute(delete(Permission).where(Permission.group_id == group_id, Permission.object.in_(objects)))
    forget(db)


def grant(
    db: Session, group_id: int, collection_id: int | None, level: str, namespace: str | None = None
) -> None:
    """Give `group_id` exactly `level` ("read" or "write") on a collection or a root."""
    revoke(db, group_id, collection_id, namespace)
    db.add(
        Permission(
            object=path(collection_id, level, namespace),
            group_id=group_id,
            perm_type=ACCESS,
            perm_value=STORED[level],
            collection_id=collection_id,
        )
    )
    db.flush()
    forget(db)


def _group_levels(db: Session, collection_id: int | None, namespace: str | None) -> dict[int, str]:
    """group -> level held on a collection (None: the root of `namespace`)."""
    if collection_id is None:
        where = Permission.object.in_([path(None, WRITE, namespace), path(None, READ, namespace)])
    else:
        where = Permission.collection_id == collection_id
    levels: dict[int, str] = {}
    for group_id, value in db.execute(select(Permission.group_id, Permission.perm_value).where(where)):
        if levels.get(group_id) != WRITE:
            levels[group_id] = WRITE if value == STORED[WRITE] else READ
    return levels


def _copy(db: Session, source_id: int | None, namespace: str | None, targets: list[Collection]) -> None:
    for group_id, level in _group_levels(db, source_id, namespace).items():
        for target in targets:
            grant(db, group_id, target.id, level)


def copy_parent_permissions(db: Session, collection: Collection) -> None:
    """A new collection starts with its parent's rows (the root's at the top level), so the groups that
    could see or curate where it was made can see or curate it. Collections in personal collections and
    the Trash get none."""
    if collection.type == TRASH_TYPE or personal_tree_owner(db, collection) is not None:
        return
    _copy(db, parent_id(collection), collection.namespace, [collection])


def _with_descendants(db: Session, collection: Collection) -> list[Collection]:
    below = select(Collection).where(Collection.location.like(children_location(collection) + "%"))
    return [collection, *db.scalars(below)]


def after_move(db: Session, collection: Collection, old_location: str) -> None:
    """Keep the personal boundary after `collection` (and its descendants) moved from `old_location`:
    leaving a personal collection takes the new parent's rows; entering one drops every row."""
    old_ids = location_ids(old_location)
    top = db.get(Collection, old_ids[0]) if old_ids else None
    was_personal = collection.personal_owner_id is not None or (
        top is not None and top.personal_owner_id is not None
    )
    is_personal = personal_tree_owner(db, collection) is not None
    if was_personal == is_personal:
        return
    moved = _with_descendants(db, collection)
    if is_personal:
        db.execute(delete(Permission).where(Permission.collection_id.in_([c.id for c in moved])))
        forget(db)
    else:
        _copy(db, parent_id(collection), collection.namespace, moved)


# ---------------------------------------------------------------------------------------------------
# The graph


def _eligible(namespace: str | None, collection_ids: set[Any] | None) -> Select[tuple[int]]:
    """Collections the graph shows: not archived, not the Trash, not personal, in `namespace`."""
    statement = select(Collection.id).where(
        or_(Collection.type.is_(None), Collection.type != TRASH_TYPE),
        Collection.namespace.is_(None) if namespace is None else Collection.namespace == namespace,
        Collection.archived.is_(False),
        Collection.personal_owner_id.is_(None),
        ~personal_tree_clause(Collection),
    )
    ids = {c for c in collection_ids or () if c != ROOT}
    if ids:
        statement = statement.where(Collection.id.in_(ids))
    return statement


def graph(
    db: Session,
    namespace: str | None = None,
    collection_ids: set[Any] | None = None,
    group_ids: set[int] | None = None,
) -> dict[str, Any]:
    """`{"revision": n, "groups": {group: {"root" or collection id: "write" | "read"}}}`: only what is
    granted (anything missing is no access). Administrators curate everything."""
    eligible = list(db.scalars(_eligible(namespace, collection_ids)))
    groups: dict[int, dict[Any, str]] = {ADMIN_GROUP_ID: {ROOT: WRITE}}
    rows: list[tuple[int, Any, str | None]] = []
    if collection_ids is None or ROOT in collection_ids:
        roots = [path(None, WRITE, namespace), path(None, READ, namespace)]
        statement = select(Permission.group_id, Permission.perm_value).where(Permission.object.in_(roots))
        if group_ids:
            statement = statement.where(Permission.group_id.in_(group_ids))
        rows += [(g, ROOT, v) for g, v in db.execute(statement)]
    if eligible:
        statement = select(Permission.group_id, Permission.collection_id, Permission.perm_value).where(
            Permission.perm_type == ACCESS, Permission.collection_id.in_(eligible)
        )
        if group_ids:
            statement = statement.where(Permission.group_id.in_(group_ids))
        rows += list(db.execute(statement))
    for group_id, key, value in rows:
        held = groups.setdefault(group_id, {})
        if held.get(key) != WRITE:
            held[key] = WRITE if value == STORED[WRITE] else READ
    groups[ADMIN_GROUP_ID].update(dict.fromkeys(eligible, WRITE))
    return {"revision": revision.latest_id(db, CollectionPermissionGraphRevision), "groups": groups}


def json_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """The graph with its keys as JSON has them."""
    return revision.json_keys(graph)


INVALID_GRAPH = 'value must be a map of group id -> (collection id or "root" -> "write", "read" or "none").'


def _graph_id(raw: Any) -> int | None:
    """A group or collection id as a key of the graph's JSON: a positive long, read as Metabase's decoder
    reads it (`Long/parseLong`); None for any other key."""
    number = parse_long(raw) if isinstance(raw, str) else None
    return number if number is not None and number > 0 else None


def _decode(groups: dict[str, Any]) -> dict[int, dict[Any, str]]:
    decoded: dict[int, dict[Any, str]] = {}
    for raw_group, collections in groups.items():
        group_id = _graph_id(raw_group)
        if group_id is None or not isinstance(collections, dict):
            raise BadRequest({"errors": {"groups": INVALID_GRAPH}})
        levels: dict[Any, str] = {}
        for raw_key, level in collections.items():
            key = ROOT if raw_key == ROOT else _graph_id(raw_key)
            if key is None or level not in (WRITE, READ, "none"):
                raise BadRequest({"errors": {"groups": INVALID_GRAPH}})
            levels[key] = level
        decoded[group_id] = levels
    return decoded


def _editable(db: Session, collection_ids: set[Any], namespace: str | None) -> set[Any]:
    """The keys a graph update may change: the root and existing collections of `namespace` outside
    personal collections (others are silently left alone, as Metabase does)."""
    ids = {c for c in collection_ids if c != ROOT}
    editable: set[Any] = {ROOT} & collection_ids
    if ids:
        same_namespace = (
            or_(Collection.namespace.is_(None), Collection.namespace == "analytics")
            if namespace is None
            else Collection.namespace == namespace
        )
        editable |= set(
            db.scalars(
                select(Collection.id).where(
                    Collection.id.in_(ids),
                    Collection.personal_owner_id.is_(None),
                    ~personal_tree_clause(Collection),
                    same_namespace,
                )
            )
        )
    return editable


def update_graph(
    db: Session,
    user: Any,
    groups: dict[str, Any],
    sent_revision: int | None,
    namespace: str | None,
    *,
    force: bool,
    skip_graph: bool,
) -> dict[str, Any]:
    """Apply a PUT of (part of) the graph: refuse a stale revision unless forced, change what differs,
    record a revision when anything changed."""
    new = _decode(groups)
    collection_ids = {key for levels in new.values() for key in levels}
    editable = _editable(db, collection_ids, namespace)
    new = {g: {k: v for k, v in levels.items() if k in editable} for g, levels in new.items()}
    old = graph(db, namespace, collection_ids, set(new))
    _, changes = diff(old["groups"], {g: levels for g, levels in new.items() if levels})
    if not force:
        revision.check_revision(old["revision"], sent_revision)
    if changes:
        # A group that does not exist gets nothing: Metabase's grant fails on the group's foreign key, and
        # it logs that and goes on (as the data permissions graph skips such groups).
        groups_found = set(db.scalars(select(PermissionsGroup.id).where(PermissionsGroup.id.in_(changes))))
        for group_id, levels in changes.items():
            if group_id not in groups_found:
                continue
            for key, level in levels.items():
                collection_id = None if key == ROOT else key
                if level == "none":
                    revoke(db, group_id, collection_id, namespace)
                else:
                    grant(db, group_id, collection_id, level, namespace)
        revision.save(
            db,
            CollectionPermissionGraphRevision,
            old["revision"],
            user,
            {**old, "namespace": namespace},
            changes,
        )
    if skip_graph:
        return {"revision": revision.latest_id(db, CollectionPermissionGraphRevision)}
    return graph(db, namespace)
