"""May this user run this query? Metabase's rules (`query_processor/middleware/permissions.clj`):

- A saved question, or an ad-hoc query built on one (`card__N` as its source), runs for whoever may read
  the question's collection, provided no table it reads is blocked to them (view-data).
- Any other MBQL query needs view-data and the query builder on every table it touches: its source
  tables, joined tables, tables reached through implicit joins (`source-field`), and the tables of
  questions it joins; and the user must be able to read each question it joins.
- A native query needs native access to its whole database; each question it embeds through a `{{#N}}`
  tag must be readable and is itself checked like an ad-hoc query.

Admins, and queries run without a user (public links), are not checked. Questions that do not exist are
left for the query processor to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from querybase.models.card import Card
from querybase.models.database import Field
from querybase.models.segment import LegacyMetric, Segment
from querybase.permissions import data
from querybase.permissions.collection import can_read_content
from querybase.query_processor.errors import InvalidQuery, MissingPermissions
from querybase.query_processor.saved import MAX_DEPTH, card_id_of, card_query, source_card_id

CANNOT_RUN = "You do not have permissions to run this query."
# Stage keys holding other stages, walked on their own.
_NESTED = frozenset({"source-query", "joins", "source-metadata", "source-table"})


def cannot_view_card(card_id: int) -> MissingPermissions:
    return MissingPermissions(f"You do not have permissions to view Card {card_id}.")


@dataclass
class Required:
    """What a query touches, as far as permissions go."""

    table_ids: set[int] = field(default_factory=set)
    # Questions used as sources (of the query or of its joins).
    card_ids: set[int] = field(default_factory=set)
    # An ad-hoc native query (or native source query), which needs native access.
    native: bool = False
    # Questions a native query embeds through `{{#N}}` tags.
    referenced_card_ids: set[int] = field(default_factory=set)


class _Walk:
    def __init__(self, db: Session, database_id: int) -> None:
        self.db = db
        self.database_id = database_id
        self.required = Required()

    def query(self, query: dict[str, Any]) -> Required:
        if query.get("type") == "native":
            self.native(query.get("native") or {}, from_card=False)
        else:
            self.stage(query.get("query") or {}, from_card=False, depth=0)
        return self.required

    def native(self, native: dict[str, Any], *, from_card: bool) -> None:
        if not from_card:
            self.required.native = True
        for tag in (native.get("template-tags") or {}).values():
            if isinstance(tag, dict) and tag.get("type") == "card" and isinstance(tag.get("card-id"), int):
                self.required.referenced_card_ids.add(tag["card-id"])

    def stage(self, stage: Any, *, from_card: bool, depth: int) -> None:
        if not isinstance(stage, dict) or depth > MAX_DEPTH:
            return
        source = stage.get("source-table")
        card_id = card_id_of(source)
        if isinstance(source, int) and not isinstance(source, bool):
            self.required.table_ids.add(source)
        elif card_id is not None:
            self.required.card_ids.add(card_id)
            self.card_source(card_id, depth)
        inner = stage.get("source-query")
        if isinstance(inner, dict):
            if "native" in inner:
                self.native({"template-tags": inner.get("template-tags")}, from_card=from_card)
            else:
                self.stage(inner, from_card=from_card, depth=depth + 1)
        for join in stage.get("joins") or []:
            self.stage(join, from_card=from_card, depth=depth + 1)
        self.clauses({k: v for k, v in stage.items() if k not in _NESTED}, depth)

    def card_source(self, card_id: int, depth: int) -> None:
        """A question used as a source: its own tables are touched too (for view-data)."""
        card = self.db.get(Card, card_id)
        if card is None or card.database_id != self.database_id:
            return
        try:
            query = card_query(card)
        except InvalidQuery:
            return
        if query["type"] == "native":
            self.native(query.get("native") or {}, from_card=True)
        else:
            self.stage(query["query"], from_card=True, depth=depth + 1)

    def clauses(self, value: Any, depth: int) -> None:
        """Tables reached through implicit joins, segments and legacy metrics anywhere in `value`."""
        if isinstance(value, dict):
            for item in value.values():
                self.clauses(item, depth)
            return
        if not isinstance(value, list) or not value:
            return
        head = value[0]
        if head == "field" and len(value) > 2 and isinstance(value[2], dict) and value[2].get("source-field"):
            target = self.db.get(Field, value[1]) if isinstance(value[1], int) else None
            if target is not None:
                self.required.table_ids.add(target.table_id)
        elif head in ("segment", "metric") and len(value) > 1 and isinstance(value[1], int):
            model = Segment if head == "segment" else LegacyMetric
            saved = self.db.get(model, value[1])
            if saved is not None and saved.table_id is not None:
                self.required.table_ids.add(saved.table_id)
                if depth <= MAX_DEPTH:
                    self.clauses(saved.definition, depth + 1)
        # A clause's arguments follow its name; a plain list (breakouts, fields...) is all items.
        for item in value[1:] if isinstance(head, str) else value:
            self.clauses(item, depth)


def required_permissions(db: Session, query: dict[str, Any], database_id: int) -> Required:
    """What a normalized (legacy MBQL) query touches."""
    return _Walk(db, database_id).query(query)


def _can_view_all(db: Session, user: Any, database_id: int, required: Required) -> bool:
    if required.native and not data.at_least(
        data.VIEW_DATA,
        data.full_database_permission(db, user, data.VIEW_DATA, database_id),
        data.UNRESTRICTED,
    ):
        return False
    return all(data.can_view_table(db, user, database_id, t) for t in required.table_ids)


def _check_card_readable(db: Session, user: Any, card_id: int) -> None:
    card = db.get(Card, card_id)
    if card is not None and not can_read_content(db, user, card.collection_id):
        raise cannot_view_card(card_id)


def check_query_permissions(
    db: Session,
    user: Any,
    query: dict[str, Any],
    *,
    database_id: int,
    card_id: int | None = None,
    filter_values: bool = False,
    depth: int = 0,
) -> None:
    """Raise `MissingPermissions` unless `user` may run `query` (normalized) on `database_id`.
    `card_id` is the saved question being run, if any; `filter_values` marks the values of a dashboard's
    filter, which only need the tables not to be blocked (the dashboard's collection decides the rest)."""
    if user is None or user.is_superuser:
        return
    required = required_permissions(db, query, database_id)
    if filter_values:
        if not _can_view_all(db, user, database_id, required):
            raise MissingPermissions(CANNOT_RUN)
        return
    run_card = card_id if card_id is not None else source_card_id(query)
    if run_card is not None and db.get(Card, run_card) is not None:
        _check_card_readable(db, user, run_card)
        if not _can_view_all(db, user, database_id, required):
            raise MissingPermissions(CANNOT_RUN)
        return
    for referenced in sorted(required.referenced_card_ids):
        card = db.get(Card, referenced)
        if card is not None and not can_read_content(db, user, card.collection_id):
            raise MissingPermissions(CANNOT_RUN)
    if required.native and not data.has_native_access(db, user, database_id):
        raise MissingPermissions(CANNOT_RUN)
    if not all(data.can_query_table(db, user, database_id, t) for t in required.table_ids):
        raise MissingPermissions(CANNOT_RUN)
    for source in sorted(required.card_ids):
        _check_card_readable(db, user, source)
    for referenced in sorted(required.referenced_card_ids):
        card = db.get(Card, referenced)
        if card is None or depth > MAX_DEPTH:
            continue
        try:
            embedded = card_query(card)
        except InvalidQuery:
            continue
        check_query_permissions(db, user, embedded, database_id=database_id, depth=depth + 1)
