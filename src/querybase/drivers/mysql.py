"""MySQL and MariaDB: PyMySQL. Each MySQL "database" is one schema; querybase syncs the one named in
the details, and reports no schema for its tables, as Metabase does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Double,
    String,
    cast,
    func,
    literal,
    literal_column,
    text,
    type_coerce,
)
from sqlalchemy.dialects.mysql import BINARY
from sqlalchemy.engine import URL

from querybase.drivers import types as t
from querybase.drivers.base import (
    ADDITIONAL_OPTIONS,
    CANNOT_CONNECT,
    DATABASE_NAME_INCORRECT,
    DBNAME,
    HOST,
    INVALID_HOSTNAME,
    PASSWORD,
    SSL,
    USER,
    USERNAME_OR_PASSWORD_INCORRECT,
    ColumnInfo,
    Feature,
    ForeignKeyInfo,
    TableInfo,
    port,
)
from querybase.drivers.sql import (
    BASE_SQL_FEATURES,
    CONNECT_TIMEOUT_SECONDS,
    WEEKDAYS,
    Expr,
    SQLDriver,
    inline,
)
from querybase.query_processor.errors import UnsupportedFeature


class MySQLDriver(SQLDriver):
    engine = "mysql"
    sqlalchemy_driver = "mysql+pymysql"
    display_name = "MySQL"
    connection_properties = (HOST, port(3306), DBNAME, USER, PASSWORD, SSL, ADDITIONAL_OPTIONS)
    features = (BASE_SQL_FEATURES - {Feature.FULL_JOIN}) | {
        Feature.REGEX,
        Feature.DATETIME_DIFF,
        Feature.CONVERT_TIMEZONE,
        Feature.SET_TIMEZONE,
        Feature.WINDOW_FUNCTIONS_OFFSET,
    }
    # Named zones need the server's time zone tables (`mysql_tzinfo_to_sql`); without them CONVERT_TZ
    # answers NULL and `SET time_zone = 'Europe/Rome'` fails.
    named_timezone_probe = "SELECT CONVERT_TZ('2000-01-01 00:00:00', 'UTC', 'Europe/Paris')"
    set_timezone_sql = "SET time_zone = %s"
    reset_timezone_sql = "SET time_zone = DEFAULT"
    type_map = (
        (r"^bigint", t.BIG_INTEGER),
        (r"^tinyint\(1\)$|^bit$|^bool", t.BOOLEAN),
        (r"^(int|integer|mediumint|smallint|tinyint|year)", t.INTEGER),
        (r"^(decimal|numeric|dec|fixed)", t.DECIMAL),
        (r"^(double|float|real)", t.FLOAT),
        (r"^date$", t.DATE),
        (r"^timestamp", t.DATETIME_TZ),
        (r"^datetime", t.DATETIME),
        (r"^time", t.TIME),
        (r"^json$", t.JSON),
        (r"(char|text|enum|set)", t.TEXT),
    )
    error_messages = (
        (r"Access denied for user", USERNAME_OR_PASSWORD_INCORRECT),
        (r"Unknown database", DATABASE_NAME_INCORRECT),
        (r"Unknown MySQL server host|Name or service not known", INVALID_HOSTNAME),
        (r"Can't connect to MySQL server|Connection refused|timed out", CANNOT_CONNECT),
    )

    def url(self, details: dict[str, Any]) -> URL:
        return URL.create(
            "mysql+pymysql",
            username=details.get("user") or None,
            password=details.get("password") or None,
            host=details.get("host") or "localhost",
            port=int(details.get("port") or 3306),
            database=details.get("dbname") or details.get("db") or None,
            query={"charset": "utf8mb4"},
        )

    def engine_options(self, details: dict[str, Any]) -> dict[str, Any]:
        connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        if details.get("ssl"):
            connect_args["ssl"] = {"check_hostname": False}
        return {"connect_args": connect_args, "pool_recycle": 3600}

    def cancel(self, database_id: int, details: dict[str, Any], conn: Connection) -> None:
        """MySQL has no cancel request on the connection itself: `KILL QUERY` it from another one."""
        thread_id = int(conn.connection.dbapi_connection.thread_id())  # type: ignore[union-attr]
        with self.connection(database_id, details) as killer:
            killer.exec_driver_sql("KILL QUERY %s", (thread_id,))

    def schemas(self, conn: Connection) -> list[str | None]:
        return [None]

    def describe_table(self, conn: Connection, table: TableInfo) -> list[ColumnInfo]:
        rows = conn.execute(
            text(
                """
                SELECT column_name, data_type, column_type, ordinal_position, is_nullable, column_default,
                       extra, column_key, column_comment
                FROM information_schema.columns
                WHERE table_schema = DATABASE() AND table_name = :table
                ORDER BY ordinal_position
                """
            ),
            {"table": table.name},
        )
        columns = []
        for name, data_type, column_type, ordinal, nullable, default, extra, key, comment in rows:
            native = "BIT" if column_type == "tinyint(1)" else data_type.upper()
            auto = "auto_increment" in (extra or "")
            columns.append(
                ColumnInfo(
                    name=name,
                    database_type=native,
                    base_type=self.base_type(column_type if column_type == "tinyint(1)" else data_type),
                    position=ordinal - 1,
                    pk=key == "PRI",
                    required=nullable == "NO" and default is None and not auto,
                    auto_increment=auto,
                    description=comment or None,
                )
            )
        return columns

    def describe_fks(self, conn: Connection, table: TableInfo) -> list[ForeignKeyInfo]:
        rows = conn.execute(
            text(
                """
                SELECT column_name, referenced_table_name, referenced_column_name
                FROM information_schema.key_column_usage
                WHERE table_schema = DATABASE() AND table_name = :table AND referenced_table_name IS NOT NULL
                """
            ),
            {"table": table.name},
        )
        return [ForeignKeyInfo(column, None, target, target_column) for column, target, target_column in rows]

    # --- Temporal SQL in MySQL's dialect (no date_trunc).

    def truncate(self, unit: str, expr: Expr, start_of_week: str = "sunday") -> Expr:
        formats = {
            "second": "%Y-%m-%d %H:%i:%s",
            "minute": "%Y-%m-%d %H:%i:00",
            "hour": "%Y-%m-%d %H:00:00",
        }
        if unit in formats:
            return func.str_to_date(
                func.date_format(expr, inline(formats[unit])), inline("%Y-%m-%d %H:%i:%s")
            )
        if unit == "day":
            return func.date(expr)
        if unit == "week":
            days_back = (func.dayofweek(expr) - 1 - WEEKDAYS.index(start_of_week) + 7) % 7
            return func.adddate(func.date(expr), -days_back)
        if unit == "month":
            return func.str_to_date(func.date_format(expr, inline("%Y-%m-01")), inline("%Y-%m-%d"))
        if unit == "quarter":
            first_month = (func.quarter(expr) - 1) * 3 + 1
            return func.str_to_date(func.concat(func.year(expr), "-", first_month, "-01"), inline("%Y-%c-%d"))
        if unit == "year":
            return func.makedate(func.year(expr), 1)
        raise UnsupportedFeature(f"Unsupported temporal bucketing: {unit}")

    def as_date(self, expr: Expr) -> Expr:
        return func.date(expr)

    def date_part(self, part: str, expr: Expr) -> Expr:
        if part == "isoweek":
            # Mode 3: weeks start on Monday, week 1 is the first with four days in the year (ISO 8601).
            return func.week(expr, literal_column("3"))
        function = {
            "second": func.second,
            "minute": func.minute,
            "hour": func.hour,
            "day": func.dayofmonth,
            "doy": func.dayofyear,
            "month": func.month,
            "quarter": func.quarter,
            "year": func.year,
            "dow": func.dayofweek,
        }[part]
        return function(expr)

    def add_interval(self, expr: Expr, amount: int, unit: str) -> Expr:
        if unit == "millisecond":
            amount, unit = amount * 1000, "microsecond"
        return func.timestampadd(literal_column(unit.upper()), literal(amount), expr)

    def truncate_number(self, expr: Expr) -> Expr:
        return cast(func.truncate(expr, literal_column("0")), BigInteger)

    def seconds_between(self, start: Expr, end: Expr) -> Expr:
        return func.timestampdiff(literal_column("MICROSECOND"), start, end) / literal_column("1000000e0")

    def days_between(self, start: Expr, end: Expr) -> Expr:
        return func.datediff(end, start)

    def convert_timezone(self, expr: Expr, target: str, source: str | None, session: str) -> Expr:
        """A TIMESTAMP column's values are read in the session's zone."""
        return func.convert_tz(expr, literal(source or session), literal(target))

    def to_float(self, expr: Expr) -> Expr:
        """SQLAlchemy drops CAST(... AS DOUBLE) on MySQL; multiplying by a double literal converts too."""
        return type_coerce(expr * literal_column("1e0"), Double)

    def text_length(self, expr: Expr) -> Expr:
        """LENGTH() counts bytes on MySQL."""
        return func.char_length(expr)

    def order(self, expr: Expr, *, descending: bool) -> Expr:
        """MySQL has no NULLS FIRST/LAST, and already sorts NULLs first ascending."""
        return expr.desc() if descending else expr.asc()

    def string_match(self, kind: str, expr: Expr, needle: str, *, case_sensitive: bool) -> Expr:
        """Text columns usually have a case-insensitive collation: case-sensitive matches compare bytes."""
        if case_sensitive:
            # Typed as text on the Python side, so the needle is still bound as a string.
            expr = type_coerce(cast(expr, BINARY), String)
        return super().string_match(kind, expr, needle, case_sensitive=case_sensitive)

    def regex_match_first(self, expr: Expr, pattern: str) -> Expr:
        """Matched case-sensitively, as on the other engines (a text column's collation would not be)."""
        return func.regexp_substr(expr, literal("(?-i)" + pattern))
