"""The application database engine and its sessions.

One `AppDB` per process. SQLite gets WAL mode, foreign keys and a busy timeout so that the API's
threads (and several processes on one file) can share it; PostgreSQL and MySQL/MariaDB pool connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from querybase.config import Config


class AppDB:
    """The engine and session factory of the application database."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # For requests that only read (GET): on SQLite they need not take the write lock, so they run
        # side by side instead of in turn; on every app DB a write in them is refused (see `make_engine`).
        self.read_sessions = sessionmaker(
            self.engine.execution_options(qb_read_only=True), expire_on_commit=False
        )

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
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take it over (SQLAlchemy's documented
        # recipe) and take the write lock up front: a deferred transaction that has read and then
        # writes while another connection writes fails at once with "database is locked", whatever
        # the busy timeout. IMMEDIATE makes it wait its turn instead. The price: on SQLite, writing
        # requests take turns (production installs use PostgreSQL or MySQL), and code must never open
        # a second app-DB transaction while its request's is open in the same thread. Read-only
        # transactions (GET requests) start deferred: WAL lets them read beside the writer.
        event.listen(engine, "begin", _sqlite_begin)
    else:
        options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
        if url.get_backend_name() == "mysql":
            options["pool_recycle"] = 3600
            url = url.update_query_dict({"charset": "utf8mb4"})
        engine = create_engine(url, **options)
    event.listen(engine, "before_cursor_execute", _refuse_writes_when_read_only)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("qb_read_only") else "BEGIN IMMEDIATE")


_WRITES = ("INSERT", "UPDATE", "DELETE")


def _refuse_writes_when_read_only(
    conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    """A GET that writes is a bug (and on SQLite a race for the write lock): fail loudly, on every app DB."""
    if conn.get_execution_options().get("qb_read_only") and statement.lstrip()[:6].upper() in _WRITES:
        raise ReadOnlyTransactionError(statement.split("\n", 1)[0][:200])


class ReadOnlyTransactionError(RuntimeError):
    """Something tried to write in a read-only (GET) request's transaction."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
