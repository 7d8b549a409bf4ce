"""Every driver against its real engine: connecting, humanized connection errors, and describing the
test dataset's tables, columns, keys and types."""

from __future__ import annotations

import pytest

from querybase.drivers import get_driver
from querybase.drivers.base import (
    CANNOT_CONNECT,
    DATABASE_NAME_INCORRECT,
    DB_FILE_NOT_FOUND,
    INVALID_HOSTNAME,
    USERNAME_INCORRECT,
    USERNAME_OR_PASSWORD_INCORRECT,
    ConnectionFailure,
    TableInfo,
)
from querybase.drivers.duckdb import FILE_NOT_FOUND as DUCKDB_FILE_NOT_FOUND
from querybase.drivers.sql import POOLS
from tests.support.appdb import MYSQL_HOST, MYSQL_PORT, PG_HOST, PG_PORT
from tests.support.warehouses import fresh_warehouse

EXPECTED_TABLES = ["Odd Table ü", "categories", "checkins", "users", "venues"]

# Base types of the users table's columns, the same on every engine (MySQL's BOOLEAN is TINYINT(1)).
USERS_BASE_TYPES = {
    "id": "type/BigInteger",
    "name": "type/Text",
    "email": "type/Text",
    "last_login": "type/DateTime",
    "birth_date": "type/Date",
    "is_active": "type/Boolean",
}

NATIVE_USERS_TYPES = {
    "sqlite": ["BIGINT", "VARCHAR(255)", "VARCHAR(255)", "DATETIME", "DATE", "BOOLEAN"],
    "duckdb": ["BIGINT", "VARCHAR", "VARCHAR", "TIMESTAMP", "DATE", "BOOLEAN"],
    "postgres": ["int8", "varchar", "varchar", "timestamp", "date", "bool"],
    "mysql": ["BIGINT", "VARCHAR", "VARCHAR", "DATETIME", "DATE", "BIT"],
}


@pytest.fixture
def warehouse(engine):
    with fresh_warehouse(engine) as details:
        yield details
    POOLS.close_all()


def test_describes_the_dataset(engine, warehouse):
    driver = get_driver(engine)
    driver.can_connect(warehouse)
    with driver.connection(1, warehouse) as conn:
        tables = {t.name: t for t in driver.describe_database(conn)}
        assert sorted(tables) == EXPECTED_TABLES
        users = driver.describe_table(conn, tables["users"])
        assert {c.name: c.base_type for c in users} == USERS_BASE_TYPES
        assert [c.database_type for c in users] == NATIVE_USERS_TYPES[engine]
        assert [c.position for c in users] == list(range(6))
        assert [c.name for c in users if c.pk] == ["id"]
        fks = {
            (fk.column, fk.target_table, fk.target_column)
            for fk in driver.describe_fks(conn, tables["checkins"])
        }
        assert fks == {("user_id", "users", "id"), ("venue_id", "venues", "id")}
        odd = driver.describe_table(conn, tables["Odd Table ü"])
        assert [c.name for c in odd] == ["id", "select", "has space", 'quote"d', "ünïcödé"]
        checkins = {c.name: c.base_type for c in driver.describe_table(conn, tables["checkins"])}
        # Metabase's SQLite driver reads NUMERIC as a float.
        assert checkins["amount"] == ("type/Float" if engine == "sqlite" else "type/Decimal")
        version = driver.dbms_version(conn)
        assert version["version"]


def test_schemas(engine, warehouse):
    driver = get_driver(engine)
    with driver.connection(1, warehouse) as conn:
        schemas = {t.schema for t in driver.describe_database(conn)}
    assert schemas == {"sqlite": {None}, "mysql": {None}, "postgres": {"public"}, "duckdb": {"main"}}[engine]


SERVER_FAILURES = {
    "postgres": [
        (
            {"host": PG_HOST, "port": PG_PORT, "dbname": "no_such_db_qb", "user": "postgres"},
            DATABASE_NAME_INCORRECT,
        ),
        (
            {"host": PG_HOST, "port": PG_PORT, "dbname": "postgres", "user": "no_such_role_qb"},
            USERNAME_INCORRECT,
        ),
        ({"host": "127.0.0.1", "port": 1, "dbname": "postgres", "user": "postgres"}, CANNOT_CONNECT),
        (
            {"host": "no-such-host.invalid", "port": PG_PORT, "dbname": "x", "user": "postgres"},
            INVALID_HOSTNAME,
        ),
    ],
    "mysql": [
        (
            {"host": MYSQL_HOST, "port": MYSQL_PORT, "dbname": "mysql", "user": "root", "password": "wrong"},
            USERNAME_OR_PASSWORD_INCORRECT,
        ),
        (
            {"host": MYSQL_HOST, "port": MYSQL_PORT, "dbname": "no_such_db_qb", "user": "root"},
            DATABASE_NAME_INCORRECT,
        ),
        ({"host": "127.0.0.1", "port": 1, "dbname": "mysql", "user": "root"}, CANNOT_CONNECT),
        (
            {"host": "no-such-host.invalid", "port": MYSQL_PORT, "dbname": "x", "user": "root"},
            INVALID_HOSTNAME,
        ),
    ],
    "sqlite": [({"db": "/no/such/file.sqlite"}, DB_FILE_NOT_FOUND), ({}, DB_FILE_NOT_FOUND)],
    "duckdb": [({"database_file": "/no/such/file.duckdb"}, DUCKDB_FILE_NOT_FOUND)],
}


def test_connection_failures_are_humanized(engine):
    driver = get_driver(engine)
    for details, expected in SERVER_FAILURES[engine]:
        with pytest.raises(ConnectionFailure) as failure:
            driver.can_connect(details)
        assert failure.value == expected, details


def test_pool_is_rebuilt_when_details_change(engine, warehouse):
    driver = get_driver(engine)
    first = POOLS.engine(driver, 7, warehouse)
    assert POOLS.engine(driver, 7, dict(warehouse)) is first
    changed = {**warehouse, "extra": "x"}
    second = POOLS.engine(driver, 7, changed)
    assert second is not first
    POOLS.close(7)
    assert POOLS.engine(driver, 7, changed) is not second
    POOLS.close(7)


def test_table_info_for_missing_table_is_empty(engine, warehouse):
    driver = get_driver(engine)
    with driver.connection(1, warehouse) as conn:
        schema = {"postgres": "public", "duckdb": "main"}.get(engine)
        assert driver.describe_table(conn, TableInfo(schema, "no_such_table")) == []
