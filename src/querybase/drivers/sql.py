"""`SQLDriver`: the shared driver for every engine SQLAlchemy speaks to.

It owns the connection pools (one per connected database, created on first use, rebuilt when the
details change, closed when the database is deleted), tests connections, and describes a database
for sync through SQLAlchemy's inspector. An engine subclass gives its URL, connection form, features
and type table, and overrides a method only where its engine differs.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    case,
    cast,
    create_engine,
    func,
    inspect,
    literal_column,
    text,
)
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement

from querybase.drivers.base import ColumnInfo, ConnectionFailure, Driver, Feature, ForeignKeyInfo, TableInfo

CONNECT_TIMEOUT_SECONDS = 10

BASE_SQL_FEATURES = frozenset(
    {
        Feature.BASIC_AGGREGATIONS,
        Feature.STANDARD_DEVIATION,
        Feature.EXPRESSIONS,
        Feature.EXPRESSION_AGGREGATIONS,
        Feature.NATIVE_PARAMETERS,
        Feature.NESTED_QUERIES,
        Feature.BINNING,
        Feature.KEY_CONSTRAINTS,
        Feature.CASE_SENSITIVITY,
        Feature.LEFT_JOIN,
        Feature.RIGHT_JOIN,
        Feature.INNER_JOIN,
        Feature.FULL_JOIN,
        Feature.ADVANCED_MATH,
        Feature.NOW,
        Feature.TEMPORAL_EXTRACT,
        Feature.DATE_ARITHMETICS,
        Feature.WINDOW_FUNCTIONS_CUMULATIVE,
        Feature.DISTINCT_WHERE,
    }
)


# Metabase numbers days of the week 1-7 from the instance's first day of the week.
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

Expr = ColumnElement[Any]


def inline(sql: str) -> Expr:
    """A SQL-shape constant (a date-part name, a format string) inlined, never a user value. Inlining
    also keeps PostgreSQL from seeing `date_trunc($1, c)` in SELECT and `date_trunc($2, c)` in GROUP BY
    as different expressions."""
    return literal_column("'" + sql.replace("'", "''") + "'")


class SQLTemporal:
    """Date bucketing and extraction in ANSI/PostgreSQL SQL (`date_trunc`, `extract`); engines override."""

    def truncate(self, unit: str, expr: Expr, start_of_week: str = "sunday") -> Expr:
        if unit == "week":
            # date_trunc('week') starts on Monday; shift so weeks start on the instance's first day.
            offset = (WEEKDAYS.index(start_of_week) - 1) % 7
            if offset == 0:
                return func.date_trunc(inline("week"), expr)
            shifted = expr + text(f"INTERVAL '{7 - offset} day'")
            return func.date_trunc(inline("week"), shifted) - text(f"INTERVAL '{7 - offset} day'")
        return func.date_trunc(inline(unit), expr)

    def extract(self, unit: str, expr: Expr, start_of_week: str = "sunday") -> Expr:
        if unit == "day-of-week":
            # extract(dow) is 0 = Sunday; Metabase counts 1..7 from the first day of the week.
            dow = cast(func.extract(inline("dow"), expr), Integer)
            return (dow - WEEKDAYS.index(start_of_week) + 7) % 7 + 1
        if unit == "week-of-year":
            return cast(func.extract(inline("week"), expr), Integer)
        part = {
            "second-of-minute": "second",
            "minute-of-hour": "minute",
            "hour-of-day": "hour",
            "day-of-month": "day",
            "day-of-year": "doy",
            "month-of-year": "month",
            "quarter-of-year": "quarter",
            "year-of-era": "year",
        }[unit]
        return cast(func.floor(func.extract(inline(part), expr)), Integer)

    def temporal(self, expr: Expr, base_type: str) -> Expr:
        """A stored temporal column as the engine compares it (engines that store text override)."""
        return expr

    def temporal_literal(self, value: Any, base_type: str) -> Any:
        """A bound datetime/date value as the engine compares it with `temporal()` columns."""
        return value

    def median(self, expr: Expr) -> Expr:
        return self.percentile(expr, 0.5)

    def percentile(self, expr: Expr, p: float) -> Expr:
        return func.percentile_cont(p).within_group(expr)

    def stddev(self, expr: Expr) -> Expr:
        return func.stddev_pop(expr)

    def variance(self, expr: Expr) -> Expr:
        return func.var_pop(expr)

    def regex_match_first(self, expr: Expr, pattern: Any) -> Expr:
        return func.substring(expr, pattern)

    def string_match(self, kind: str, expr: Expr, needle: str, *, case_sensitive: bool) -> Expr:
        """`contains`, `starts-with` or `ends-with`, as LIKE with the needle's wildcards escaped."""
        method = {"contains": expr.contains, "starts-with": expr.startswith, "ends-with": expr.endswith}[kind]
        return method(needle, autoescape=True)


class SQLDriver(SQLTemporal, Driver):
    features = BASE_SQL_FEATURES
    # The SQLAlchemy dialect and DBAPI driver, e.g. "postgresql+psycopg".
    sqlalchemy_driver: ClassVar[str]
    # Schemas that belong to the engine itself and are never synced.
    system_schemas: ClassVar[frozenset[str]] = frozenset()

    # -------------------------------------------------------------------------------------------
    # Connections

    def url(self, details: dict[str, Any]) -> URL:
        raise NotImplementedError

    def engine_options(self, details: dict[str, Any]) -> dict[str, Any]:
        """Extra `create_engine` options (connect timeouts, SSL)."""
        return {}

    def dialect(self) -> Dialect:
        """The SQLAlchemy dialect, for compiling SQL to show (`native_form`) without a connection."""
        return URL.create(self.sqlalchemy_driver).get_dialect()()

    def create_engine(self, details: dict[str, Any], *, pooled: bool = True) -> Engine:
        options = self.engine_options(details)
        if not pooled:
            options["poolclass"] = NullPool
        else:
            options.setdefault("pool_pre_ping", True)
        return create_engine(self.url(details), **options)

    def if_(self, condition: Expr, then: Any, otherwise: Any = None) -> Expr:
        return case((condition, then), else_=otherwise)

    def can_connect(self, details: dict[str, Any]) -> None:
        """Raise `ConnectionFailure` with Metabase's message when `details` do not reach a database."""
        try:
            engine = self.create_engine(details, pooled=False)
        except ConnectionFailure:
            raise
        except Exception as exc:
            raise self.humanize_error(exc) from exc
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise self.humanize_error(exc) from exc
        finally:
            engine.dispose()

    @contextmanager
    def connection(self, database_id: int, details: dict[str, Any]) -> Iterator[Connection]:
        with POOLS.engine(self, database_id, details).connect() as conn:
            yield conn

    # -------------------------------------------------------------------------------------------
    # Describing a database for sync

    def dbms_version(self, conn: Connection) -> dict[str, Any]:
        info = conn.dialect.server_version_info
        version = ".".join(str(part) for part in info) if info else None
        return {"flavor": conn.dialect.name, "version": version, "semantic-version": list(info or [])[:2]}

    def schemas(self, conn: Connection) -> list[str | None]:
        names = inspect(conn).get_schema_names()
        return [name for name in names if name not in self.system_schemas]

    def describe_database(self, conn: Connection) -> list[TableInfo]:
        inspector = inspect(conn)
        tables = []
        for schema in self.schemas(conn):
            for name in inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema):
                tables.append(TableInfo(schema, name))
        return tables

    def describe_table(self, conn: Connection, table: TableInfo) -> list[ColumnInfo]:
        inspector = inspect(conn)
        pk = set(
            inspector.get_pk_constraint(table.name, schema=table.schema).get("constrained_columns") or []
        )
        columns = []
        for position, column in enumerate(inspector.get_columns(table.name, schema=table.schema)):
            database_type = self.database_type(column)
            columns.append(
                ColumnInfo(
                    name=column["name"],
                    database_type=database_type,
                    base_type=self.base_type(database_type),
                    position=position,
                    pk=column["name"] in pk,
                    required=not column.get("nullable", True) and column.get("default") is None,
                    auto_increment=bool(column.get("autoincrement") is True),
                    description=column.get("comment"),
                )
            )
        return columns

    def database_type(self, column: dict[str, Any]) -> str:
        """The native type name as the database reports it (`int4`, `VARCHAR`, ...)."""
        try:
            return column["type"].compile()
        except Exception:
            return str(column["type"].__class__.__name__).upper()

    def describe_fks(self, conn: Connection, table: TableInfo) -> list[ForeignKeyInfo]:
        fks = []
        for fk in inspect(conn).get_foreign_keys(table.name, schema=table.schema):
            for column, target in zip(fk["constrained_columns"], fk["referred_columns"], strict=False):
                fks.append(
                    ForeignKeyInfo(
                        column=column,
                        target_schema=fk.get("referred_schema") or table.schema,
                        target_table=fk["referred_table"],
                        target_column=target,
                    )
                )
        return fks


class Pools:
    """Connection pools per connected database, keyed by database id, replaced when details change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[int, tuple[str, Engine]] = {}

    def engine(self, driver: SQLDriver, database_id: int, details: dict[str, Any]) -> Engine:
        fingerprint = hashlib.sha256(orjson.dumps(details, option=orjson.OPT_SORT_KEYS)).hexdigest()
        with self._lock:
            known = self._engines.get(database_id)
            if known is not None and known[0] == fingerprint:
                return known[1]
            engine = driver.create_engine(details)
            self._engines[database_id] = (fingerprint, engine)
        if known is not None:
            known[1].dispose()
        return engine

    def close(self, database_id: int) -> None:
        with self._lock:
            known = self._engines.pop(database_id, None)
        if known is not None:
            known[1].dispose()

    def close_all(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for _, engine in engines:
            engine.dispose()


POOLS = Pools()
