"""The "Saved Questions" virtual database (id -1337): saved questions shown as `card__N` tables, grouped in
schemas named after their collections; models under `/datasets`."""

from __future__ import annotations

import pytest

from tests.query_processor.test_dataset_api import sample as sample
from tests.query_processor.test_saved_sources import archive, create_card, unique
from tests.support.http import Api

SAVED_QUESTIONS_DB = {
    "name": "Saved Questions",
    "id": -1337,
    "features": ["basic-aggregations"],
    "is_saved_questions": True,
}


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def products_query(ids: dict) -> dict:
    return {
        "database": ids["db"],
        "type": "query",
        "query": {"source-table": ids["PRODUCTS"], "fields": [["field", ids["PRODUCTS.CATEGORY"], None]]},
    }


def tables_by_id(body: dict) -> dict[str, dict]:
    return {t["id"]: t for t in body["tables"]}


def test_the_database_list_offers_saved_questions_only_when_asked(admin, sample):
    create_card(admin, products_query(sample), name=unique("Categories"))
    listed = admin.as_("rasta").get("/api/database?saved=true")["data"]
    assert listed[-1] == SAVED_QUESTIONS_DB
    assert all(d["id"] != -1337 for d in admin.get("/api/database")["data"])


def test_metadata_lists_questions_as_tables_with_their_fields(admin, sample):
    name = unique("Categories")
    card = create_card(admin, products_query(sample), name=name, description="Kinds of products")
    model = create_card(admin, products_query(sample), name=unique("Model"), type="model")
    body = admin.as_("rasta").get("/api/database/-1337/metadata")
    assert {k: v for k, v in body.items() if k != "tables"} == SAVED_QUESTIONS_DB
    tables = tables_by_id(body)
    assert f"card__{model['id']}" not in tables
    table = tables[f"card__{card['id']}"]
    assert {k: v for k, v in table.items() if k != "fields"} == {
        "id": f"card__{card['id']}",
        "db_id": sample["db"],
        "display_name": name,
        "schema": "Everything else",
        "moderated_status": None,
        "description": "Kinds of products",
        "entity_id": card["entity_id"],
        "metrics": None,
        "type": "question",
    }
    [field] = table["fields"]
    assert (field["name"], field["table_id"], field["id"], field["base_type"]) == (
        "CATEGORY",
        f"card__{card['id']}",
        sample["PRODUCTS.CATEGORY"],
        "type/Text",
    )


def test_native_question_fields_are_referred_to_by_name(admin, sample):
    query = {"database": sample["db"], "type": "native", "native": {"query": "SELECT 1 AS one"}}
    card = create_card(admin, query)
    table = tables_by_id(admin.get("/api/database/-1337/metadata"))[f"card__{card['id']}"]
    assert [(f["id"], f["table_id"]) for f in table["fields"]] == [
        (["field", "one", {"base-type": "type/Integer"}], f"card__{card['id']}")
    ]


def test_archived_cards_and_others_personal_collections_are_left_out(admin, sample, user_ids):
    archived = create_card(admin, products_query(sample))
    archive(admin, archived)
    rasta = admin.as_("rasta")
    personal = rasta.get("/api/user/current")["personal_collection_id"]
    private = create_card(rasta, products_query(sample), collection_id=personal)
    for caller, sees_private in ((admin, True), (rasta, True), (admin.as_("lucky"), False)):
        tables = tables_by_id(caller.get("/api/database/-1337/metadata"))
        assert f"card__{archived['id']}" not in tables
        assert (f"card__{private['id']}" in tables) is sees_private


def test_schemas_are_collections(admin, sample):
    card = create_card(admin, products_query(sample))
    model = create_card(admin, products_query(sample), type="model")
    assert "Everything else" in admin.get("/api/database/-1337/schemas")
    in_root = admin.get("/api/database/-1337/schema/Everything else")
    assert f"card__{card['id']}" in [t["id"] for t in in_root]
    assert all("fields" not in t for t in in_root)
    assert f"card__{model['id']}" not in [t["id"] for t in in_root]
    assert "Everything else" in admin.get("/api/database/-1337/datasets")
    models = admin.get("/api/database/-1337/datasets/Everything else")
    assert [t["type"] for t in models if t["id"] == f"card__{model['id']}"] == ["model"]
    assert admin.get(f"/api/database/-1337/schema/{unique('No such collection')}", expect=404) == "Not found."


def test_the_virtual_database_needs_a_session(api):
    assert api.get("/api/database/-1337/metadata", expect=401) == "Unauthenticated"
    assert api.get("/api/database/-1337/schemas", expect=401) == "Unauthenticated"
    # Other negative ids are still no route at all.
    assert api.as_("crowberto").get("/api/database/-1/metadata", expect=404) == "API endpoint does not exist."
