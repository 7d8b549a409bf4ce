"""SQLite: a database file on the server's disk. Types follow SQLite's affinity rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
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
from querybase.drivers.sql import BASE_SQL_FEATURES, SQLDriver


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SQLiteDriver(SQLDriver):
    engine = "sqlite"
    display_name = "SQLite"
    connection_properties = (
        ConnectionProperty(
            "db", "Filename", placeholder="/home/camsaul/toucan_sightings.sqlite 😋", required=True
        ),
    )
    features = BASE_SQL_FEATURES - {Feature.FULL_JOIN, Feature.RIGHT_JOIN, Feature.STANDARD_DEVIATION}
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
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}

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
