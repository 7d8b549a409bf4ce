"""The application database engine and its sessions.

One `AppDB` per process. SQLite gets WAL mode, foreign keys and a busy timeout so that the API's
threads (and several processes on one file) can share it; PostgreSQL and MySQL/MariaDB pool connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from querybase.config import Config


class AppDB:
    """The engine and session factory of the application database."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_config(cls, config: Config) -> AppDB:
        return cls(config.app_db_url)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take it over (SQLAlchemy's documented
        # recipe) and take the write lock up front: a deferred transaction that has read and then
        # writes while another connection writes fails at once with "database is locked", whatever
        # the busy timeout. IMMEDIATE makes it wait its turn instead. The price: on SQLite, requests
        # that use the app DB take turns (production installs use PostgreSQL or MySQL), and code must
        # never open a second app-DB transaction while its request's is open in the same thread.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
    if url.get_backend_name() == "mysql":
        options["pool_recycle"] = 3600
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_engine(url, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
