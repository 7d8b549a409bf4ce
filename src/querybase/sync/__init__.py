"""Sync: learn a connected database's tables, fields, keys, types and values.

`sync_database()` runs the steps below in order, each in its own app-DB transaction (so progress is
visible and a failure keeps what earlier steps learnt), each logged with a one-line summary. The API
starts syncs in the background (`start_sync`) so that a large database never blocks a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Final

from querybase.db.engine import AppDB
from querybase.drivers import get_driver
from querybase.models.database import Database
from querybase.sync import field_values, fingerprint, metadata
from querybase.sync.context import SyncContext

log = logging.getLogger("querybase.sync")

Step = Callable[[SyncContext], str]

# ↓↓↓ run from top to bottom ↓↓↓
METADATA_STEPS: Final[tuple[Step, ...]] = (
    metadata.sync_dbms_version,
    metadata.sync_tables,
    metadata.sync_fields,
    metadata.sync_fks,
    metadata.sync_metabase_metadata,
)
ANALYZE_STEPS: Final[tuple[Step, ...]] = (
    metadata.classify_names,  # after the metadata table, so its semantic types win over names
    fingerprint.fingerprint_fields,
    metadata.mark_tables_synced,
)
FIELD_VALUES_STEPS: Final[tuple[Step, ...]] = (field_values.cache_field_values,)

_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sync")
_RUNNING: set[Future[None]] = set()


def run_steps(appdb: AppDB, database_id: int, steps: tuple[Step, ...]) -> None:
    with appdb.transaction() as db:
        database = db.get(Database, database_id)
        if database is None:
            return
        name, engine, details = database.name, database.engine, dict(database.details or {})
    driver = get_driver(engine)
    if driver is None:
        raise ValueError(f"no driver for engine {engine!r}")
    with driver.connection(database_id, details) as conn:
        for step in steps:
            started = time.monotonic()
            with appdb.transaction() as db:
                summary = step(SyncContext(database_id, driver, conn, db))
            log.info(
                "sync %r: %s: %s (%.0f ms)", name, step.__name__, summary, 1000 * (time.monotonic() - started)
            )


def sync_database(appdb: AppDB, database_id: int, *, full: bool = True) -> None:
    """Sync metadata, then (for a full sync) analyze fields and cache their values; record the outcome in
    `initial_sync_status`."""
    steps = METADATA_STEPS + (ANALYZE_STEPS + FIELD_VALUES_STEPS if full else (metadata.mark_tables_synced,))
    status = "complete"
    try:
        run_steps(appdb, database_id, steps)
    except Exception:
        log.exception("sync of database %d failed", database_id)
        status = "aborted"
    with appdb.transaction() as db:
        database = db.get(Database, database_id)
        if database is not None and (database.initial_sync_status != "complete" or status == "complete"):
            database.initial_sync_status = status


def rescan_field_values(appdb: AppDB, database_id: int) -> None:
    try:
        run_steps(appdb, database_id, FIELD_VALUES_STEPS)
    except Exception:
        log.exception("field values scan of database %d failed", database_id)


def _track(future: Future[None]) -> Future[None]:
    _RUNNING.add(future)
    future.add_done_callback(_RUNNING.discard)
    return future


def start_sync(appdb: AppDB, database_id: int, *, full: bool = True) -> Future[None]:
    """Sync in a background thread; returns at once."""
    return _track(_EXECUTOR.submit(sync_database, appdb, database_id, full=full))


def start_rescan(appdb: AppDB, database_id: int) -> Future[None]:
    return _track(_EXECUTOR.submit(rescan_field_values, appdb, database_id))


def wait_for_syncs(timeout: float | None = None) -> None:
    """Block until the syncs started so far have finished (at shutdown, so none is cut off mid-write)."""
    wait(list(_RUNNING), timeout=timeout)
