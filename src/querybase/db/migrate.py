"""Applies the Alembic migrations: the only way the application database's schema changes.

Several server processes may start at once on one PostgreSQL or MySQL app database, so the upgrade
runs under a database-wide lock; the second process finds the schema current and does nothing.

A server start on a current schema does not load Alembic at all (a third of a second of imports): it reads
`alembic_version` and compares it with the head revision named in the migration files (`head_revision`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_REVISION_LINE = re.compile(r'^(down_revision|revision) = (?:"([^"]+)"|None)$', re.MULTILINE)
_LOCK_ID = 0x71B_A5E  # an arbitrary constant shared by every querybase process
_LOCK_NAME = "querybase-migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Apply the migrations; True when the database was empty before (a new install)."""
    if revision == "head" and _stored_revision(engine) == head_revision():
        return False
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection, _migration_lock(connection):
        fresh = MigrationContext.configure(connection).get_current_revision() is None
        command.upgrade(alembic_config(connection), revision)
        connection.commit()
    return fresh


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision() -> str:
    """The newest migration: the one no other names as its `down_revision` (they form one chain)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for kind, value in _REVISION_LINE.findall(path.read_text()):
            if value:
                (revisions if kind == "revision" else parents).add(value)
    (head,) = revisions - parents
    return head


def _stored_revision(engine: Engine) -> str | None:
    """`alembic_version`'s row, or None when the table is missing (a new database) or holds none."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            connection.commit()
    elif dialect == "mysql":
        connection.execute(text("SELECT GET_LOCK(:name, 600)"), {"name": _LOCK_NAME})
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
    else:
        yield
