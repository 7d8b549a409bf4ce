"""The checks endpoints make, in Metabase's order: 404 for what does not exist, then 403 (Metabase's plain
"You don't have permissions to do that.") for what the user may not see or change.

What a user may see of the data follows Metabase's open-source rules:

- a database is visible with the query builder on at least one of its tables;
- a table, its fields and the segments and legacy metrics on it are visible with view-data unrestricted
  and the query builder on that table (its schema is visible when one of its tables is);
- the data model (tables, fields, segments, metrics, database details) is changed by admins only;
- snippets are for users who may write native queries somewhere.

Cards, dashboards, timelines and collections follow their collection (`permissions/collection.py`); queries
follow `permissions/query.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from querybase.errors import Forbidden, check_403, check_404
from querybase.models.card import Card
from querybase.models.database import Database, Field, Table
from querybase.models.segment import LegacyMetric, Segment
from querybase.permissions import collection, data
from querybase.permissions.query import CANNOT_RUN, check_query_permissions
from querybase.query_processor.errors import InvalidQuery, MissingPermissions
from querybase.query_processor.saved import SAVED_QUESTIONS_DB_ID, card_query, source_card_id

T = TypeVar("T", Table, Field)
S = TypeVar("S", Segment, LegacyMetric)


# --- Databases, schemas, tables and fields ------------------------------------------------------------


def readable_database(db: Session, user: Any, database_id: int) -> Database:
    database = check_404(db.get(Database, database_id))
    check_403(data.can_read_database(db, user, database.id))
    return database


def can_read_schema(db: Session, user: Any, database_id: int, schema: str | None) -> bool:
    """Whether `user` may know a schema exists: the query builder on at least one of its tables."""
    value = data.schema_permission(db, user, data.CREATE_QUERIES, database_id, schema)
    return data.at_least(data.CREATE_QUERIES, value, data.QUERY_BUILDER)


def can_read_table(db: Session, user: Any, table: Table) -> bool:
    return data.can_query_table(db, user, table.db_id, table.id)


def readable_tables(db: Session, user: Any, tables: Iterable[Table]) -> list[Table]:
    return [t for t in tables if can_read_table(db, user, t)]


def readable_table(db: Session, user: Any, table_id: int) -> Table:
    table = check_404(db.get(Table, table_id))
    check_403(can_read_table(db, user, table))
    return table


def can_read_field(db: Session, user: Any, field: Field) -> bool:
    """A field is visible with its table."""
    table = db.get(Table, field.table_id)
    return table is not None and can_read_table(db, user, table)


def readable_field(db: Session, user: Any, field_id: int) -> Field:
    field = check_404(db.get(Field, field_id))
    check_403(can_read_field(db, user, field))
    return field


def check_data_model_write(user: Any) -> None:
    """Editing the data model or a database's details: admins only in the open-source edition."""
    check_403(user.is_superuser)


def writable(user: Any, found: T | None) -> T:
    """A table or field the user may edit: 404 when missing, then 403 unless an admin."""
    item = check_404(found)
    check_data_model_write(user)
    return item


# --- Segments and legacy metrics ----------------------------------------------------------------------


def can_read_table_item(db: Session, user: Any, item: Segment | LegacyMetric) -> bool:
    """A segment or legacy metric is visible with its table."""
    table = db.get(Table, item.table_id)
    return table is not None and can_read_table(db, user, table)


def readable_table_item(db: Session, user: Any, item: S | None) -> S:
    found = check_404(item)
    check_403(can_read_table_item(db, user, found))
    return found


# --- Snippets -----------------------------------------------------------------------------------------


def can_use_snippets(db: Session, user: Any) -> bool:
    return data.has_any_native_access(db, user)


def check_snippets(db: Session, user: Any) -> None:
    check_403(can_use_snippets(db, user))


# --- Collection content -------------------------------------------------------------------------------


def check_read_content(db: Session, user: Any, collection_id: int | None) -> None:
    """A card, dashboard or timeline in `collection_id` (None: the root) may be seen."""
    check_403(collection.can_read_content(db, user, collection_id))


def check_write_content(db: Session, user: Any, collection_id: int | None) -> None:
    """A card, dashboard or timeline in `collection_id` (None: the root) may be changed."""
    check_403(collection.can_write_content(db, user, collection_id))


# --- Queries ------------------------------------------------------------------------------------------


def can_run(db: Session, user: Any, query: dict[str, Any], database_id: int) -> bool:
    """Whether `user` may run the normalized `query` ad hoc (a question built on a card: whoever may read
    the card)."""
    try:
        check_query_permissions(db, user, query, database_id=database_id)
    except MissingPermissions:
        return False
    return True


def can_run_card_query(db: Session, user: Any, card: Card) -> bool:
    """A card's `can_run_adhoc_query`: whether its query may be run ad hoc (changed and run again)."""
    try:
        query = card_query(card)
    except InvalidQuery:
        return False
    return card.database_id is not None and can_run(db, user, query, card.database_id)


def check_can_save(db: Session, user: Any, query: dict[str, Any], database_id: int) -> None:
    """Saving a question needs the right to run its query (Metabase's `check-run-permissions-for-query`)."""
    check_403(can_run(db, user, query, database_id))


def check_adhoc_query(db: Session, user: Any, query: Any) -> None:
    """What `POST /api/dataset` checks before running a query (Metabase's plain 404 and 403): its database
    may be seen (unless it is the Saved Questions database), and so may the question it is built on (one
    that does not exist is left for the query processor to report)."""
    if not isinstance(query, dict):
        return
    database_id = query.get("database")
    if (
        isinstance(database_id, int)
        and not isinstance(database_id, bool)
        and database_id != SAVED_QUESTIONS_DB_ID
    ):
        readable_database(db, user, database_id)
    card_id = source_card_id(query)
    card = db.get(Card, card_id) if card_id is not None else None
    if card is not None:
        check_read_content(db, user, card.collection_id)


def check_native_compile(db: Session, user: Any, query: dict[str, Any], database_id: int) -> None:
    """Seeing the SQL an MBQL query compiles to needs native access to its database, and the right to run
    it (Metabase's 403 with the query processor's message)."""
    if user is None or user.is_superuser:
        return
    if not data.has_native_access(db, user, database_id):
        raise Forbidden(CANNOT_RUN)
    try:
        check_query_permissions(db, user, query, database_id=database_id)
    except MissingPermissions as error:
        raise Forbidden(error.message) from None


# --- Listings -------------------------------------------------------------------------------------------


def readable_table_ids(db: Session, user: Any) -> set[int] | None:
    """The ids of the active tables `user` may see (None for admins, who see them all): for listings that
    filter in SQL, such as search."""
    if user.is_superuser:
        return None
    rows = db.execute(select(Table.id, Table.db_id).where(Table.active.is_(True)))
    return {table_id for table_id, db_id in rows if data.can_query_table(db, user, db_id, table_id)}


def readable_database_ids(db: Session, user: Any) -> set[int] | None:
    """The ids of the databases `user` may see (None for admins)."""
    if user.is_superuser:
        return None
    return {d for d in db.scalars(select(Database.id)) if data.can_read_database(db, user, d)}
