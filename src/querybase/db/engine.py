"""The application database engine and its sessions.

One `AppDB` per process. SQLite gets WAL mode, foreign keys and a busy timeout so that the API's
threads (and several processes on one file) can share it; PostgreSQL and MySQL/MariaDB pool connections.

Ids the app database cannot hold. Every id column is a 32-bit INTEGER, but an id from a request body, a
query string or a stored JSON document (a query, a parameter, a permissions graph) can be any integer, and
the drivers refuse some instead of finding nothing: PostgreSQL (psycopg casts each parameter to its
column's type) past 32 bits, SQLite past 64. Metabase, whose JDBC parameters are Java longs compared with
the columns, finds no row: 404 "Not found.", or nothing listed. (Its request schemas refuse what is past
64 bits as a 400: `api/schema.py`.) So the guard sits where every id ends up, not at the ~200 places that
look one up or filter by one, which could each forget it, nor in the request types alone, as ids also
arrive in untyped JSON and in fields Metabase does not check:
- `AppSession.get` answers None, without a query, for an identity its primary key column cannot hold;
  the caller's own "not found" follows.
- `_wide_integers_*` rewrite a statement whose integer parameter is past what its type holds, so that
  it compares as a number (PostgreSQL: a wider cast; SQLite: a float): `==`, `in_()`, `!=` and the rest
  then match what they should, no row has it. Writing such a value still fails, as it must.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    Select,
    SmallInteger,
    bindparam,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeEngine

from querybase.config import Config
from querybase.longs import INT16_MAX, INT16_MIN, INT32_MAX, INT32_MIN, LONG_MAX, LONG_MIN


class AppDB:
    """The engine and session factory of the application database."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.local = url.get_backend_name() == "sqlite"
        self.sessions = sessionmaker(self.engine, class_=AppSession, expire_on_commit=False)
        # For requests that only read (GET): on SQLite they need not take the write lock, so they run
        # side by side instead of in turn; on every app DB a write in them is refused (see `make_engine`).
        self.read_sessions = sessionmaker(
            self.engine.execution_options(qb_read_only=True),
            class_=AppSession,
            expire_on_commit=False,
            info={"read_only": True},
        )

    def quick_read(self) -> bool:
        """Whether a read can start at once and costs microseconds: the app DB is a file on this machine
        (SQLite; a read never waits on a network or, in WAL mode, on a writer) and the pool has a spare
        connection (taking one never waits either; one is left for a racing worker thread)."""
        spare = _SQLITE_POOL_SIZE + _SQLITE_MAX_OVERFLOW - 1 - self.engine.pool.checkedout()  # type: ignore[attr-defined]
        return self.local and spare > 0

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


INT16 = (INT16_MIN, INT16_MAX)
INT32 = (INT32_MIN, INT32_MAX)
INT64 = (LONG_MIN, LONG_MAX)


def _fits(value: Any, bounds: tuple[int, int]) -> bool:
    """Whether `value` is no integer, or one within `bounds`."""
    return type(value) is not int or bounds[0] <= value <= bounds[1]


def _bounds(column_type: TypeEngine[Any]) -> tuple[int, int] | None:
    if isinstance(column_type, BigInteger):
        return INT64
    if isinstance(column_type, SmallInteger):
        return INT16
    return INT32 if isinstance(column_type, Integer) else None


def _may_exist(entity: Any, ident: Any) -> bool:
    """False when a value of the identity is past the range of its primary key column."""
    values = tuple(ident.values()) if isinstance(ident, dict) else ident
    values = values if isinstance(values, (tuple, list)) else (values,)
    if all(_fits(value, INT32) for value in values):  # most ids: no need to look at the key's types
        return True
    keys = inspect(entity).primary_key
    if isinstance(ident, dict):
        keys = tuple(next(column for column in keys if column.key == name) for name in ident)
    for column, value in zip(keys, values, strict=False):
        bounds = _bounds(column.type)
        if bounds is not None and not _fits(value, bounds):
            return False
    return True


@functools.cache
def _by_id(entity: type) -> Select[Any] | None:
    """The entity's row by its one primary key column (`id`), built once per entity so that SQLAlchemy
    keys it once; None for a composite key."""
    keys = inspect(entity).primary_key
    return select(entity).where(keys[0] == bindparam("id")) if len(keys) == 1 else None


class AppSession(Session):
    """The app database's session (see the module's docstring on ids it cannot hold)."""

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        """None, without a query, for an identity no row can have.

        A row not yet in the session is read with a statement built once per entity: `Session.get` builds
        and keys a new one on each call, which costs more than reading the row. Anything else (a row the
        session holds, which may need refreshing, options, composite keys) is left to `Session.get`."""
        if not _may_exist(entity, ident):
            return None
        statement = _by_id(entity) if not kwargs and type(ident) is int and isinstance(entity, type) else None
        if statement is None or self.identity_key(entity, ident) in self.identity_map:
            return super().get(entity, ident, **kwargs)
        return self.execute(statement, {"id": ident}).scalar_one_or_none()


_SQLITE_POOL_SIZE, _SQLITE_MAX_OVERFLOW = 20, 20


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=_SQLITE_POOL_SIZE,
            max_overflow=_SQLITE_MAX_OVERFLOW,
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
        event.listen(engine, "before_cursor_execute", _wide_integers_sqlite, retval=True)
    else:
        options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
        if url.get_backend_name() == "mysql":
            options["pool_recycle"] = 3600
            url = url.update_query_dict({"charset": "utf8mb4"})
        engine = create_engine(url, **options)
        if url.get_backend_name() == "postgresql":
            event.listen(engine, "before_cursor_execute", _wide_integers_postgres, retval=True)
        # MySQL/MariaDB compares any integer the driver sends with an INTEGER column.
    event.listen(engine, "before_cursor_execute", _refuse_writes_when_read_only)
    return engine


# The casts psycopg's statements carry (`%(id_1)s::INTEGER`), and what each can hold.
_PG_CASTS = {"SMALLINT": INT16, "INTEGER": INT32, "BIGINT": INT64}
_PG_CAST = re.compile(r"%\((?P<name>[^)]+)\)s::(?P<cast>SMALLINT|INTEGER|BIGINT)\b")


def _wide_integers_postgres(
    _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
) -> tuple[str, Any]:
    """A parameter out of its cast's range gets a wider cast (BIGINT, or NUMERIC past 64 bits), so
    PostgreSQL compares it with the column (and finds nothing) instead of failing; a write of it
    still fails, as nothing out of the column's range can be stored."""
    if many or not isinstance(parameters, dict) or all(_fits(v, INT32) for v in parameters.values()):
        return statement, parameters

    def widen(match: re.Match[str]) -> str:
        value = parameters.get(match["name"])
        if _fits(value, _PG_CASTS[match["cast"]]):
            return match[0]
        return f"%({match['name']})s::{'BIGINT' if _fits(value, INT64) else 'NUMERIC'}"

    return _PG_CAST.sub(widen, statement), parameters


def _wide_integers_sqlite(
    _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
) -> tuple[str, Any]:
    """SQLite's driver refuses an integer past 64 bits; as a float it compares with the column (and
    equals none of its values). Only in SELECT and DELETE: in INSERT and UPDATE it may be a value to
    store, which must keep failing (so an UPDATE filtering by such an id fails too)."""
    if many or not isinstance(parameters, (tuple, list)) or all(_fits(v, INT64) for v in parameters):
        return statement, parameters
    if statement.lstrip()[:6].upper() not in ("SELECT", "DELETE"):
        return statement, parameters
    return statement, tuple(v if _fits(v, INT64) else float(v) for v in parameters)


def _sqlite_begin(conn: Connection) -> None:
    """Straight on the driver's connection: through `exec_driver_sql`, SQLAlchemy's execution machinery
    and event dispatch cost more than the BEGIN itself, on every request."""
    read_only = conn.get_execution_options().get("qb_read_only")
    conn.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


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
