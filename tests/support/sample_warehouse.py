"""Metabase's Sample Database on any warehouse engine, to check Metabase's published figures everywhere.

The SQLite file comes from `querybase.sample_database.build_from_csv`; the other engines get a fresh
database with the same eight tables, column types (H2's, in the engine's spelling), primary keys and
foreign keys, and the same rows copied from that file.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine

from querybase import sample_database
from tests.support.datasets.events import warehouse_url
from tests.support.warehouses import fresh_warehouse

BATCH = 5000
# MySQL's DATETIME drops the milliseconds the sample's timestamps have unless asked to keep them.
TIMESTAMP = DateTime().with_variant(mysql.DATETIME(fsp=3), "mysql")


def _type(sql_type: str) -> TypeEngine[Any]:
    """An H2 declared type of the sample schema as a portable SQLAlchemy type."""
    name, _, size = sql_type.partition("(")
    length = int(size.rstrip(")")) if size else None
    if name in ("VARCHAR", "CHAR") and length is not None and length <= 255:
        return CHAR(length) if name == "CHAR" else String(length)
    simple: dict[str, TypeEngine[Any]] = {
        "BIGINT": BigInteger(),
        "INTEGER": Integer(),
        "SMALLINT": SmallInteger(),
        "DOUBLE": Double(),
        "BOOLEAN": Boolean(),
        "DATE": Date(),
        "TIMESTAMP": TIMESTAMP,
    }
    return simple.get(name, Text())


def _reader(sql_type: str) -> Callable[[Any], Any]:
    """How a value stored in the SQLite file reads back as the Python value to insert."""
    name = sql_type.partition("(")[0]
    if name == "TIMESTAMP":
        return dt.datetime.fromisoformat
    if name == "DATE":
        return dt.date.fromisoformat
    if name == "BOOLEAN":
        return bool
    return lambda value: value


def build_metadata(engine_name: str) -> MetaData:
    """The sample schema. DuckDB and MySQL only accept a foreign key of its target's type, so there the
    INTEGER keys pointing at BIGINT ids are BIGINT too."""
    widen = engine_name in ("duckdb", "mysql")
    specs = {spec.name: spec for spec in sample_database.SCHEMA}
    metadata = MetaData()
    for spec in sample_database.SCHEMA:
        types = {c.name: c.sql_type for c in spec.columns}
        if widen:
            for fk in spec.foreign_keys:
                target = {c.name: c.sql_type for c in specs[fk.target_table].columns}
                types[fk.column] = target[fk.target_column]
        Table(
            spec.name,
            metadata,
            *[
                Column(
                    c.name, _type(types[c.name]), primary_key=c.name == spec.primary_key, autoincrement=False
                )
                for c in spec.columns
            ],
            *[
                ForeignKeyConstraint([fk.column], [f"{fk.target_table}.{fk.target_column}"])
                for fk in spec.foreign_keys
            ],
        )
    return metadata


def copy_sample(sqlite_file: Path, engine_name: str, details: dict[str, Any]) -> None:
    """Create the eight tables in the warehouse and copy every row from the SQLite file."""
    engine = create_engine(warehouse_url(engine_name, details), poolclass=NullPool)
    metadata = build_metadata(engine_name)
    specs = {spec.name: spec for spec in sample_database.SCHEMA}
    try:
        metadata.create_all(engine)
        with closing(sqlite3.connect(sqlite_file)) as source, engine.begin() as conn:
            for table in metadata.sorted_tables:
                spec = specs[table.name]
                readers = [_reader(c.sql_type) for c in spec.columns]
                names = ", ".join(f'"{name}"' for name in spec.column_names)
                cursor = source.execute(f'SELECT {names} FROM "{table.name}" ORDER BY "{spec.primary_key}"')
                while batch := cursor.fetchmany(BATCH):
                    conn.execute(
                        table.insert(),
                        [
                            {
                                name: None if value is None else read(value)
                                for name, read, value in zip(spec.column_names, readers, row, strict=True)
                            }
                            for row in batch
                        ],
                    )
    finally:
        engine.dispose()


@contextmanager
def sample_warehouse(engine_name: str, sqlite_file: Path) -> Iterator[dict[str, Any]]:
    """Connection details of a warehouse of `engine_name` holding the Sample Database."""
    if engine_name == "sqlite":
        yield {"db": str(sqlite_file)}
        return
    with fresh_warehouse(engine_name, dataset=False) as details:
        copy_sample(sqlite_file, engine_name, details)
        yield details
