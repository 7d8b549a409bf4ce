"""`/api/dataset`: the answer envelope, failures, downloads, the compiled SQL and query metadata, on the
Sample Database every instance has (built from Metabase's own sample data in tests)."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import event

from tests.support.http import Api

PUBLISHED = [["Doohickey", 114.679742], ["Gadget", 123.530916], ["Gizmo", 120.897286], ["Widget", 122.078721]]


@pytest.fixture
def sample(api: Api) -> dict:
    """The Sample Database once synced: its id and ids by "TABLE" and "TABLE.FIELD"."""
    admin = api.as_("crowberto")
    database = next(d for d in admin.get("/api/database")["data"] if d["is_sample"])
    for _ in range(600):
        if admin.get(f"/api/database/{database['id']}")["initial_sync_status"] == "complete":
            break
        time.sleep(0.1)
    metadata = admin.get(f"/api/database/{database['id']}/metadata")
    ids = {"db": database["id"]}
    for table in metadata["tables"]:
        ids[table["name"]] = table["id"]
        for field in table["fields"]:
            ids[f"{table['name']}.{field['name']}"] = field["id"]
    return ids


def tutorial_query(ids: dict) -> dict:
    subtotal = ["field", ids["ORDERS.SUBTOTAL"], None]
    return {
        "database": ids["db"],
        "type": "query",
        "query": {
            "source-table": ids["ORDERS"],
            "filter": [">", subtotal, 100],
            "aggregation": [["avg", subtotal]],
            "breakout": [["field", ids["PRODUCTS.CATEGORY"], {"source-field": ids["ORDERS.PRODUCT_ID"]}]],
        },
    }


def test_the_tutorial_question_gives_the_published_numbers(api, sample, metabase_sample_data):
    query = tutorial_query(sample)
    body = api.as_("rasta").post("/api/dataset", query, expect=202)
    assert (body["status"], body["row_count"], body["database_id"], body["context"]) == (
        "completed",
        4,
        sample["db"],
        "ad-hoc",
    )
    assert [[category, round(avg, 6)] for category, avg in body["data"]["rows"]] == PUBLISHED
    cols = body["data"]["cols"]
    assert [(c["name"], c["display_name"], c["base_type"], c["source"], c["field_ref"]) for c in cols] == [
        ("CATEGORY", "Product → Category", "type/Text", "breakout", query["query"]["breakout"][0]),
        ("avg", "Average of Subtotal", "type/Float", "aggregation", ["aggregation", 0]),
    ]
    assert body["json_query"] == query
    assert body["data"]["results_timezone"] == "UTC"
    assert "AVG(" in body["data"]["native_form"]["query"].upper()
    assert isinstance(body["running_time"], int)


def test_the_fields_and_tables_a_query_reaches_are_read_in_one_query(server, api, sample):
    """Metadata is loaded before compiling (`Metadata.preload`): the fields the query names together with
    the primary keys its implicit join reaches, and their tables, in one app-DB query; not one per
    reference."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = server.client.app.state.appdb.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        api.as_("crowberto").post("/api/dataset", tutorial_query(sample), expect=202)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    metadata_reads = [
        s
        for s in statements
        if s.lstrip().startswith("SELECT") and re.search(r"FROM metabase_(field|table)\b", s)
    ]
    assert len(metadata_reads) == 1, metadata_reads
    assert re.search(r"FROM metabase_field (INNER )?JOIN metabase_table\b", metadata_reads[0]), (
        metadata_reads[0]
    )


def test_native_form_is_remembered_for_the_same_statement_and_values_only(api, sample, monkeypatch):
    """`native_form` (the SQL with values written in) is compiled once per statement shape and values;
    a value of another type or another value is another text."""
    from querybase.query_processor import process

    monkeypatch.setattr(process, "_LITERAL_SQL", {})
    crowberto = api.as_("crowberto")

    def native_sql(value: object) -> str:
        query = tutorial_query(sample)
        query["query"]["filter"][2] = value
        return crowberto.post("/api/dataset", query, expect=202)["data"]["native_form"]["query"]

    first = native_sql(100)
    assert re.search(r'"ORDERS"\."SUBTOTAL" > 100\b', first), first
    assert native_sql(100) == first
    assert len(process._LITERAL_SQL) == 1
    assert re.search(r'"ORDERS"\."SUBTOTAL" > 100\.5\b', native_sql(100.5))
    assert re.search(r'"ORDERS"\."SUBTOTAL" > 100\.0\b', native_sql(100.0))
    assert re.search(r'"ORDERS"\."SUBTOTAL" > 99\b', native_sql(99))
    assert len(process._LITERAL_SQL) == 4
    assert native_sql(100) == first


def test_queries_only_read_the_app_db_and_run_beside_a_writer(server, api, sample):
    """The query endpoints' app-DB transactions are read-only although they are POSTs: on SQLite they
    run while another connection holds the write lock, where a writing request waits for it."""
    appdb = server.client.app.state.appdb
    if not appdb.local:
        pytest.skip("only SQLite has one write lock for the whole app DB")
    rasta = api.as_("rasta")
    query = tutorial_query(sample)
    with appdb.engine.connect() as writer:
        writer.exec_driver_sql("SELECT 1")  # a transaction that is not read-only takes the write lock
        started = time.monotonic()
        assert rasta.post("/api/dataset", query, expect=202)["status"] == "completed"
        assert "SELECT" in rasta.post("/api/dataset/native", query)["query"]
        assert rasta.post("/api/dataset/query_metadata", query)["databases"][0]["id"] == sample["db"]
        csv = rasta.raw("POST", "/api/dataset/csv", data={"query": json.dumps(query)})
        assert (csv.status_code, csv.text.splitlines()[0]) == (200, "Product → Category,Average of Subtotal")
        assert time.monotonic() - started < 5  # the busy timeout, 30 s, is what a writer would wait
        writer.rollback()


def test_a_failing_query_is_a_202_with_status_failed(api, sample):
    query = {"database": sample["db"], "type": "query", "query": {"source-table": 987654}}
    body = api.as_("rasta").post("/api/dataset", query, expect=202)
    assert (body["status"], body["error_type"], body["row_count"], body["data"]) == (
        "failed",
        "invalid-query",
        0,
        {"rows": [], "cols": []},
    )
    assert body["error"] == f"Table 987654 does not exist in database {sample['db']}."


def test_unknown_database_and_missing_database(api, sample):
    rasta = api.as_("rasta")
    assert (
        rasta.post("/api/dataset", {"database": 987654, "type": "query", "query": {}}, expect=404)
        == "Not found."
    )
    body = rasta.post("/api/dataset", {"type": "query", "query": {}}, expect=400)
    assert body["errors"] == {"database": "value must be an integer greater than zero."}
    assert api.post("/api/dataset", tutorial_query(sample), expect=401) == "Unauthenticated"


def test_native_sql_runs(api, sample, metabase_sample_data):
    query = {
        "database": sample["db"],
        "type": "native",
        "native": {"query": "SELECT COUNT(*) AS n FROM ORDERS"},
    }
    body = api.as_("rasta").post("/api/dataset", query, expect=202)
    assert body["data"]["rows"] == [[18760]]
    assert [(c["name"], c["base_type"], c["source"]) for c in body["data"]["cols"]] == [
        ("n", "type/Integer", "native")
    ]


def test_compiled_sql(api, sample):
    body = api.as_("rasta").post("/api/dataset/native", tutorial_query(sample))
    assert set(body) == {"query", "params"}
    assert '"PRODUCTS__via__PRODUCT_ID"' in body["query"] and "100" in body["query"]


def test_query_metadata_lists_the_tables_it_reads(api, sample):
    body = api.as_("rasta").post("/api/dataset/query_metadata", tutorial_query(sample))
    assert [d["id"] for d in body["databases"]] == [sample["db"]]
    assert [t["name"] for t in body["tables"]] == ["ORDERS"]
    assert {f["name"] for f in body["tables"][0]["fields"]} >= {"ID", "SUBTOTAL", "PRODUCT_ID"}


def test_downloads(api, sample, metabase_sample_data):
    rasta = api.as_("rasta")
    form = {"query": json.dumps(tutorial_query(sample))}
    csv = rasta.raw("POST", "/api/dataset/csv", data=form)
    assert (csv.status_code, csv.headers["content-type"]) == (200, "text/csv")
    assert re.fullmatch(
        r'attachment; filename="query_result_\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\.csv"',
        csv.headers["content-disposition"],
    )
    assert csv.text == (
        "Product → Category,Average of Subtotal\nDoohickey,114.67974196020819\nGadget,123.5309163572569\n"
        "Gizmo,120.89728559058568\nWidget,122.07872061313316\n"
    )
    as_json = rasta.raw("POST", "/api/dataset/json", data=form)
    assert as_json.json()[0] == {"Product → Category": "Doohickey", "Average of Subtotal": 114.67974196020819}
    xlsx = rasta.raw("POST", "/api/dataset/xlsx", data=form)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert rasta.post("/api/dataset/pdf", data=form, expect=404) == "API endpoint does not exist."


def test_a_download_of_a_failing_query(api, sample):
    form = {
        "query": json.dumps({"database": sample["db"], "type": "query", "query": {"source-table": 987654}})
    }
    body = api.as_("rasta").post("/api/dataset/csv", data=form, expect=400)
    assert (body["status"], body["error_type"]) == ("failed", "invalid-query")


def test_parameter_values_and_search(api, sample):
    rasta = api.as_("rasta")
    body = {"parameter": {"id": "p1", "type": "string/="}, "field_ids": [sample["PRODUCTS.CATEGORY"]]}
    assert rasta.post("/api/dataset/parameter/values", body) == {
        "values": [["Doohickey"], ["Gadget"], ["Gizmo"], ["Widget"]],
        "has_more_values": False,
    }
    assert rasta.post("/api/dataset/parameter/search/GI", body) == {
        "values": [["Gizmo"]],
        "has_more_values": False,
    }
    static = {
        "parameter": {
            "id": "p2",
            "values_source_type": "static-list",
            "values_source_config": {"values": ["A", ["B", "Bee"]]},
        }
    }
    assert rasta.post("/api/dataset/parameter/values", static) == {
        "values": [["A"], ["B", "Bee"]],
        "has_more_values": False,
    }
    assert api.post("/api/dataset/parameter/values", body, expect=401) == "Unauthenticated"
