"""Fresh application databases for tests: an SQLite file, or a new database on the machine's
PostgreSQL or MariaDB server, dropped afterwards."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from querybase.db.engine import AppDB
from querybase.db.migrate import upgrade

KINDS = ("sqlite", "postgres", "mysql")

PG_HOST = os.environ.get("QB_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("QB_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("QB_TEST_PG_USER", "postgres")
MYSQL_HOST = os.environ.get("QB_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("QB_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("QB_TEST_MYSQL_USER", "root")


def pg_url(database: str) -> URL:
    return URL.create("postgresql+psycopg", username=PG_USER, host=PG_HOST, port=PG_PORT, database=database)


def mysql_url(database: str | None) -> URL:
    return URL.create(
        "mysql+pymysql", username=MYSQL_USER, host=MYSQL_HOST, port=MYSQL_PORT, database=database
    )


@contextmanager
def fresh_app_db(kind: str) -> Iterator[URL]:
    """A new, empty application database of `kind`; gone when the block ends."""
    name = f"qb_test_{secrets.token_hex(4)}"
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="qb-test-") as folder:
            yield URL.create("sqlite", database=str(Path(folder) / "app.db"))
        return
    if kind == "postgres":
        admin = create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT")
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        url = pg_url(name)
    elif kind == "mysql":
        admin = create_engine(mysql_url(None), isolation_level="AUTOCOMMIT")
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
        url = mysql_url(name)
    else:
        raise ValueError(f"unknown app DB kind {kind!r}")
    with admin.connect() as conn:
        conn.execute(text(create))
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()


@contextmanager
def migrated_app_db(kind: str) -> Iterator[AppDB]:
    """A fresh application database of `kind` with querybase's tables, and its engine; gone when the block
    ends."""
    with fresh_app_db(kind) as url:
        appdb = AppDB(url)
        upgrade(appdb.engine)
        try:
            yield appdb
        finally:
            appdb.dispose()
