"""What every query-processor step works with: who asks, against which database, with which metadata."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from querybase.drivers.base import Feature
from querybase.drivers.sql import SQLDriver
from querybase.models.database import Database, Field, Table
from querybase.models.user import User

# Metabase's default row limits (query_processor/middleware/constraints.clj).
MAX_RESULTS = 10_000
MAX_RESULTS_BARE_ROWS = 2_000
# The most rows a download may hold (Excel's row limit minus the header).
MAX_DOWNLOAD_ROWS = 1_048_575


def _collect_ids(node: Any, field_ids: set[int], table_ids: set[int]) -> None:
    """The integer field ids (`["field", 1, ...]`, `source-field`) and table ids (`source-table`)
    that a query names."""
    if isinstance(node, list):
        if len(node) > 1 and node[0] == "field" and type(node[1]) is int:
            field_ids.add(node[1])
        for item in node:
            if isinstance(item, (list, dict)):
                _collect_ids(item, field_ids, table_ids)
    elif isinstance(node, dict):
        for key, value in node.items():
            if type(value) is int:
                if key in ("source-table", "source_table"):
                    table_ids.add(value)
                elif key in ("source-field", "source_field"):
                    field_ids.add(value)
            elif isinstance(value, (list, dict)):
                _collect_ids(value, field_ids, table_ids)


# Built once, the ids an expanding parameter: SQLAlchemy then computes each statement's cache key once,
# not for every query (building and keying them was a tenth of preparing a small query).
_IDS = bindparam("ids", expanding=True)
# Fields are read together with their tables (one statement, not two).
_WITH_TABLES = select(Field, Table).join(Table, Table.id == Field.table_id)
_FIELDS = _WITH_TABLES.where(Field.id.in_(_IDS))
_FIELDS_AND_FK_TARGETS = _WITH_TABLES.where(
    or_(Field.id.in_(_IDS), Field.id.in_(select(Field.fk_target_field_id).where(Field.id.in_(_IDS))))
)
_TABLES = select(Table).where(Table.id.in_(_IDS))


class Metadata:
    """Tables and fields of one database, loaded from the app DB on first use and then kept for the query."""

    def __init__(self, db: Session, database_id: int) -> None:
        self.db = db
        self.database_id = database_id
        self._fields: dict[int, Field] = {}
        self._tables: dict[int, Table] = {}
        self._table_fields: dict[int, list[Field]] = {}

    def _load_fields(self, statement: Select[tuple[Field, Table]], ids: Iterable[int]) -> None:
        missing = [i for i in set(ids) if i not in self._fields]
        if missing:
            for f, t in self.db.execute(statement, {"ids": missing}).tuples():
                self._fields[f.id] = f
                self._tables[t.id] = t

    def load_tables(self, ids: Iterable[int]) -> None:
        missing = {i for i in ids if i not in self._tables}
        if missing:
            for t in self.db.scalars(_TABLES, {"ids": list(missing)}):
                self._tables[t.id] = t

    def preload(self, query: Any) -> None:
        """Load every field and table `query` names up front, with the fields its foreign keys point to
        (what implicit joins reach) and the tables of them all: one app-DB query, and a second only for a
        table no field names, instead of one per reference as compilation meets them."""
        field_ids: set[int] = set()
        table_ids: set[int] = set()
        _collect_ids(query, field_ids, table_ids)
        self._load_fields(_FIELDS_AND_FK_TARGETS, field_ids)
        self.load_tables(table_ids)

    def field(self, field_id: int) -> Field | None:
        self._load_fields(_FIELDS, [field_id])
        return self._fields.get(field_id)

    def table(self, table_id: int) -> Table | None:
        self.load_tables([table_id])
        return self._tables.get(table_id)

    def table_fields(self, table_id: int) -> list[Field]:
        """The table's active, visible fields in their display order (what a bare `source-table` returns)."""
        if table_id not in self._table_fields:
            fields = list(
                self.db.scalars(
                    select(Field)
                    .where(
                        Field.table_id == table_id,
                        Field.active.is_(True),
                        Field.visibility_type.not_in(["sensitive", "retired"]),
                        Field.parent_id.is_(None),
                    )
                    .order_by(Field.position, Field.id)
                )
            )
            for f in fields:
                self._fields[f.id] = f
            self._table_fields[table_id] = fields
        return self._table_fields[table_id]

    def table_field_by_name(self, table_id: int, name: str) -> Field | None:
        return next((f for f in self.table_fields(table_id) if f.name == name), None)


@dataclass
class QueryContext:
    db: Session
    database: Database
    driver: SQLDriver
    user: User | None
    metadata: Metadata
    # Where the query comes from, as Metabase records it: "ad-hoc", "question", "csv-download", ...
    context: str = "ad-hoc"
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # The `report-timezone` setting (UTC when unset): the zone the query should run in.
    timezone: str = "UTC"
    start_of_week: str = "sunday"
    info: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def results_timezone(self) -> str:
        """The zone the query actually runs and answers in (Metabase's results timezone): the report timezone
        where the engine can run its session in it, else UTC. Relative dates, `now`, bucketing of zoned
        columns and the offsets of returned temporal values all follow it."""
        zone = self.timezone
        if zone == "UTC" or zone_info(zone) is None or Feature.SET_TIMEZONE not in self.driver.features:
            return "UTC"
        if not self.driver.named_timezones(self.database.id, dict(self.database.details or {})):
            return "UTC"
        return zone

    @property
    def session_timezone(self) -> str | None:
        """The zone to set the warehouse session to, None to leave it as it is (UTC)."""
        return None if self.results_timezone == "UTC" else self.results_timezone

    @property
    def zone(self) -> dt.tzinfo:
        """The results timezone itself."""
        return zone_info(self.results_timezone) or dt.UTC

    def local_now(self) -> dt.datetime:
        """The query's `now` as a naive wall-clock time in the results timezone."""
        now = self.now if self.now.tzinfo else self.now.replace(tzinfo=dt.UTC)
        return now.astimezone(self.zone).replace(tzinfo=None)


def zone_info(name: str) -> dt.tzinfo | None:
    """The time zone named `name` (an IANA name), None when there is no such zone."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
