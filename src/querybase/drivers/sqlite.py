"""SQLite: a database file on the server's disk. Types follow SQLite's affinity rules."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, String, cast, func, literal, literal_column, text
from sqlalchemy.engine import URL

from querybase.drivers import types as t
from querybase.drivers.base import (
    DB_FILE_NOT_FOUND,
    ColumnInfo,
    ConnectionFailure,
    ConnectionProperty,
    Feature,
    ForeignKeyInfo,
    TableInfo,
)
from querybase.drivers.sql import BASE_SQL_FEATURES, WEEKDAYS, Expr, SQLDriver, inline
from querybase.query_processor.errors import UnsupportedFeature


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SQLiteDriver(SQLDriver):
    engine = "sqlite"
    sqlalchemy_driver = "sqlite"
    display_name = "SQLite"
    connection_properties = (
        ConnectionProperty(
            "db", "Filename", placeholder="/home/camsaul/toucan_sightings.sqlite 😋", required=True
        ),
    )
    # Metabase's SQLite driver turns these off too.
    features = (
        BASE_SQL_FEATURES
        - {
            Feature.FULL_JOIN,
            Feature.RIGHT_JOIN,
            Feature.STANDARD_DEVIATION,
            Feature.ADVANCED_MATH,
            Feature.CASE_SENSITIVITY,
        }
    ) | {Feature.DATETIME_DIFF}
    secret_properties = frozenset()
    # Metabase's SQLite rules: searched in the declared type, first match wins (so NUMERIC is a float).
    type_map = (
        (r"bigint|big int", t.BIG_INTEGER),
        (r"int", t.INTEGER),
        (r"char|text|clob", t.TEXT),
        (r"blob", "type/*"),
        (r"real|doub|floa|numeric", t.FLOAT),
        (r"decimal", t.DECIMAL),
        (r"boolean", t.BOOLEAN),
        (r"timestamp|datetime", t.DATETIME),
        (r"date", t.DATE),
        (r"time", t.TIME),
    )

    def url(self, details: dict[str, Any]) -> URL:
        path = str(details.get("db") or "").removeprefix("file:")
        if not path or not os.path.isfile(path):
            raise DB_FILE_NOT_FOUND
        # Opened read-only through an SQLite URI: querybase never writes to a connected database.
        return URL.create(
            "sqlite", database=Path(path).resolve().as_uri(), query={"mode": "ro", "uri": "true"}
        )

    def engine_options(self, details: dict[str, Any]) -> dict[str, Any]:
        # A connection to a local file cannot be dropped the way a server's can: no ping before each use.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}, "pool_pre_ping": False}

    def cancel(self, database_id: int, details: dict[str, Any], conn: Connection) -> None:
        conn.connection.dbapi_connection.interrupt()  # type: ignore[union-attr]

    def humanize_error(self, error: BaseException) -> ConnectionFailure:
        if "unable to open database file" in str(error):
            return DB_FILE_NOT_FOUND
        return super().humanize_error(error)

    def schemas(self, conn: Connection) -> list[str | None]:
        return [None]

    def describe_database(self, conn: Connection) -> list[TableInfo]:
        rows = conn.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        )
        return [TableInfo(None, name) for (name,) in rows]

    def describe_table(self, conn: Connection, table: TableInfo) -> list[ColumnInfo]:
        rows = conn.exec_driver_sql(f"PRAGMA table_info({_quote(table.name)})").all()
        pk_columns = [row for row in rows if row[5]]
        columns = []
        for cid, name, declared, notnull, default, pk in rows:
            native = (declared or "").upper() or "TEXT"
            # A lone INTEGER PRIMARY KEY is SQLite's rowid alias: it fills itself in.
            auto = bool(pk) and len(pk_columns) == 1 and native == "INTEGER"
            columns.append(
                ColumnInfo(
                    name=name,
                    database_type=native,
                    base_type=self.base_type(native),
                    position=cid,
                    pk=bool(pk),
                    required=bool(notnull) and default is None and not auto,
                    auto_increment=auto,
                )
            )
        return columns

    def describe_fks(self, conn: Connection, table: TableInfo) -> list[ForeignKeyInfo]:
        rows = conn.exec_driver_sql(f"PRAGMA foreign_key_list({_quote(table.name)})").all()
        fks = []
        for row in rows:
            target_table, column, target_column = row[2], row[3], row[4]
            if target_column is None:
                pk = [r for r in conn.exec_driver_sql(f"PRAGMA table_info({_quote(target_table)})") if r[5]]
                target_column = pk[0][1] if pk else None
            if target_column is not None:
                fks.append(ForeignKeyInfo(column, None, target_table, target_column))
        return fks

    def dbms_version(self, conn: Connection) -> dict[str, Any]:
        version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
        return {
            "flavor": "SQLite",
            "version": version,
            "semantic-version": [int(p) for p in version.split(".")[:2]],
        }

    # --- Temporal SQL: SQLite has no date types; values are ISO text, handled with its date functions.

    def temporal(self, expr: Expr, base_type: str) -> Expr:
        return func.date(expr) if base_type == t.DATE else func.datetime(expr)

    def temporal_literal(self, value: Any, base_type: str) -> Any:
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d" if base_type == t.DATE else "%Y-%m-%d %H:%M:%S")
        if isinstance(value, dt.date):
            return value.isoformat() if base_type == t.DATE else f"{value.isoformat()} 00:00:00"
        return value

    def truncate(self, unit: str, expr: Expr, start_of_week: str = "sunday") -> Expr:
        formats = {
            "second": "%Y-%m-%d %H:%M:%S",
            "minute": "%Y-%m-%d %H:%M:00",
            "hour": "%Y-%m-%d %H:00:00",
        }
        if unit in formats:
            return func.strftime(inline(formats[unit]), expr)
        if unit == "day":
            return func.date(expr)
        if unit == "month":
            return func.date(expr, inline("start of month"))
        if unit == "year":
            return func.date(expr, inline("start of year"))
        if unit == "quarter":
            months_back = (cast(func.strftime(inline("%m"), expr), Integer) - 1) % 3
            return func.date(expr, inline("start of month"), "-" + cast(months_back, String) + " months")
        if unit == "week":
            weekday = cast(func.strftime(inline("%w"), expr), Integer)
            days_back = (weekday - WEEKDAYS.index(start_of_week) + 7) % 7
            return func.date(expr, "-" + cast(days_back, String) + " days")
        raise UnsupportedFeature(f"Unsupported temporal bucketing: {unit}")

    def as_date(self, expr: Expr) -> Expr:
        return func.date(expr)

    def date_part(self, part: str, expr: Expr) -> Expr:
        if part == "quarter":
            return (self.date_part("month", expr) + literal_column("2")) // literal_column("3")
        if part == "isoweek":
            # The ISO week is the one holding the week's Thursday: count that Thursday's weeks of the year.
            thursday = func.date(expr, inline("-3 days"), inline("weekday 4"))
            one, seven = literal_column("1"), literal_column("7")
            return (self.date_part("doy", thursday) - one) // seven + one
        if part == "dow":
            return cast(func.strftime(inline("%w"), expr), Integer) + literal_column("1")
        code = {
            "second": "%S",
            "minute": "%M",
            "hour": "%H",
            "day": "%d",
            "doy": "%j",
            "month": "%m",
            "year": "%Y",
        }
        return cast(func.strftime(inline(code[part]), expr), Integer)

    def add_interval(self, expr: Expr, amount: int, unit: str) -> Expr:
        """SQLite's date modifiers (`'+3 months'`), built in SQL from the bound amount."""
        scale, modifier = {
            "year": (1, "years"),
            "quarter": (3, "months"),
            "month": (1, "months"),
            "week": (7, "days"),
            "day": (1, "days"),
            "hour": (1, "hours"),
            "minute": (1, "minutes"),
            "second": (1, "seconds"),
            "millisecond": (0.001, "seconds"),
        }[unit]
        pattern = ("%+f " if unit == "millisecond" else "%+d ") + modifier
        return func.datetime(expr, func.printf(inline(pattern), literal(amount * scale)))

    def floor(self, expr: Expr) -> Expr:
        """Without `floor()`: SQLAlchemy replaces SQLite's own with a Python function that fails on NULL."""
        whole = cast(expr, Integer)
        return whole - cast(expr < whole, Integer)

    def truncate_number(self, expr: Expr) -> Expr:
        """SQLite's CAST to INTEGER drops the fraction."""
        return cast(expr, Integer)

    def seconds_between(self, start: Expr, end: Expr) -> Expr:
        """From Julian days, to the millisecond (their precision as doubles)."""
        days = func.julianday(end) - func.julianday(start)
        return func.round(days * literal_column("86400000")) / literal_column("1000.0")

    def days_between(self, start: Expr, end: Expr) -> Expr:
        return cast(func.julianday(func.date(end)) - func.julianday(func.date(start)), Integer)

    def order(self, expr: Expr, *, descending: bool) -> Expr:
        """SQLite already sorts NULLs first ascending and last descending."""
        return expr.desc() if descending else expr.asc()

    def string_match(self, kind: str, expr: Expr, needle: str, *, case_sensitive: bool) -> Expr:
        """SQLite's LIKE ignores ASCII case, so case-sensitive matches compare substrings instead."""
        if not case_sensitive:
            return super().string_match(kind, expr, needle, case_sensitive=False)
        if kind == "contains":
            return func.instr(expr, needle) > 0
        size = len(needle)
        if kind == "starts-with":
            return func.substr(expr, 1, size) == needle
        return func.substr(expr, -size, size) == needle if size else expr.is_not(None)
