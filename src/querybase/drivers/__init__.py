"""The driver registry: one driver class per engine, looked up by Metabase's engine name."""

from __future__ import annotations

from typing import Any

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


def engines_json() -> dict[str, Any]:
    """Every engine's connection form, as `/api/session/properties` `engines` shows them."""
    return {engine: driver.engine_json() for engine, driver in sorted(DRIVERS.items())}
