"""`GET /api/table/card__:id/query_metadata` and `/fks`: a saved question as the query builder sees it, a
virtual table of the Saved Questions database (the same tables `/api/database/-1337/metadata` lists), on
the Sample Database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.query_processor.test_dataset_api import sample as sample
from tests.query_processor.test_saved_sources import create_card, unique
from tests.support.http import Api


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def orders_query(ids: dict[str, Any]) -> dict[str, Any]:
    fields = [["field", ids[f"ORDERS.{name}"], None] for name in ("ID", "USER_ID", "SUBTOTAL")]
    return {
        "database": ids["db"],
        "type": "query",
        "query": {"source-table": ids["ORDERS"], "fields": fields},
    }


def test_a_question_as_a_virtual_table(admin, sample):
    name = unique("Orders")
    card = create_card(admin, orders_query(sample), name=name, description="Some orders")
    body = admin.as_("rasta").get(f"/api/table/card__{card['id']}/query_metadata")
    table_id = f"card__{card['id']}"
    assert {k: v for k, v in body.items() if k not in ("fields", "db")} == {
        "id": table_id,
        "db_id": sample["db"],
        "display_name": name,
        "schema": "Everything else",
        "moderated_status": None,
        "description": "Some orders",
        "entity_id": card["entity_id"],
        "metrics": None,
        "type": "question",
    }
    assert (body["db"]["id"], body["db"]["is_sample"]) == (sample["db"], True)
    assert "details" not in body["db"]
    fields = {f["name"]: f for f in body["fields"]}
    assert list(fields) == ["ID", "USER_ID", "SUBTOTAL"]
    user_id = fields["USER_ID"]
    assert (user_id["id"], user_id["table_id"], user_id["semantic_type"]) == (
        sample["ORDERS.USER_ID"],
        table_id,
        "type/FK",
    )
    # What the column's own field knows: its FK target.
    assert user_id["fk_target_field_id"] == sample["PEOPLE.ID"]
    assert user_id["target"]["id"] == sample["PEOPLE.ID"]
    assert (fields["ID"]["id"], fields["ID"]["semantic_type"]) == (sample["ORDERS.ID"], "type/PK")
    # The Saved Questions database lists the same table.
    listed = admin.get("/api/database/-1337/metadata")["tables"]
    same = next(t for t in listed if t["id"] == table_id)
    assert same["fields"] == body["fields"]


def test_a_native_question_s_keys_are_plain_columns(admin, sample):
    query = {"database": sample["db"], "type": "native", "native": {"query": "SELECT ID, TOTAL FROM ORDERS"}}
    metadata = [
        {"name": "ID", "display_name": "ID", "base_type": "type/BigInteger", "semantic_type": "type/PK"},
        {"name": "TOTAL", "display_name": "TOTAL", "base_type": "type/Float", "semantic_type": None},
    ]
    card = create_card(admin, query, result_metadata=metadata)
    body = admin.get(f"/api/table/card__{card['id']}/query_metadata")
    assert [(f["id"], f["semantic_type"], f["table_id"]) for f in body["fields"]] == [
        (["field", "ID", {"base-type": "type/BigInteger"}], None, f"card__{card['id']}"),
        (["field", "TOTAL", {"base-type": "type/Float"}], None, f"card__{card['id']}"),
    ]
    # A native model keeps the keys its editor set.
    model = create_card(admin, query, result_metadata=metadata, type="model")
    kept = admin.get(f"/api/table/card__{model['id']}/query_metadata")
    assert [f["semantic_type"] for f in kept["fields"]] == ["type/PK", None]
    assert kept["type"] == "model"


def test_a_metric_card_shows_its_query(admin, sample):
    query = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": sample["ORDERS"], "aggregation": [["count"]]},
    }
    metric = create_card(admin, query, type="metric", display="scalar")
    body = admin.get(f"/api/table/card__{metric['id']}/query_metadata")
    assert (body["type"], body["dataset_query"]) == ("metric", metric["dataset_query"])


def test_unknown_and_unreadable_cards_answer_nothing(admin, sample):
    assert admin.get("/api/table/card__987654321/query_metadata", expect=204) is None
    personal = admin.get("/api/user/current")["personal_collection_id"]
    private = create_card(admin, orders_query(sample), collection_id=personal)
    path = f"/api/table/card__{private['id']}/query_metadata"
    assert admin.as_("lucky").get(path, expect=204) is None
    assert admin.get(path)["id"] == f"card__{private['id']}"


def test_a_virtual_table_has_no_foreign_keys(admin, sample):
    card = create_card(admin, orders_query(sample))
    assert admin.get(f"/api/table/card__{card['id']}/fks") == []
