"""The question of Metabase's API tutorial ("Average value of orders over $100 grouped by category") on
Metabase's own Sample Database, on every engine: the same figures Metabase publishes.

The Sample Database is built from Metabase's CSV export (skipped where it is absent) into an SQLite
file and copied into a fresh DuckDB, PostgreSQL and MySQL warehouse (tests/support/sample_warehouse.py).
Runs on the SQLite app DB only, like the MBQL matrix: the app DB does not change query results.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from querybase.sample_database import build_from_csv
from tests.conftest import SHARED_SAMPLE_CSV
from tests.support.datasets.connected import Connected, Warehouses, connect
from tests.support.http import Api
from tests.support.sample_warehouse import sample_warehouse


@pytest.fixture(scope="module")
def sample_warehouses(
    server: Any, app_db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouses]:
    if app_db_kind != "sqlite":
        pytest.skip("runs on the SQLite app DB only (the app DB does not change results)")
    admin = server.api().as_("crowberto")
    sqlite_file: Path = tmp_path_factory.mktemp("sample") / "sample-database.db"

    @contextmanager
    def make(engine: str) -> Iterator[Connected]:
        if not sqlite_file.exists():
            build_from_csv(SHARED_SAMPLE_CSV, sqlite_file)
        with sample_warehouse(engine, sqlite_file) as details, connect(admin, engine, details) as connected:
            yield connected

    with ExitStack() as stack:
        yield Warehouses(stack, make)


def test_average_subtotal_of_orders_over_100_by_category(
    metabase_sample_data: Path, sample_warehouses: Warehouses, engine: str, api: Api
):
    sample = sample_warehouses(engine)
    product = sample.field_id("ORDERS.PRODUCT_ID")
    subtotal = sample.ref("ORDERS.SUBTOTAL")
    category = sample.ref("PRODUCTS.CATEGORY", source_field=product)
    body = api.as_("crowberto").post(
        "/api/dataset",
        {
            "database": sample.id,
            "type": "query",
            "query": {
                "source-table": sample.table("ORDERS"),
                "filter": [">", subtotal, 100],
                "aggregation": [["avg", subtotal]],
                "breakout": [category],
            },
        },
        expect=202,
    )
    assert body["status"] == "completed", body.get("error")
    assert [[name, round(average, 6)] for name, average in body["data"]["rows"]] == [
        ["Doohickey", 114.679742],
        ["Gadget", 123.530916],
        ["Gizmo", 120.897286],
        ["Widget", 122.078721],
    ]
    assert [
        {k: c[k] for k in ("name", "display_name", "base_type", "source", "field_ref")}
        for c in body["data"]["cols"]
    ] == [
        {
            "name": "CATEGORY",
            "display_name": "Product → Category",
            "base_type": "type/Text",
            "source": "breakout",
            "field_ref": category,
        },
        {
            "name": "avg",
            "display_name": "Average of Subtotal",
            "base_type": "type/Float",
            "source": "aggregation",
            "field_ref": ["aggregation", 0],
        },
    ]
