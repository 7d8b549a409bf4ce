"""Run a compiled query on its database and hand back its rows lazily, in batches.

The connection stays checked out while the caller consumes rows, and is returned when the iterator is
exhausted or closed (a client that goes away closes it), so results stream instead of being
materialized. A query still running (or being read) after `MB_DB_QUERY_TIMEOUT_MINUTES` (Metabase's
variable, default 20) is cancelled through its driver, from the watchdog thread.

Rows come in batches of `BATCH_SIZE` tuples: every later step (formatting, the download writers) works a
batch at a time, column by column, which is what keeps a million-row export fast.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy.sql import ClauseElement

from querybase.drivers.sql import SQLDriver
from querybase.query_processor.errors import DatabaseError

BATCH_SIZE = 2000
DEFAULT_TIMEOUT_MINUTES = 20

log = logging.getLogger(__name__)

Batch = list[Sequence[Any]]


class Execution:
    """A running query: `names` of the columns the database returned, and `batches` of rows (lazy)."""

    def __init__(
        self,
        driver: SQLDriver,
        database_id: int,
        details: dict[str, Any],
        statement: ClauseElement,
        *,
        timeout_seconds: float | None = None,
    ):
        self.driver = driver
        self._closed = False
        self._timed_out = False
        self._timeout_seconds = query_timeout_seconds() if timeout_seconds is None else timeout_seconds
        self._context = driver.connection(database_id, details)
        conn = self._context.__enter__()
        self._deadline = WATCHDOG.watch(
            self._timeout_seconds, lambda: self._time_out(database_id, details, conn)
        )
        try:
            self._result = conn.execution_options(stream_results=True, yield_per=BATCH_SIZE).execute(
                statement
            )
        except Exception as exc:
            WATCHDOG.forget(self._deadline)
            self._context.__exit__(type(exc), exc, exc.__traceback__)
            raise self._error(exc) from exc
        self.names: list[str] = list(self._result.keys())
        self._check_time()

    def batches(self) -> Iterator[Batch]:
        """Lists of row tuples, at most `BATCH_SIZE` each, none empty."""
        try:
            for batch in self._fetch():
                self._check_time()
                yield batch
            self._check_time()
        except DatabaseError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            self.close()

    def _fetch(self) -> Iterator[Batch]:
        result = self._result
        # When no column needs SQLAlchemy's result processing (the usual case: the drivers already return
        # Python values), rows are read straight from the DB-API cursor: SQLAlchemy's Row objects cost
        # more than the rest of a large export. (`_processors` is SQLAlchemy's own record of that; the
        # version is pinned.) SQLAlchemy may hold one row it read ahead when streaming, so that row is
        # taken through SQLAlchemy first.
        if result.returns_rows and not any(result._metadata._processors):
            batch: Batch = [tuple(row) for row in result.fetchmany(1)]
            if not batch:
                return
            cursor = result.cursor
            batch.extend(cursor.fetchmany(BATCH_SIZE - 1))
            while batch:
                yield batch
                batch = cursor.fetchmany(BATCH_SIZE)
            return
        for partition in result.partitions(BATCH_SIZE):
            yield [tuple(row) for row in partition]

    def _time_out(self, database_id: int, details: dict[str, Any], conn: Any) -> None:
        self._timed_out = True
        try:
            self.driver.cancel(database_id, details, conn)
        except Exception:
            log.exception("could not cancel a query that ran out of time")

    def _check_time(self) -> None:
        """Some engines end a cancelled statement with a result instead of an error (MySQL's `SLEEP`
        returns 1): a query that ran out of time fails whatever it answered."""
        if self._timed_out:
            self.close()
            raise self._timeout_error()

    def _timeout_error(self) -> DatabaseError:
        return DatabaseError(f"Query timed out after {self._timeout_seconds:g} seconds.")

    def _error(self, exc: Exception) -> DatabaseError:
        if self._timed_out:
            return self._timeout_error()
        return DatabaseError(self.driver.humanize_error(exc).message)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            WATCHDOG.forget(self._deadline)
            self._result.close()
            self._context.__exit__(None, None, None)


class _Watchdog:
    """One daemon thread that calls each running query's time-out when its deadline passes. (A timer
    thread per query would cost more than running a small query.) Holds only the running queries."""

    # With no query running the thread still wakes this often, so that a new query whose deadline is
    # later (every query, with the usual time-out of minutes) need not wake it: waking a thread costs a
    # small query a good part of its time.
    IDLE_WAIT = 60.0

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: list[list[Any]] = []  # heap of [deadline, sequence, callback]
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the thread next wakes by itself

    def watch(self, seconds: float, callback: Callable[[], None]) -> list[Any]:
        entry = [time.monotonic() + seconds, next(self._sequence), callback]
        with self._cond:
            heapq.heappush(self._deadlines, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="query-watchdog", daemon=True)
                self._thread.start()
            if entry[0] < self._wakes_at:
                self._cond.notify()
        return entry

    def forget(self, entry: list[Any]) -> None:
        with self._cond:
            if entry in self._deadlines:
                self._deadlines.remove(entry)
                heapq.heapify(self._deadlines)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                delay = self._deadlines[0][0] - now if self._deadlines else self.IDLE_WAIT
                if delay > 0:
                    self._wakes_at = now + delay
                    self._cond.wait(delay)
                    continue
                callback = heapq.heappop(self._deadlines)[2]
                self._cond.release()
                try:
                    callback()
                finally:
                    self._cond.acquire()


WATCHDOG = _Watchdog()


def query_timeout_seconds() -> float:
    """Metabase's `db-query-timeout-minutes`, normally set with `MB_DB_QUERY_TIMEOUT_MINUTES`."""
    return float(os.environ.get("MB_DB_QUERY_TIMEOUT_MINUTES") or DEFAULT_TIMEOUT_MINUTES) * 60
