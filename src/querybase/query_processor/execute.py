"""Run a compiled query on its database and hand back a lazy row iterator.

The connection stays checked out while the caller consumes rows, and is returned when the iterator is
exhausted or closed (a client that goes away closes it), so results stream instead of being
materialized. Rows are fetched from the cursor in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.sql import ClauseElement

from querybase.drivers.sql import SQLDriver
from querybase.query_processor.errors import DatabaseError

BATCH_SIZE = 2000


class Execution:
    """A running query: `names` of the columns the database returned, and `rows` (lazy)."""

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

    def rows(self) -> Iterator[list[Any]]:
        try:
            for partition in self._result.partitions(BATCH_SIZE):
                for row in partition:
                    yield list(row)
        except Exception as exc:
            raise DatabaseError(self.driver.humanize_error(exc).message) from exc
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._result.close()
            self._context.__exit__(None, None, None)
