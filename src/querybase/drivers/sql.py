"""`SQLDriver`: the shared driver for every engine SQLAlchemy speaks to.

It owns the connection pools (one per connected database, created on first use, rebuilt when the
details change, closed when the database is deleted), tests connections, and describes a database
for sync through SQLAlchemy's inspector. An engine subclass gives its URL, connection form, features
and type table, and overrides a method only where its engine differs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Double,
    Engine,
    Integer,
    case,
    cast,
    create_engine,
    event,
    extract,
    func,
    inspect,
    literal,
    literal_column,
    text,
)
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement

from querybase.drivers.base import ColumnInfo, ConnectionFailure, Driver, Feature, ForeignKeyInfo, TableInfo

CONNECT_TIMEOUT_SECONDS = 10
# The execution option naming the time zone a statement's session must run in (the report timezone, on
# engines that can set one); the engine's listener sets it before the statement and restores it at checkin.
SESSION_TIMEZONE = "querybase_session_timezone"

log = logging.getLogger(__name__)

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
    """Query-compilation hooks in ANSI/PostgreSQL SQL (`date_trunc`, `extract`, `percentile_cont`, ...);
    engines override only what their dialect does differently."""

    def truncate(self, unit: str, expr: Expr, start_of_week: str = "sunday") -> Expr:
        if unit == "week":
            # date_trunc('week') starts on Monday; shift so weeks start on the instance's first day.
            offset = (WEEKDAYS.index(start_of_week) - 1) % 7
            if offset == 0:
                return func.date_trunc(inline("week"), expr)
            shifted = expr + text(f"INTERVAL '{7 - offset} day'")
            return func.date_trunc(inline("week"), shifted) - text(f"INTERVAL '{7 - offset} day'")
        return func.date_trunc(inline(unit), expr)

    def as_date(self, expr: Expr) -> Expr:
        """A truncated DATE column back as a date (`date_trunc` answers a timestamp, shifted by the session's
        time zone on PostgreSQL)."""
        return cast(expr, Date)

    def date_part(self, part: str, expr: Expr) -> Expr:
        """One calendar field as an integer: second, minute, hour, day, doy, month, quarter, year, `dow`
        (1 = Sunday ... 7 = Saturday) or `isoweek`."""
        if part == "dow":
            return cast(extract("dow", expr), Integer) + literal_column("1")
        if part == "isoweek":
            return cast(extract("week", expr), Integer)
        # extract() answers a numeric (seconds have a fraction) and a cast would round it.
        return cast(self.floor(extract(part, expr)), Integer)

    def extract(self, unit: str, expr: Expr, start_of_week: str = "sunday") -> Expr:
        """Metabase's extraction units, built from `date_part`. Days of the week count 1..7 from the
        instance's first day; `week-of-year` is Metabase's: the day of the year of the week's first day,
        in sevenths, rounded up."""
        one, six, seven = literal_column("1"), literal_column("6"), literal_column("7")
        if unit in ("day-of-week", "day-of-week-iso"):
            first = "monday" if unit == "day-of-week-iso" else start_of_week
            shift = literal_column(str(6 - WEEKDAYS.index(first)))
            return (self.date_part("dow", expr) + shift) % seven + one
        if unit == "week-of-year":
            doy = self.date_part("doy", self.truncate("week", expr, start_of_week))
            return cast((doy + six) // seven, Integer)
        if unit == "week-of-year-iso":
            return self.date_part("isoweek", expr)
        if unit in ("week-of-year-us", "week-of-year-instance"):
            # Week 1 holds January 1st, week 2 starts on the first `first` day after it:
            # 1 + ceil((doy - days before that day) / 7), kept non-negative for integer division.
            first = "sunday" if unit == "week-of-year-us" else start_of_week
            jan1_weekday = self.extract("day-of-week", self.truncate("year", expr, first), first)
            doy = self.date_part("doy", expr)
            return cast((doy + jan1_weekday + literal_column("5")) // seven, Integer)
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
        return self.date_part(part, expr)

    def add_interval(self, expr: Expr, amount: int, unit: str) -> Expr:
        """`expr` moved by `amount` units; the amount is a bound parameter times a constant interval."""
        if unit == "quarter":
            amount, unit = amount * 3, "month"
        return expr + literal(amount) * text(f"INTERVAL '1 {unit}'")

    def temporal(self, expr: Expr, base_type: str) -> Expr:
        """A stored temporal column as the engine compares it (engines that store text override)."""
        return expr

    def temporal_literal(self, value: Any, base_type: str) -> Any:
        """A bound datetime/date value as the engine compares it with `temporal()` columns."""
        return value

    def floor(self, expr: Expr) -> Expr:
        return func.floor(expr)

    def truncate_number(self, expr: Expr) -> Expr:
        """A number rounded toward zero, as an integer."""
        return cast(func.trunc(expr), BigInteger)

    def seconds_between(self, start: Expr, end: Expr) -> Expr:
        """The time from `start` to `end` in seconds, with its fraction (negative when `end` is earlier)."""
        return extract("epoch", end) - extract("epoch", start)

    def days_between(self, start: Expr, end: Expr) -> Expr:
        """Whole calendar days from the date of `start` to the date of `end`, times of day ignored."""
        return cast(end, Date) - cast(start, Date)

    def convert_timezone(self, expr: Expr, target: str, source: str | None, session: str) -> Expr:
        """The wall-clock time in `target` (a naive timestamp) of an instant: a zoned value (`source` None),
        or a naive one read in `source`. `session` is the zone the session runs in. Zone names are bound."""
        zoned = expr if source is None else func.timezone(literal(source), expr)
        return func.timezone(literal(target), zoned)

    def to_float(self, expr: Expr) -> Expr:
        """A number as a double, so `/` never divides integers."""
        return cast(expr, Double)

    def order(self, expr: Expr, *, descending: bool) -> Expr:
        """NULLs first ascending and last descending, as H2, MySQL and SQLite sort them, on every engine."""
        return expr.desc().nulls_last() if descending else expr.asc().nulls_first()

    def median(self, expr: Expr) -> Expr:
        return self.percentile(expr, 0.5)

    def percentile(self, expr: Expr, p: float) -> Expr:
        return func.percentile_cont(literal_column(repr(float(p)))).within_group(expr)

    def stddev(self, expr: Expr) -> Expr:
        return func.stddev_pop(expr)

    def variance(self, expr: Expr) -> Expr:
        return func.var_pop(expr)

    def regex_match_first(self, expr: Expr, pattern: str) -> Expr:
        """The first match of `pattern` (bound) in `expr`, or NULL."""
        return func.substring(expr, literal(pattern))

    def text_length(self, expr: Expr) -> Expr:
        """The number of characters of a text."""
        return func.length(expr)

    def string_match(self, kind: str, expr: Expr, needle: str, *, case_sensitive: bool) -> Expr:
        """`contains`, `starts-with` or `ends-with`, as LIKE with the needle's wildcards escaped;
        case-insensitive matches compare lower-cased text."""
        if not case_sensitive:
            expr, needle = func.lower(expr), needle.lower()
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
        engine = create_engine(self.url(details), **options)
        if Feature.SET_TIMEZONE in self.features:
            event.listen(engine, "before_execute", self._apply_session_timezone)
            event.listen(engine, "checkin", self._restore_session_timezone)
        return engine

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

    def cancel(self, database_id: int, details: dict[str, Any], conn: Connection) -> None:
        """Stop the statement running on `conn`; called from another thread (query timeout). psycopg's
        cancel request by default; engines without one override this."""
        conn.connection.dbapi_connection.cancel()  # type: ignore[union-attr]

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

    # -------------------------------------------------------------------------------------------
    # Session time zone (Metabase's `set-timezone` feature: the report timezone for a query's session)

    # SQL that answers a non-null value when the engine knows named time zones, for engines where that
    # depends on the installation (MySQL's time zone tables, DuckDB's ICU extension); None: it always does.
    named_timezone_probe: ClassVar[str | None] = None

    def named_timezones(self, database_id: int, details: dict[str, Any]) -> bool:
        """Whether the database knows named time zones (`Europe/Rome`), asked once per connection pool."""
        if self.named_timezone_probe is None:
            return True
        engine = POOLS.engine(self, database_id, details)
        known = _NAMED_TIMEZONES.get(engine)
        if known is None:
            try:
                with engine.connect() as conn:
                    known = conn.exec_driver_sql(self.named_timezone_probe).scalar() is not None
            except Exception:
                log.info("database %s: no named time zones", database_id, exc_info=True)
                return False
            _NAMED_TIMEZONES[engine] = known
        return known

    # The statement that sets the session's time zone, the zone as its one parameter, in the DB-API's
    # paramstyle; and the one that restores the default (None where the rollback at checkin does).
    set_timezone_sql: ClassVar[str | None] = None
    reset_timezone_sql: ClassVar[str | None] = None

    def _apply_session_timezone(
        self, conn: Connection, clause: Any, multiparams: Any, params: Any, options: Any
    ) -> None:
        zone = options.get(SESSION_TIMEZONE)
        if zone and self.set_timezone_sql and conn.info.get(SESSION_TIMEZONE) != zone:
            # On the DB-API connection: a statement through `conn` would take its streaming options.
            _run(conn.connection.dbapi_connection, self.set_timezone_sql, (zone,))
            conn.info[SESSION_TIMEZONE] = zone

    def _restore_session_timezone(self, dbapi_connection: Any, record: Any) -> None:
        zone = record.info.pop(SESSION_TIMEZONE, None)
        if zone is None or dbapi_connection is None or self.reset_timezone_sql is None:
            return
        try:
            _run(dbapi_connection, self.reset_timezone_sql, ())
        except Exception as exc:
            # A connection still in another time zone must not serve the next query.
            record.invalidate(exc)


def _run(dbapi_connection: Any, sql: str, params: tuple[Any, ...]) -> None:
    cursor = dbapi_connection.cursor()
    try:
        if params:
            cursor.execute(sql, params)
        else:
            cursor.execute(sql)
    finally:
        cursor.close()


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
# `named_timezones` answers by connection pool (a new pool, after the details change, asks again).
_NAMED_TIMEZONES: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
