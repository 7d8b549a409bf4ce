"""The "events" table: a dozen rows added to a test-data warehouse for the MBQL feature matrix.

Its values are picked so every answer is exact on every engine and hits an edge: titles with LIKE
wildcards, a backslash, a quote, an empty string, a NULL and case twins; timestamps on both sides of a
year, a leap day, the weeks around `NOW` (Wednesday 2024-03-13, noon) and a late-night instant; floats
that are multiples of 0.25, so sums and averages have no rounding.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
)
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from tests.support.appdb import mysql_url, pg_url

# The instant relative filters (`time-interval`, ...) are evaluated at.
NOW = dt.datetime(2024, 3, 13, 12, 0, tzinfo=dt.UTC)

COLUMNS = ("id", "title", "kind", "score", "ratio", "created_at", "day", "user_id")

ROWS: list[tuple[Any, ...]] = [
    (1, "Alpha launch", "talk", 10, 0.5, dt.datetime(2023, 12, 31, 23, 30), dt.date(2023, 12, 31), 1),
    (2, "beta Launch", "talk", 20, 1.5, dt.datetime(2024, 1, 1, 0, 15), dt.date(2024, 1, 1), 2),
    (3, "Gamma", "meetup", 30, 2.25, dt.datetime(2024, 2, 29, 10, 0), dt.date(2024, 2, 29), 3),
    (4, "", "meetup", None, 0.25, dt.datetime(2024, 3, 10, 9, 0), dt.date(2024, 3, 10), None),
    (5, None, "meetup", 5, 1.0, dt.datetime(2024, 3, 11, 14, 45), dt.date(2024, 3, 11), 1),
    (6, "50% off", "sale", 15, 2.0, dt.datetime(2024, 3, 12, 18, 0), dt.date(2024, 3, 12), 2),
    (7, "snake_case", "sale", 25, 0.75, dt.datetime(2024, 3, 13, 8, 0), dt.date(2024, 3, 13), 4),
    (8, "back\\slash", "talk", 35, 1.25, dt.datetime(2024, 3, 14, 20, 30), dt.date(2024, 3, 14), 5),
    (9, "x' OR '1'='1", "sale", 40, 3.0, dt.datetime(2024, 3, 20, 11, 0), dt.date(2024, 3, 20), 5),
    (10, "ALPHA", "talk", 45, 1.75, dt.datetime(2024, 4, 2, 7, 0), dt.date(2024, 4, 2), 3),
    (11, "Delta", "release", 50, 2.5, dt.datetime(2024, 6, 30, 23, 59, 59), dt.date(2024, 6, 30), 4),
    (12, "epsilon", "release", None, 4.0, dt.datetime(2025, 1, 15, 12, 0), dt.date(2025, 1, 15), None),
]


def build_metadata() -> MetaData:
    """The table, with an FK to test-data's `users` (declared here only to name the target)."""
    metadata = MetaData()
    Table("users", metadata, Column("id", BigInteger, primary_key=True))
    Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("title", String(100)),
        Column("kind", String(20), nullable=False),
        Column("score", Integer),
        Column("ratio", Double, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("day", Date),
        Column("user_id", BigInteger, ForeignKey("users.id")),
    )
    return metadata


def warehouse_url(engine_name: str, details: dict[str, Any]) -> URL | str:
    """An SQLAlchemy URL for writing into a warehouse made by `fresh_warehouse`."""
    if engine_name == "postgres":
        return pg_url(details["dbname"])
    if engine_name == "mysql":
        return mysql_url(details["dbname"]).update_query_dict({"charset": "utf8mb4"})
    return f"{engine_name}:///{details.get('db') or details['database_file']}"


def add_events(engine_name: str, details: dict[str, Any]) -> None:
    """Create and fill `events` in a test-data warehouse (before querybase connects to it)."""
    engine = create_engine(warehouse_url(engine_name, details), poolclass=NullPool)
    try:
        table = build_metadata().tables["events"]
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in ROWS])
    finally:
        engine.dispose()
