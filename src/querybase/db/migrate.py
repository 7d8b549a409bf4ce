"""Applies the Alembic migrations: the only way the application database's schema changes.

Several server processes may start at once on one PostgreSQL or MySQL app database, so the upgrade
runs under a database-wide lock; the second process finds the schema current and does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_ID = 0x71B_A5E  # an arbitrary constant shared by every querybase process
_LOCK_NAME = "querybase-migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> bool:
    """Apply the migrations; True when the database was empty before (a new install)."""
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
