"""Data permissions: what each group may do with each database and table, as Metabase 0.50+ stores them.

Each permission type has values ordered from most to least permissive. A user holds the most permissive
value any of their groups grants (for view-data, `blocked` in one group beats `legacy-no-self-service`
in another, but not `unrestricted`); with no value at all, the least permissive one applies. Admins hold
the most permissive value of everything and have no rows.

A table-level type is stored either once for the whole database (`table_id` NULL) or table by table; the
setters keep it that way, as Metabase's do, switching between the two forms as values converge or split.

Lookups for one user and database are read once per app-DB session (`Session.info`) and forgotten when
a setter writes, so checking a query's tables, or a listing's, costs one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from querybase.models.database import Database, Table
from querybase.models.permissions import DataPermission
from querybase.models.user import (
    ADMIN_GROUP_ID,
    ALL_USERS_GROUP_ID,
    PermissionsGroup,
    PermissionsGroupMembership,
)

VIEW_DATA = "perms/view-data"
CREATE_QUERIES = "perms/create-queries"
DOWNLOAD = "perms/download-results"
TABLE_METADATA = "perms/manage-table-metadata"
MANAGE_DATABASE = "perms/manage-database"

# Most permissive first (Metabase's `permissions.schema/data-permissions`).
VALUES: dict[str, tuple[str, ...]] = {
    VIEW_DATA: ("unrestricted", "legacy-no-self-service", "blocked"),
    CREATE_QUERIES: ("query-builder-and-native", "query-builder", "no"),
    DOWNLOAD: ("one-million-rows", "ten-thousand-rows", "no"),
    TABLE_METADATA: ("yes", "no"),
    MANAGE_DATABASE: ("yes", "no"),
}
TABLE_LEVEL = frozenset({VIEW_DATA, CREATE_QUERIES, DOWNLOAD, TABLE_METADATA})
NATIVE = "query-builder-and-native"
QUERY_BUILDER = "query-builder"
UNRESTRICTED = "unrestricted"

_CACHE = "querybase.data-permissions"


def least_permissive(perm_type: str) -> str:
    return VALUES[perm_type][-1]


def most_permissive(perm_type: str) -> str:
    return VALUES[perm_type][0]


def at_least(perm_type: str, value: str, required: str) -> bool:
    """Whether `value` grants at least what `required` does."""
    order = VALUES[perm_type]
    return order.index(value) <= order.index(required)


def coalesce(perm_type: str, values: Iterable[str]) -> str | None:
    """The value a user in several groups holds: the most permissive, except that view-data `blocked`
    overrides `legacy-no-self-service` (not `unrestricted`)."""
    present = set(values)
    if perm_type == VIEW_DATA and "blocked" in present and UNRESTRICTED not in present:
        return "blocked"
    return next((v for v in VALUES[perm_type] if v in present), None)


def most_restrictive(perm_type: str, values: Iterable[str]) -> str | None:
    present = set(values)
    return next((v for v in reversed(VALUES[perm_type]) if v in present), None)


# ---------------------------------------------------------------------------------------------------
# What a user holds


@dataclass(frozen=True)
class _Row:
    group_id: int
    perm_type: str
    schema_name: str | None
    table_id: int | None
    value: str


def forget(db: Session) -> None:
    """Drop the session's cached lookups (after any write to data permissions)."""
    db.info.pop(_CACHE, None)


def _user_rows(db: Session, user: Any, database_id: int) -> list[_Row]:
    """The rows of `user`'s groups for one database, leaving out inactive tables (as Metabase does)."""
    cache: dict[tuple[int, int], list[_Row]] = db.info.setdefault(_CACHE, {})
    key = (user.id, database_id)
    if key not in cache:
        statement = (
            select(
                DataPermission.group_id,
                DataPermission.perm_type,
                DataPermission.schema_name,
                DataPermission.table_id,
                DataPermission.perm_value,
            )
            .join(PermissionsGroupMembership, PermissionsGroupMembership.group_id == DataPermission.group_id)
            .outerjoin(Table, Table.id == DataPermission.table_id)
            .where(
                PermissionsGroupMembership.user_id == user.id,
                DataPermission.db_id == database_id,
                or_(DataPermission.table_id.is_(None), Table.active.is_(True)),
            )
        )
        cache[key] = [_Row(*row) for row in db.execute(statement)]
    return cache[key]


def _values(rows: Iterable[_Row], perm_type: str) -> list[_Row]:
    return [r for r in rows if r.perm_type == perm_type]


def table_permission(db: Session, user: Any, perm_type: str, database_id: int, table_id: int) -> str:
    """The value `user` holds for one table (a database-wide row covers every table)."""
    if user.is_superuser:
        return most_permissive(perm_type)
    rows = _values(_user_rows(db, user, database_id), perm_type)
    values = [r.value for r in rows if r.table_id is None or r.table_id == table_id]
    return coalesce(perm_type, values) or least_permissive(perm_type)


def database_permission(db: Session, user: Any, perm_type: str, database_id: int) -> str:
    """The value `user` holds for a database-level type (`perms/manage-database`)."""
    if user.is_superuser:
        return most_permissive(perm_type)
    values = [r.value for r in _values(_user_rows(db, user, database_id), perm_type)]
    return coalesce(perm_type, values) or least_permissive(perm_type)


def full_database_permission(db: Session, user: Any, perm_type: str, database_id: int) -> str:
    """The value `user` holds for *every* table of a database: per group the most restrictive of its
    rows, then the best group. Native queries need `query-builder-and-native` this way."""
    if user.is_superuser:
        return most_permissive(perm_type)
    by_group: dict[int, list[str]] = {}
    for row in _values(_user_rows(db, user, database_id), perm_type):
        by_group.setdefault(row.group_id, []).append(row.value)
    per_group = [most_restrictive(perm_type, values) for values in by_group.values()]
    return coalesce(perm_type, [v for v in per_group if v]) or least_permissive(perm_type)


def most_permissive_database_permission(db: Session, user: Any, perm_type: str, database_id: int) -> str:
    """The best value `user` holds for *any* table of a database."""
    if user.is_superuser:
        return most_permissive(perm_type)
    values = [r.value for r in _values(_user_rows(db, user, database_id), perm_type)]
    return coalesce(perm_type, values) or least_permissive(perm_type)


def schema_permission(db: Session, user: Any, perm_type: str, database_id: int, schema: str | None) -> str:
    """The best value `user` holds for any table of one schema (no schema and "" are the same)."""
    if user.is_superuser:
        return most_permissive(perm_type)
    rows = _values(_user_rows(db, user, database_id), perm_type)
    values = [r.value for r in rows if r.table_id is None or (r.schema_name or "") == (schema or "")]
    return coalesce(perm_type, values) or least_permissive(perm_type)


def can_query_table(db: Session, user: Any, database_id: int, table_id: int) -> bool:
    """Metabase's rule for querying a table ad hoc, and for seeing it at all: view-data unrestricted and
    the query builder."""
    return at_least(
        VIEW_DATA, table_permission(db, user, VIEW_DATA, database_id, table_id), UNRESTRICTED
    ) and at_least(
        CREATE_QUERIES, table_permission(db, user, CREATE_QUERIES, database_id, table_id), QUERY_BUILDER
    )


def can_view_table(db: Session, user: Any, database_id: int, table_id: int) -> bool:
    """View-data unrestricted: what saved questions on the table need to run."""
    return at_least(VIEW_DATA, table_permission(db, user, VIEW_DATA, database_id, table_id), UNRESTRICTED)


def has_native_access(db: Session, user: Any, database_id: int) -> bool:
    """Native queries on a database: `query-builder-and-native` and view-data unrestricted for all of it."""
    return full_database_permission(db, user, CREATE_QUERIES, database_id) == NATIVE and at_least(
        VIEW_DATA, full_database_permission(db, user, VIEW_DATA, database_id), UNRESTRICTED
    )


def can_read_database(db: Session, user: Any, database_id: int) -> bool:
    """Whether `user` may see a database (Metabase's rule: the query builder on at least one of its
    tables)."""
    return at_least(
        CREATE_QUERIES,
        most_permissive_database_permission(db, user, CREATE_QUERIES, database_id),
        QUERY_BUILDER,
    )


def has_any_native_access(db: Session, user: Any) -> bool:
    """Whether any group of `user` may write native queries on some database or table (Metabase's rule for
    snippets in its open-source edition; rows of inactive tables do not count)."""
    if user.is_superuser:
        return True
    statement = (
        select(DataPermission.id)
        .join(PermissionsGroupMembership, PermissionsGroupMembership.group_id == DataPermission.group_id)
        .outerjoin(Table, Table.id == DataPermission.table_id)
        .where(
            PermissionsGroupMembership.user_id == user.id,
            DataPermission.perm_type == CREATE_QUERIES,
            DataPermission.perm_value == NATIVE,
            or_(DataPermission.table_id.is_(None), Table.active.is_(True)),
        )
        .limit(1)
    )
    return db.scalar(statement) is not None


def native_permissions(db: Session, user: Any, database_id: int) -> str:
    """A database's `native_permissions` as Metabase shows them: "write" when the user may write native
    queries on all of it, else "none"."""
    native = full_database_permission(db, user, CREATE_QUERIES, database_id) == NATIVE
    return "write" if native else "none"


# ---------------------------------------------------------------------------------------------------
# Setting permissions


def _check_value(perm_type: str, value: str) -> None:
    if value not in VALUES[perm_type]:
        raise ValueError(f"Invalid permission value {value} for permission type {perm_type}")


def set_database_permission(db: Session, group_id: int, database_id: int, perm_type: str, value: str) -> None:
    """One value for the whole database, replacing any table rows. Granting queries grants view-data;
    blocking view-data takes away queries and downloads (Metabase's consistency rules)."""
    _check_value(perm_type, value)
    db.execute(
        delete(DataPermission).where(
            DataPermission.group_id == group_id,
            DataPermission.db_id == database_id,
            DataPermission.perm_type == perm_type,
        )
    )
    db.add(DataPermission(group_id=group_id, db_id=database_id, perm_type=perm_type, perm_value=value))
    db.flush()
    forget(db)
    if perm_type == CREATE_QUERIES and value != "no":
        set_database_permission(db, group_id, database_id, VIEW_DATA, UNRESTRICTED)
    if perm_type == VIEW_DATA and value == "blocked":
        set_database_permission(db, group_id, database_id, CREATE_QUERIES, "no")
        set_database_permission(db, group_id, database_id, DOWNLOAD, "no")


def _row(group_id: int, perm_type: str, table: Table, value: str) -> DataPermission:
    return DataPermission(
        group_id=group_id,
        db_id=table.db_id,
        perm_type=perm_type,
        schema_name=table.schema,
        table_id=table.id,
        perm_value=value,
    )


def set_table_permissions(db: Session, group_id: int, perm_type: str, values: Mapping[Table, str]) -> None:
    """Values for some tables of one database. A database-wide row that no longer fits is split into
    one row per table; table rows that all agree again are merged back into a database-wide row."""
    if not values:
        return
    if perm_type not in TABLE_LEVEL:
        raise ValueError(f"Permission type {perm_type} cannot be set on tables.")
    for value in values.values():
        _check_value(perm_type, value)
    database_id = next(iter(values)).db_id
    if any(t.db_id != database_id for t in values):
        raise ValueError("All tables must belong to the same database.")
    new = set(values.values())
    ids = {t.id for t in values}
    rows = list(
        db.scalars(
            select(DataPermission).where(
                DataPermission.group_id == group_id,
                DataPermission.db_id == database_id,
                DataPermission.perm_type == perm_type,
            )
        )
    )
    database_row = next((r for r in rows if r.table_id is None), None)
    if database_row is not None:
        if new != {database_row.perm_value}:
            # Native access cannot be granted table by table: the other tables keep the query builder.
            kept = QUERY_BUILDER if database_row.perm_value == NATIVE else database_row.perm_value
            others = list(db.scalars(select(Table).where(Table.db_id == database_id, Table.id.not_in(ids))))
            db.delete(database_row)
            db.flush()
            db.add_all([_row(group_id, perm_type, t, kept) for t in others])
            db.add_all([_row(group_id, perm_type, t, v) for t, v in values.items()])
    else:
        others = {r.perm_value for r in rows if r.table_id not in ids}
        if len(others) == 1 and others == new:
            set_database_permission(db, group_id, database_id, perm_type, new.pop())
        else:
            for row in rows:
                if row.table_id in ids:
                    db.delete(row)
            db.flush()
            db.add_all([_row(group_id, perm_type, t, v) for t, v in values.items()])
    db.flush()
    forget(db)
    if perm_type == CREATE_QUERIES:
        queryable = {t: UNRESTRICTED for t, v in values.items() if v != "no"}
        set_table_permissions(db, group_id, VIEW_DATA, queryable)
    if perm_type == VIEW_DATA:
        blocked = [t for t, v in values.items() if v == "blocked"]
        set_table_permissions(db, group_id, CREATE_QUERIES, dict.fromkeys(blocked, "no"))
        set_table_permissions(db, group_id, DOWNLOAD, dict.fromkeys(blocked, "no"))


def tables_in_schema(db: Session, database_id: int, schema: str) -> list[Table]:
    """The active tables of a schema ("" is the no-schema of SQLite, MySQL...)."""
    in_schema = Table.schema == schema if schema else or_(Table.schema.is_(None), Table.schema == "")
    return list(
        db.scalars(select(Table).where(Table.db_id == database_id, in_schema, Table.active.is_(True)))
    )


def set_schema_permission(
    db: Session, group_id: int, database_id: int, schema: str, perm_type: str, value: str
) -> None:
    """One value for every active table of a schema (a schema's level in the graph)."""
    tables = tables_in_schema(db, database_id, schema)
    if tables:
        set_table_permissions(db, group_id, perm_type, dict.fromkeys(tables, value))


# ---------------------------------------------------------------------------------------------------
# Defaults for new databases, groups and tables


def _group_values(db: Session, group_id: int, perm_type: str, database_id: int | None = None) -> set[str]:
    statement = select(DataPermission.perm_value).where(
        DataPermission.group_id == group_id, DataPermission.perm_type == perm_type
    )
    if database_id is not None:
        statement = statement.where(DataPermission.db_id == database_id)
    return set(db.scalars(statement.distinct()))


def _database_rows(group_id: int, database_id: int, perms: Mapping[str, str]) -> list[DataPermission]:
    return [
        DataPermission(group_id=group_id, db_id=database_id, perm_type=t, perm_value=v)
        for t, v in perms.items()
    ]


def _least_permissive_everything() -> dict[str, str]:
    return {perm_type: least_permissive(perm_type) for perm_type in VALUES}


def _defaults(create_queries: set[str], downloads: set[str]) -> dict[str, str]:
    """A database's values for a group, given what it holds elsewhere: never more than its most
    restricted create-queries and download values (full access when it holds none)."""
    return {
        VIEW_DATA: UNRESTRICTED,
        CREATE_QUERIES: most_restrictive(CREATE_QUERIES, create_queries) or NATIVE,
        DOWNLOAD: most_restrictive(DOWNLOAD, downloads) or most_permissive(DOWNLOAD),
        TABLE_METADATA: "no",
        MANAGE_DATABASE: "no",
    }


def set_new_database_permissions(db: Session, database_id: int) -> None:
    """Permissions of a database just added, for every group but Administrators (whose access is
    implicit): each group gets at most what it holds on its other databases, so All Users on a fresh
    instance can query the Sample Database and every database added later."""
    for group in db.scalars(select(PermissionsGroup).where(PermissionsGroup.id != ADMIN_GROUP_ID)):
        if group.is_tenant_group:
            perms = _least_permissive_everything()
        else:
            perms = _defaults(
                _group_values(db, group.id, CREATE_QUERIES), _group_values(db, group.id, DOWNLOAD)
            )
        db.add_all(_database_rows(group.id, database_id, perms))
    db.flush()
    forget(db)


def set_new_group_permissions(db: Session, group: PermissionsGroup) -> None:
    """Permissions of a group just created: on each database, what All Users may do at most."""
    for database_id in db.scalars(select(Database.id).where(Database.is_audit.is_(False))):
        if group.is_tenant_group:
            perms = _least_permissive_everything()
        else:
            perms = _defaults(
                _group_values(db, ALL_USERS_GROUP_ID, CREATE_QUERIES, database_id),
                _group_values(db, ALL_USERS_GROUP_ID, DOWNLOAD, database_id),
            )
        db.add_all(_database_rows(group.id, database_id, perms))
    db.flush()
    forget(db)


# What a new table gets in a database whose permissions a group sets table by table.
NEW_TABLE_DEFAULTS = {VIEW_DATA: UNRESTRICTED, CREATE_QUERIES: "no", DOWNLOAD: "no", TABLE_METADATA: "no"}


def set_new_table_permissions(db: Session, table: Table) -> None:
    """Permissions of a table sync just found. Groups with database-wide values need nothing; a group
    that sets a type table by table gives the new table the value all the schema's other tables share,
    or Metabase's default for new tables."""
    rows = list(db.scalars(select(DataPermission).where(DataPermission.db_id == table.db_id)))
    for group_id in db.scalars(select(PermissionsGroup.id).where(PermissionsGroup.id != ADMIN_GROUP_ID)):
        for perm_type, default in NEW_TABLE_DEFAULTS.items():
            mine = [r for r in rows if r.group_id == group_id and r.perm_type == perm_type]
            if any(r.table_id is None for r in mine):
                continue
            schema_values = {
                r.perm_value
                for r in mine
                if (r.schema_name or "") == (table.schema or "") and r.table_id != table.id
            }
            value = schema_values.pop() if len(schema_values) == 1 else default
            db.add(_row(group_id, perm_type, table, value))
    db.flush()
    forget(db)
