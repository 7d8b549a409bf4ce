"""PostgreSQL (and engines that speak its protocol, such as Redshift): psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
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
    PASSWORD_INCORRECT,
    SSL,
    USER,
    USERNAME_INCORRECT,
    ColumnInfo,
    ConnectionProperty,
    Feature,
    ForeignKeyInfo,
    TableInfo,
    port,
)
from querybase.drivers.sql import BASE_SQL_FEATURES, CONNECT_TIMEOUT_SECONDS, SQLDriver


class PostgresDriver(SQLDriver):
    engine = "postgres"
    sqlalchemy_driver = "postgresql+psycopg"
    display_name = "PostgreSQL"
    connection_properties = (
        HOST,
        port(5432),
        DBNAME,
        USER,
        PASSWORD,
        ConnectionProperty("schema-filters-type", "Schemas", type="select", default="all"),
        SSL,
        ADDITIONAL_OPTIONS,
    )
    features = BASE_SQL_FEATURES | {
        Feature.SCHEMAS,
        Feature.REGEX,
        Feature.PERCENTILE,
        Feature.DATETIME_DIFF,
        Feature.CONVERT_TIMEZONE,
        Feature.SET_TIMEZONE,
        Feature.WINDOW_FUNCTIONS_OFFSET,
        Feature.NESTED_FIELD_COLUMNS,
    }
    system_schemas = frozenset({"information_schema", "pg_catalog", "pg_toast"})
    # A session setting made in a transaction is undone by the rollback at checkin.
    set_timezone_sql = "SELECT set_config('TimeZone', %s, false)"
    type_map = (
        (r"^(int8|bigint|bigserial|serial8)$", t.BIG_INTEGER),
        (r"^(int|int2|int4|integer|smallint|serial|serial2|serial4|smallserial|oid)$", t.INTEGER),
        (r"^(numeric|decimal|money)", t.DECIMAL),
        (r"^(float4|float8|real|double precision)$", t.FLOAT),
        (r"^(bool|boolean)$", t.BOOLEAN),
        (r"^date$", t.DATE),
        (r"^(timestamptz|timestamp with time zone)$", t.DATETIME_TZ),
        (r"^(timestamp|timestamp without time zone)$", t.DATETIME),
        (r"^(timetz|time with time zone)$", t.TIME_TZ),
        (r"^(time|time without time zone)$", t.TIME),
        (r"^uuid$", t.UUID),
        (r"^(json|jsonb)$", t.JSON),
        (r"^(inet|cidr)$", t.IP_ADDRESS),
        (r"^_", t.ARRAY),
        (r"^(text|varchar|bpchar|char|character|character varying|name|citext|xml|enum)", t.TEXT),
    )
    error_messages = (
        (r"password authentication failed for user", PASSWORD_INCORRECT),
        (r'role ".*" does not exist', USERNAME_INCORRECT),
        (r'database ".*" does not exist', DATABASE_NAME_INCORRECT),
        (r"could not translate host name|Name or service not known|nodename nor servname", INVALID_HOSTNAME),
        (r"Connection refused|timeout expired|could not connect|Network is unreachable", CANNOT_CONNECT),
    )

    def url(self, details: dict[str, Any]) -> URL:
        query = {"connect_timeout": str(CONNECT_TIMEOUT_SECONDS)}
        if details.get("ssl"):
            query["sslmode"] = "require"
        return URL.create(
            "postgresql+psycopg",
            username=details.get("user") or None,
            password=details.get("password") or None,
            host=details.get("host") or "localhost",
            port=int(details.get("port") or 5432),
            database=details.get("dbname") or details.get("db") or None,
            query=query,
        )

    def describe_table(self, conn: Connection, table: TableInfo) -> list[ColumnInfo]:
        rows = conn.execute(
            text(
                """
                SELECT c.column_name, c.udt_name, c.ordinal_position, c.is_nullable, c.column_default,
                       c.is_identity, pgd.description,
                       EXISTS (
                           SELECT 1 FROM information_schema.table_constraints tc
                           JOIN information_schema.key_column_usage k
                             ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
                           WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
                             AND tc.table_name = c.table_name AND k.column_name = c.column_name
                       ) AS is_pk
                FROM information_schema.columns c
                LEFT JOIN pg_catalog.pg_statio_all_tables st
                  ON st.schemaname = c.table_schema AND st.relname = c.table_name
                LEFT JOIN pg_catalog.pg_description pgd
                  ON pgd.objoid = st.relid AND pgd.objsubid = c.ordinal_position
                WHERE c.table_schema = :schema AND c.table_name = :table
                ORDER BY c.ordinal_position
                """
            ),
            {"schema": table.schema, "table": table.name},
        )
        columns = []
        for name, udt, ordinal, nullable, default, identity, description, is_pk in rows:
            auto = identity == "YES" or (default or "").startswith("nextval(")
            columns.append(
                ColumnInfo(
                    name=name,
                    database_type=udt,
                    base_type=self.base_type(udt),
                    position=ordinal - 1,
                    pk=bool(is_pk),
                    required=nullable == "NO" and default is None and not auto,
                    auto_increment=auto,
                    description=description,
                )
            )
        return columns

    def describe_fks(self, conn: Connection, table: TableInfo) -> list[ForeignKeyInfo]:
        rows = conn.execute(
            text(
                """
                SELECT a.attname, tn.nspname, t.relname, ta.attname
                FROM pg_catalog.pg_constraint con
                JOIN pg_catalog.pg_class s ON s.oid = con.conrelid
                JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
                JOIN pg_catalog.pg_class t ON t.oid = con.confrelid
                JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
                CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(src, dst)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.src
                JOIN pg_catalog.pg_attribute ta ON ta.attrelid = con.confrelid AND ta.attnum = k.dst
                WHERE con.contype = 'f' AND sn.nspname = :schema AND s.relname = :table
                """
            ),
            {"schema": table.schema, "table": table.name},
        )
        return [
            ForeignKeyInfo(column, schema, target, target_column)
            for column, schema, target, target_column in rows
        ]
