"""A query that runs past the query timeout is cancelled on its engine and fails with a clear error; the
connection it ran on is usable again afterwards."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from sqlalchemy import text

from querybase.drivers import get_driver
from querybase.query_processor.errors import DatabaseError
from querybase.query_processor.execute import Execution, _Watchdog, query_timeout_seconds
from tests.support.warehouses import fresh_warehouse

# A statement that runs for minutes on each engine unless cancelled; MySQL's SLEEP answers 1 when killed,
# which must still fail.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "duckdb": "SELECT count(*) FROM range(100000000) a(x), range(100000000) b(y) WHERE x + y = 7",
    "postgres": "SELECT pg_sleep(300)",
    "mysql": "SELECT SLEEP(300)",
}
database_ids = itertools.count(900_000)


@pytest.fixture
def warehouse(engine):
    with fresh_warehouse(engine, dataset=False) as details:
        yield details


def test_a_query_past_the_timeout_is_cancelled(engine, warehouse):
    driver, database_id = get_driver(engine), next(database_ids)
    started = time.monotonic()
    with pytest.raises(DatabaseError, match=r"^Query timed out after 0\.5 seconds\.$"):
        Execution(driver, database_id, warehouse, text(SLOW[engine]), timeout_seconds=0.5)
    assert time.monotonic() - started < 15
    execution = Execution(driver, database_id, warehouse, text("SELECT 42"), timeout_seconds=5)
    assert list(execution.batches()) == [[(42,)]]


def test_the_timeout_is_metabases_variable(monkeypatch):
    monkeypatch.delenv("MB_DB_QUERY_TIMEOUT_MINUTES", raising=False)
    assert query_timeout_seconds() == 20 * 60
    monkeypatch.setenv("MB_DB_QUERY_TIMEOUT_MINUTES", "2")
    assert query_timeout_seconds() == 120


def fired_after(watchdog: _Watchdog, seconds: float) -> threading.Event:
    fired = threading.Event()
    watchdog.watch(seconds, fired.set)
    return fired


def test_the_watchdog_keeps_every_deadline_whether_or_not_it_is_woken() -> None:
    """A deadline later than the watchdog's next wake-up does not wake its thread (the usual case: every
    query has the same time-out), yet is kept; an earlier one wakes it."""
    watchdog = _Watchdog()
    watchdog.IDLE_WAIT = 0.3
    started = time.monotonic()
    assert fired_after(watchdog, 0.2).wait(5)
    time.sleep(0.05)  # the thread is idle now, to wake by itself within IDLE_WAIT
    later = fired_after(watchdog, 0.6)  # past that wake-up: the thread is not woken for it
    assert not later.wait(0.4)
    assert later.wait(5)
    assert time.monotonic() - started >= 0.85
    watchdog = _Watchdog()
    distant = fired_after(watchdog, 30)
    sooner = fired_after(watchdog, 0.2)  # long before the thread's wake-up, for `distant`: it is woken
    assert sooner.wait(2)
    assert not distant.is_set()
