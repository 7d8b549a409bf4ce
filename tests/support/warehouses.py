"""Fresh warehouse databases for driver tests: one per engine, loaded with the test dataset, dropped after.

`fresh_warehouse(engine)` yields the `details` a client would send in `POST /api/database`.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.appdb import (
    MYSQL_HOST,
    MYSQL_PORT,
    MYSQL_USER,
    PG_HOST,
    PG_PORT,
    PG_USER,
    mysql_url,
    pg_url,
)
from tests.support.datasets import test_data

ENGINES = ("sqlite", "duckdb", "postgres", "mysql")


def load(engine: Engine, metadata: MetaData, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            data = rows.get(table.name, [])
            if data:
                names = [c.name for c in table.columns]
                conn.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in data])


@contextmanager
def fresh_warehouse(engine_name: str, *, dataset: bool = True) -> Iterator[dict[str, Any]]:
    """A new database of `engine_name`, loaded with test-data unless `dataset` is False."""
    name = f"qb_wh_{secrets.token_hex(4)}"
    metadata, rows = test_data.build_metadata(), test_data.ROWS
    if engine_name in ("sqlite", "duckdb"):
        with tempfile.TemporaryDirectory(prefix="qb-wh-") as folder:
            path = Path(folder) / f"{name}.{engine_name}"
            engine = create_engine(f"{engine_name}:///{path}", poolclass=NullPool)
            if dataset:
                load(engine, metadata, rows)
            else:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            engine.dispose()
            yield {"db": str(path)} if engine_name == "sqlite" else {"database_file": str(path)}
        return
    if engine_name == "postgres":
        admin = create_engine(pg_url("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        url = pg_url(name)
        details = {"host": PG_HOST, "port": PG_PORT, "dbname": name, "user": PG_USER}
    elif engine_name == "mysql":
        admin = create_engine(mysql_url(None), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
        url = mysql_url(name).update_query_dict({"charset": "utf8mb4"})
        details = {"host": MYSQL_HOST, "port": MYSQL_PORT, "dbname": name, "user": MYSQL_USER}
    else:
        raise ValueError(f"unknown engine {engine_name!r}")
    with admin.connect() as conn:
        conn.execute(text(create))
    try:
        if dataset:
            engine = create_engine(url, poolclass=NullPool)
            load(engine, metadata, rows)
            engine.dispose()
        yield details
    finally:
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()
