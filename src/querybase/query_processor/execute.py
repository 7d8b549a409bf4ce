"""Run a compiled query on its database and hand back its rows lazily, in batches.

The connection stays checked out while the caller consumes rows, and is returned when the iterator is
exhausted or closed (a client that goes away closes it), so results stream instead of being
materialized. Rows come in batches of `BATCH_SIZE` tuples: every later step (formatting, the download
writers) works a batch at a time, column by column, which is what keeps a million-row export fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.sql import ClauseElement

from querybase.drivers.sql import SQLDriver
from querybase.query_processor.errors import DatabaseError

BATCH_SIZE = 2000

Batch = list[Sequence[Any]]


class Execution:
    """A running query: `names` of the columns the database returned, and `batches` of rows (lazy)."""

    def __init__(
        self, driver: SQLDriver, database_id: int, details: dict[str, Any], statement: ClauseElement
    ):
        self._context = driver.connection(database_id, details)
        conn = self._context.__enter__()
        try:
            self._result = conn.execution_options(stream_results=True, yield_per=BATCH_SIZE).execute(
                statement
            )
        except Exception as exc:
            self._context.__exit__(type(exc), exc, exc.__traceback__)
            raise DatabaseError(driver.humanize_error(exc).message) from exc
        self.names: list[str] = list(self._result.keys())
        self.driver = driver
        self._closed = False

    def batches(self) -> Iterator[Batch]:
        """Lists of row tuples, at most `BATCH_SIZE` each, none empty."""
        try:
            yield from self._fetch()
        except Exception as exc:
            raise DatabaseError(self.driver.humanize_error(exc).message) from exc
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

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._result.close()
            self._context.__exit__(None, None, None)
