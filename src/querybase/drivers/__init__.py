"""The driver registry: one driver class per engine, looked up by Metabase's engine name."""

from __future__ import annotations

from querybase.drivers.duckdb import DuckDBDriver
from querybase.drivers.mysql import MySQLDriver
from querybase.drivers.postgres import PostgresDriver
from querybase.drivers.sql import SQLDriver
from querybase.drivers.sqlite import SQLiteDriver

DRIVERS: dict[str, SQLDriver] = {
    driver.engine: driver for driver in (PostgresDriver(), MySQLDriver(), SQLiteDriver(), DuckDBDriver())
}


def get_driver(engine: str) -> SQLDriver | None:
    return DRIVERS.get(engine)
