"""The data permissions graph of `/api/permissions/graph`, in Metabase 0.57's shape:

    {"revision": 4,
     "groups": {"1": {"1": {"view-data": "unrestricted",
                            "create-queries": {"PUBLIC": {"5": "query-builder", "6": "no"}},
                            "download": {"schemas": "full"},
                            "data-model": {"schemas": "all"},
                            "details": "yes"}}}}

The least permissive value of a type is left out (a group that may do nothing with a database has no
entry for it). Administrators always show full access to every database; they hold it implicitly.

A PUT sends a graph (or any part of one) back with the revision it was based on. Only what differs from
the stored graph is applied, in Metabase's order (details, data model, download, queries, view data) so
its consistency rules settle the same way. Graphs from clients older than 0.50 are accepted too: their
`data` entry (`{"native": "write", "schemas": "all"}`, granular schemas, ...) is read as the view-data and
create-queries it meant, as Metabase's own migration translated it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.errors import BadRequest, PaymentRequired
from querybase.longs import parse_long
from querybase.models.database import Database, Table
from querybase.models.permissions import DataPermission, PermissionsRevision
from querybase.models.user import ADMIN_GROUP_ID, PermissionsGroup
from querybase.permissions import data, revision
from querybase.permissions.data import (
    CREATE_QUERIES,
    DOWNLOAD,
    MANAGE_DATABASE,
    NATIVE,
    QUERY_BUILDER,
    TABLE_METADATA,
    UNRESTRICTED,
    VIEW_DATA,
)

INVALID_GRAPH = "Cannot parse permissions graph because it is invalid: "
NATIVE_NEEDS_ALL_SCHEMAS = (
    "Invalid DB permissions: If you have write access for native queries, you must have data access to all "
    "schemas."
)
BLOCKED_NEEDS_EE = (
    "The blocked permissions functionality is only enabled if you have a premium token with the "
    "advanced-permissions feature."
)


def _paid_feature(name: str) -> PaymentRequired:
    return PaymentRequired(
        f"{name} is a paid feature not currently available to your instance. Please upgrade to use it. "
        "Learn more at metabase.com/upgrade/"
    )


API_KEYS = {
    VIEW_DATA: "view-data",
    CREATE_QUERIES: "create-queries",
    DOWNLOAD: "download",
    TABLE_METADATA: "data-model",
    MANAGE_DATABASE: "details",
}
# Stored value -> API value; None means "not shown".
API_VALUES: dict[str, dict[str, str | None]] = {
    VIEW_DATA: {v: v for v in data.VALUES[VIEW_DATA]},
    CREATE_QUERIES: {v: v for v in data.VALUES[CREATE_QUERIES]},
    DOWNLOAD: {"one-million-rows": "full", "ten-thousand-rows": "limited", "no": None},
    TABLE_METADATA: {"yes": "all", "no": None},
    MANAGE_DATABASE: {"yes": "yes", "no": "no"},
}
# Types shown under `{"schemas": ...}`, as the graph had them before 0.50.
UNDER_SCHEMAS = frozenset({DOWNLOAD, TABLE_METADATA})
ADMIN_PERMS = {
    "view-data": UNRESTRICTED,
    "create-queries": NATIVE,
    "download": {"schemas": "full"},
    "data-model": {"schemas": "all"},
    "details": "yes",
}


# ---------------------------------------------------------------------------------------------------
# Reading


def _stored(db: Session, group_ids: list[int] | None, database_id: int | None) -> dict[int, Any]:
    """group -> database -> type -> value, or schema -> table -> value for types set table by table."""
    statement = select(DataPermission)
    if group_ids:
        statement = statement.where(DataPermission.group_id.in_(group_ids))
    if database_id is not None:
        statement = statement.where(DataPermission.db_id == database_id)
    graph: dict[int, Any] = {}
    for row in db.scalars(statement.order_by(DataPermission.id)):
        perms = graph.setdefault(row.group_id, {}).setdefault(row.db_id, {})
        if row.table_id is None:
            perms[row.perm_type] = row.perm_value
        else:
            if not isinstance(perms.get(row.perm_type), dict):
                perms[row.perm_type] = {}
            perms[row.perm_type].setdefault(row.schema_name or "", {})[row.table_id] = row.perm_value
    return graph


def _elided(perm_type: str, value: str) -> bool:
    return value == data.least_permissive(perm_type)


def _api_schemas(perm_type: str, schemas: dict[str, dict[int, str]]) -> dict[str, Any]:
    """Table-by-table values: a schema whose tables agree shows one value, otherwise its tables that hold
    more than the least permissive value."""
    shown: dict[str, Any] = {}
    for schema, tables in schemas.items():
        values = set(tables.values())
        if len(values) == 1:
            value: Any = API_VALUES[perm_type][values.pop()]
        else:
            value = {
                table_id: API_VALUES[perm_type][v]
                for table_id, v in tables.items()
                if not _elided(perm_type, v)
            }
        if value:
            shown[schema] = value
    return shown


def _api_database(perms: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for perm_type, value in perms.items():
        if perm_type not in API_KEYS:
            continue
        if isinstance(value, dict):
            api_value: Any = _api_schemas(perm_type, value)
        elif _elided(perm_type, value):
            continue
        else:
            api_value = API_VALUES[perm_type][value]
        if api_value:
            key = API_KEYS[perm_type]
            shown[key] = {"schemas": api_value} if perm_type in UNDER_SCHEMAS else api_value
    return shown


def api_graph(
    db: Session,
    *,
    group_id: int | None = None,
    group_ids: list[int] | None = None,
    database_id: int | None = None,
) -> dict[str, Any]:
    """The graph, for all groups or some, for all databases or one (integer keys; see `json_graph`)."""
    wanted = [group_id] if group_id is not None else (group_ids or None)
    groups: dict[int, Any] = {}
    for gid, databases in _stored(db, wanted, database_id).items():
        shown = {db_id: p for db_id, perms in databases.items() if (p := _api_database(perms))}
        if shown:
            groups[gid] = shown
    if wanted is None or ADMIN_GROUP_ID in wanted:
        database_ids = (
            [database_id]
            if database_id is not None
            else list(
                db.scalars(select(Database.id).where(Database.is_audit.is_(False)).order_by(Database.id))
            )
        )
        for db_id in database_ids:
            groups.setdefault(ADMIN_GROUP_ID, {})[db_id] = copy.deepcopy(ADMIN_PERMS)
    return {"revision": revision.latest_id(db, PermissionsRevision), "groups": groups}


def json_graph(graph: dict[str, Any]) -> dict[str, Any]:
    return revision.json_keys(graph)


# ---------------------------------------------------------------------------------------------------
# Reading a graph a client sent

# The values Metabase's graph schema accepts, whether or not an update can apply them.
SCHEMA_LEVELS = frozenset(
    {
        "all",
        "segmented",
        "none",
        "block",
        "blocked",
        "full",
        "limited",
        "impersonated",
        "unrestricted",
        "sandboxed",
        "legacy-no-self-service",
        "query-builder-and-native",
        "query-builder",
        "no",
    }
)
TABLE_LEVELS = SCHEMA_LEVELS - {"block", "impersonated", "query-builder-and-native"}
NATIVE_LEVELS = frozenset({"write", "none", "full", "limited"})


class _Invalid(Exception):
    """A part of the graph that does not fit Metabase's schema; `path` says where."""

    def __init__(self, path: list[Any], problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


def _invalid_graph(error: _Invalid) -> BadRequest:
    explanation: Any = [error.problem]
    for key in reversed(error.path):
        explanation = {key: explanation}
    return BadRequest(INVALID_GRAPH + _pr(explanation))


def _pr(value: Any) -> str:
    """A value as Clojure prints it (map keys as keywords, ids as numbers)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} {_pr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + " ".join(_pr(v) for v in value) + "]"
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _key(key: Any) -> str:
    return str(key) if isinstance(key, int) else f":{key}"


def _id(raw: Any, path: list[Any]) -> int:
    """An id key of the graph: digits that make a long (Metabase's decoder reads them with
    `Long/parseLong`; any other key stays a string, which its schema refuses)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    number = parse_long(raw) if isinstance(raw, str) and raw.isdecimal() else None
    if number is None:
        raise _Invalid(path, f"should be an integer, received: {_pr(raw)}")
    return number


def _level(value: Any, allowed: frozenset[str], path: list[Any]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    raise _Invalid(path, f"should be one of {', '.join(sorted(allowed))}, received: {_pr(value)}")


def _table_level(value: Any, path: list[Any]) -> Any:
    if isinstance(value, dict):
        granular = {}
        for key, level in value.items():
            if key not in ("read", "query"):
                continue
            allowed = frozenset({"all", "none"}) | (
                frozenset({"segmented"}) if key == "query" else frozenset()
            )
            granular[key] = _level(level, allowed, [*path, key])
        return granular
    return _level(value, TABLE_LEVELS, path)


def _schemas(value: Any, path: list[Any]) -> Any:
    """A level for a whole database, or schema -> level or table id -> level."""
    if isinstance(value, dict):
        decoded: dict[str, Any] = {}
        for schema, perms in value.items():
            where = [*path, schema]
            if isinstance(perms, dict):
                decoded[schema] = {
                    _id(t, [*where, t]): _table_level(v, [*where, t]) for t, v in perms.items()
                }
            else:
                decoded[schema] = _level(perms, TABLE_LEVELS, where)
        return decoded
    return _level(value, SCHEMA_LEVELS, path)


def _native_and_schemas(value: Any, path: list[Any]) -> dict[str, Any]:
    """The pre-0.50 `{"native": ..., "schemas": ...}` form (still the form of `download` and
    `data-model`)."""
    if not isinstance(value, dict):
        raise _Invalid(path, f"should be a map, received: {_pr(value)}")
    decoded: dict[str, Any] = {}
    if value.get("native") is not None:
        decoded["native"] = _level(value["native"], NATIVE_LEVELS, [*path, "native"])
    if value.get("schemas") is not None:
        decoded["schemas"] = _schemas(value["schemas"], [*path, "schemas"])
    if decoded.get("native") == "write" and decoded.get("schemas", "all") not in ("all", "impersonated"):
        raise _Invalid(path, NATIVE_NEEDS_ALL_SCHEMAS)
    return decoded


def _database_entry(value: Any, path: list[Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"should be a map, received: {_pr(value)}")
    decoded: dict[str, Any] = {}
    for key in ("view-data", "create-queries"):
        if value.get(key) is not None:
            decoded[key] = _schemas(value[key], [*path, key])
    for key in ("data", "download", "data-model"):
        if value.get(key) is not None:
            decoded[key] = _native_and_schemas(value[key], [*path, key])
    if value.get("details") is not None:
        decoded["details"] = _level(value["details"], frozenset({"yes", "no"}), [*path, "details"])
    if decoded.get("create-queries") == NATIVE and decoded.get("view-data") == "blocked":
        raise _Invalid(path, NATIVE_NEEDS_ALL_SCHEMAS)
    return _from_legacy(decoded)


def decode_groups(raw: Any) -> dict[int, dict[int, dict[str, Any]]]:
    """`groups` of a PUT: integer ids, checked values, legacy `data` entries translated."""
    if not isinstance(raw, dict):
        raise _invalid_graph(_Invalid(["groups"], f"should be a map, received: {_pr(raw)}"))
    try:
        groups: dict[int, dict[int, dict[str, Any]]] = {}
        for raw_group, databases in raw.items():
            group_id = _id(raw_group, ["groups", raw_group])
            if databases is None:
                groups[group_id] = {}
                continue
            if not isinstance(databases, dict):
                raise _Invalid(["groups", group_id], f"should be a map, received: {_pr(databases)}")
            groups[group_id] = {
                _id(d, ["groups", group_id, d]): _database_entry(entry, ["groups", group_id, d])
                for d, entry in databases.items()
            }
        return groups
    except _Invalid as error:
        raise _invalid_graph(error) from None


# ---------------------------------------------------------------------------------------------------
# Pre-0.50 graphs

# Legacy levels that granted the query builder on everything they covered.
_LEGACY_FULL = frozenset({"all", "full", "unrestricted", "impersonated", "query-builder-and-native"})


def _legacy_level(level: Any) -> str:
    """A legacy schema or table level as a create-queries value: sandboxed ("segmented") access still
    builds queries; "none" does not."""
    if isinstance(level, dict):
        return QUERY_BUILDER if level.get("query") in ("all", "segmented") else "no"
    if level in _LEGACY_FULL or level in ("segmented", "sandboxed", "limited", QUERY_BUILDER):
        return QUERY_BUILDER
    return "no"


def _from_legacy(entry: dict[str, Any]) -> dict[str, Any]:
    """Read a legacy `data` entry as the view-data and create-queries Metabase 0.50 migrated it to; an
    entry that already has them keeps them."""
    legacy = entry.pop("data", None)
    if legacy is None or "view-data" in entry or "create-queries" in entry:
        return entry
    schemas = legacy.get("schemas", "all" if legacy.get("native") == "write" else "none")
    if schemas in ("block", "blocked"):
        entry["view-data"] = "blocked"
        return entry
    entry["view-data"] = UNRESTRICTED
    if isinstance(schemas, dict):
        entry["create-queries"] = {
            schema: {t: _legacy_level(v) for t, v in level.items()}
            if isinstance(level, dict)
            else _legacy_level(level)
            for schema, level in schemas.items()
        }
    elif schemas in _LEGACY_FULL:
        entry["create-queries"] = NATIVE if legacy.get("native") == "write" else QUERY_BUILDER
    else:
        entry["create-queries"] = _legacy_level(schemas)
    return entry


# ---------------------------------------------------------------------------------------------------
# Writing


def diff(old: Any, new: Any) -> tuple[Any, Any]:
    """What only `old` has and what only `new` has (Clojure's `clojure.data/diff` on maps): the PUT
    applies the second, the revision records both."""
    if isinstance(old, dict) and isinstance(new, dict):
        only_old: dict[Any, Any] = {}
        only_new: dict[Any, Any] = {}
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in new:
                only_old[key] = old[key]
            elif key not in old:
                only_new[key] = new[key]
            else:
                a, b = diff(old[key], new[key])
                if a is not None:
                    only_old[key] = a
                if b is not None:
                    only_new[key] = b
        return only_old or None, only_new or None
    return (None, None) if old == new else (old, new)


def _tables(db: Session, database_id: int, table_ids: Any) -> dict[int, Table]:
    """The tables of `database_id` among `table_ids`; unknown ones are left out (a graph read before a
    table was deleted still applies to the others)."""
    return {
        t.id: t
        for t in db.scalars(select(Table).where(Table.db_id == database_id, Table.id.in_(list(table_ids))))
    }


# For each API key, in the order Metabase applies them: the stored type, how API levels translate to
# stored values, and whether the levels sit under `{"schemas": ...}`.
_UPDATES: tuple[tuple[str, str, dict[str, str], bool], ...] = (
    ("details", MANAGE_DATABASE, {"yes": "yes", "no": "no"}, False),
    ("data-model", TABLE_METADATA, {"all": "yes", "none": "no"}, True),
    ("download", DOWNLOAD, {"full": "one-million-rows", "limited": "ten-thousand-rows", "none": "no"}, True),
    ("create-queries", CREATE_QUERIES, {v: v for v in data.VALUES[CREATE_QUERIES]}, False),
    # Sandboxes are kept apart from view-data: a sandboxed table is one whose data may be viewed.
    ("view-data", VIEW_DATA, {v: v for v in data.VALUES[VIEW_DATA]} | {"sandboxed": UNRESTRICTED}, False),
)
# View-data for a whole database: blocking it is an Enterprise feature.
_DATABASE_VIEW_DATA = {
    UNRESTRICTED: UNRESTRICTED,
    "impersonated": UNRESTRICTED,
    "legacy-no-self-service": "legacy-no-self-service",
}


def _stored_value(translate: dict[str, str], level: Any, path: list[Any]) -> str:
    if level not in translate:
        raise _Invalid(path, f"cannot be {_pr(level)}")
    return translate[level]


def _apply_database(db: Session, group_id: int, database_id: int, changes: dict[str, Any]) -> None:
    for key, perm_type, translate, under_schemas in _UPDATES:
        levels = changes.get(key)
        path: list[Any] = ["groups", group_id, database_id, key]
        if under_schemas:
            levels = levels.get("schemas") if isinstance(levels, dict) else None
            path.append("schemas")
        if levels is None:
            continue
        if not isinstance(levels, dict):
            if perm_type == VIEW_DATA and levels == "blocked":
                raise PaymentRequired(BLOCKED_NEEDS_EE)
            whole = _DATABASE_VIEW_DATA if perm_type == VIEW_DATA else translate
            value = _stored_value(whole, levels, path)
            data.set_database_permission(db, group_id, database_id, perm_type, value)
            continue
        for schema, level in levels.items():
            if isinstance(level, dict):
                tables = _tables(db, database_id, level)
                values = {
                    tables[t]: _stored_value(translate, v, [*path, schema, t])
                    for t, v in level.items()
                    if t in tables
                }
                data.set_table_permissions(db, group_id, perm_type, values)
            else:
                value = _stored_value(translate, level, [*path, schema])
                data.set_schema_permission(db, group_id, database_id, schema, perm_type, value)


def update_graph(
    db: Session, user: Any, body: dict[str, Any], *, force: bool, skip_graph: bool
) -> dict[str, Any]:
    """Apply a PUT: refuse a stale revision (unless forced), apply what changed, record the revision."""
    if "groups" not in body:
        raise _invalid_graph(_Invalid(["groups"], "missing required key"))
    groups = decode_groups(body["groups"])
    sent_revision = body.get("revision")
    if isinstance(sent_revision, str) and re.fullmatch(r"-?\d+", sent_revision):
        number = parse_long(sent_revision)  # past a long: a revision that cannot be the current one
        sent_revision = sent_revision if number is None else number
    group_ids = list(groups)
    old = api_graph(db, group_ids=group_ids)
    removed, changes = diff(old["groups"], groups)
    if not force and body.get("force") is not True:
        revision.check_revision(old["revision"], sent_revision)
    if body.get("sandboxes") is not None:
        raise _paid_feature("Sandboxes")
    if body.get("impersonations") is not None:
        raise _paid_feature("Connection impersonation")
    known_groups = set(db.scalars(select(PermissionsGroup.id)))
    known_databases = set(db.scalars(select(Database.id)))
    try:
        for group_id, databases in (changes or {}).items():
            if group_id == ADMIN_GROUP_ID or group_id not in known_groups:
                continue
            for database_id, database_changes in databases.items():
                if database_id in known_databases:
                    _apply_database(db, group_id, database_id, database_changes)
    except _Invalid as error:
        raise _invalid_graph(error) from None
    revision.save(db, PermissionsRevision, old["revision"], user, removed or {}, changes or {})
    result: dict[str, Any] = {"revision": revision.latest_id(db, PermissionsRevision)}
    if not skip_graph:
        result["groups"] = api_graph(db, group_ids=group_ids)["groups"]
    return result
