"""DuckDB: a database file on the server's disk, through duckdb-engine.

duckdb-engine inherits SQLAlchemy's PostgreSQL inspector, whose catalog queries DuckDB does not
answer (it lacks `regclass`), so this driver describes tables from DuckDB's own catalog functions.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, func, literal, literal_column, text
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
from querybase.drivers.sql import BASE_SQL_FEATURES, Expr, SQLDriver

# Metabase's message, pointing at DuckDB's own form field (`database_file`, not `db`).
FILE_NOT_FOUND = ConnectionFailure(
    DB_FILE_NOT_FOUND.message, {"database_file": "check your connection string"}
)


class DuckDBDriver(SQLDriver):
    engine = "duckdb"
    sqlalchemy_driver = "duckdb"
    display_name = "DuckDB"
    connection_properties = (
        ConnectionProperty(
            "database_file", "Database file", placeholder="/home/metabase/data.duckdb", required=True
        ),
        ConnectionProperty("read_only", "Establish a read-only connection", type="boolean", default=True),
    )
    features = BASE_SQL_FEATURES | {
        Feature.SCHEMAS,
        Feature.REGEX,
        Feature.PERCENTILE,
        Feature.DATETIME_DIFF,
        Feature.CONVERT_TIMEZONE,
        Feature.SET_TIMEZONE,
        Feature.WINDOW_FUNCTIONS_OFFSET,
    }
    # Time zones come with the ICU extension (built into DuckDB's Python package, optional elsewhere).
    named_timezone_probe = "SELECT timezone('UTC', TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    set_timezone_sql = "SET TimeZone = ?"
    reset_timezone_sql = "RESET TimeZone"
    secret_properties = frozenset({"motherduck_token"})
    system_schemas = frozenset({"information_schema", "pg_catalog"})
    type_map = (
        (r"^(bigint|int8|long|hugeint|ubigint|uhugeint)$", t.BIG_INTEGER),
        (
            r"^(integer|int4|int|signed|smallint|int2|short|tinyint|int1|uinteger|usmallint|utinyint)$",
            t.INTEGER,
        ),
        (r"^(decimal|numeric)", t.DECIMAL),
        (r"^(double|float8|float|float4|real)$", t.FLOAT),
        (r"^(boolean|bool|logical)$", t.BOOLEAN),
        (r"^date$", t.DATE),
        (r"^(timestamp with time zone|timestamptz)$", t.DATETIME_TZ),
        (r"^(timestamp|datetime|timestamp_s|timestamp_ms|timestamp_ns)$", t.DATETIME),
        (r"^(time with time zone|timetz)$", t.TIME_TZ),
        (r"^time$", t.TIME),
        (r"^uuid$", t.UUID),
        (r"^json$", t.JSON),
        (r"\[\]$", t.ARRAY),
        (r"^(varchar|char|bpchar|text|string|enum)", t.TEXT),
    )

    def _path(self, details: dict[str, Any]) -> str:
        return str(details.get("database_file") or details.get("db") or "")

    def url(self, details: dict[str, Any]) -> URL:
        path = self._path(details)
        if not path or (path != ":memory:" and not os.path.isfile(path)):
            raise FILE_NOT_FOUND
        return URL.create("duckdb", database=path)

    def engine_options(self, details: dict[str, Any]) -> dict[str, Any]:
        read_only = details.get("read_only", True) is not False
        # An in-process engine on a local file: no connection to drop, so no ping before each use.
        return {"connect_args": {"read_only": read_only}, "pool_pre_ping": False}

    def cancel(self, database_id: int, details: dict[str, Any], conn: Connection) -> None:
        conn.connection.dbapi_connection.interrupt()  # type: ignore[union-attr]

    def humanize_error(self, error: BaseException) -> ConnectionFailure:
        if "No such file" in str(error) or "Cannot open file" in str(error):
            return FILE_NOT_FOUND
        return super().humanize_error(error)

    def schemas(self, conn: Connection) -> list[str | None]:
        rows = conn.execute(
            text("SELECT DISTINCT schema_name FROM duckdb_schemas() WHERE NOT internal ORDER BY 1")
        )
        return [name for (name,) in rows if name not in self.system_schemas]

    def describe_database(self, conn: Connection) -> list[TableInfo]:
        rows = conn.execute(
            text(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE NOT internal "
                "UNION ALL SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal "
                "ORDER BY 1, 2"
            )
        )
        return [
            TableInfo(schema, name, comment)
            for schema, name, comment in rows
            if schema not in self.system_schemas
        ]

    def describe_table(self, conn: Connection, table: TableInfo) -> list[ColumnInfo]:
        pk = {
            column
            for (columns,) in conn.execute(
                text(
                    "SELECT constraint_column_names FROM duckdb_constraints() "
                    "WHERE constraint_type = 'PRIMARY KEY' AND schema_name = :schema AND table_name = :table"
                ),
                {"schema": table.schema, "table": table.name},
            )
            for column in columns
        }
        rows = conn.execute(
            text(
                "SELECT column_name, data_type, column_index, is_nullable, column_default, comment "
                "FROM duckdb_columns() WHERE schema_name = :schema AND table_name = :table "
                "ORDER BY column_index"
            ),
            {"schema": table.schema, "table": table.name},
        )
        return [
            ColumnInfo(
                name=name,
                database_type=data_type,
                base_type=self.base_type(data_type),
                position=index - 1,
                pk=name in pk,
                required=not nullable and default is None,
                auto_increment=default is not None and "nextval" in str(default),
                description=comment,
            )
            for name, data_type, index, nullable, default, comment in rows
        ]

    def describe_fks(self, conn: Connection, table: TableInfo) -> list[ForeignKeyInfo]:
        rows = conn.execute(
            text(
                "SELECT constraint_column_names, referenced_table, referenced_column_names "
                "FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' "
                "AND schema_name = :schema AND table_name = :table"
            ),
            {"schema": table.schema, "table": table.name},
        )
        return [
            ForeignKeyInfo(column, table.schema, target, target_column)
            for columns, target, target_columns in rows
            for column, target_column in zip(columns, target_columns, strict=False)
        ]

    def dbms_version(self, conn: Connection) -> dict[str, Any]:
        version = conn.execute(text("SELECT version()")).scalar()
        return {"flavor": "DuckDB", "version": version, "semantic-version": None}

    def regex_match_first(self, expr: Expr, pattern: str) -> Expr:
        return func.regexp_extract(expr, literal(pattern))

    def seconds_between(self, start: Expr, end: Expr) -> Expr:
        """In whole microseconds first: `epoch()` answers doubles with rounding errors."""
        return (func.epoch_us(end) - func.epoch_us(start)) / literal_column("1000000.0")
