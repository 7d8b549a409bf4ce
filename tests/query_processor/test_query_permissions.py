"""Who may run which query: view-data and the query builder for every table an MBQL query touches (joined
tables, implicit joins, saved questions it is built on), native access for native SQL, read access for the
questions a native query embeds, and a saved question's collection for running it. Over HTTP, on the
Sample Database, with All Users (the only group of rasta) restricted and put back afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from querybase.query_processor.saved import SAVED_QUESTIONS_DB_ID
from tests.api.test_permissions_graph import ALL_USERS, by_table, put_collection_graph, put_data_graph
from tests.api.test_permissions_graph import all_users_restored as all_users_restored
from tests.api.test_permissions_graph import collections as collections
from tests.query_processor.test_dataset_api import sample as sample
from tests.query_processor.test_native_api import assert_failed
from tests.query_processor.test_saved_sources import create_card
from tests.support.http import Api

CANNOT_RUN = "You do not have permissions to run this query."
MISSING = "missing-required-permissions"
FORBIDDEN = "You don't have permissions to do that."

pytestmark = pytest.mark.usefixtures("all_users_restored")


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def rasta(api: Api) -> Api:
    return api.as_("rasta")


def run(api: Api, query: dict[str, Any]) -> dict[str, Any]:
    return api.post("/api/dataset", query, expect=202)


def mbql(ids: dict[str, Any], **inner: Any) -> dict[str, Any]:
    return {"database": ids["db"], "type": "query", "query": {"source-table": ids["ORDERS"], **inner}}


def count_orders(ids: dict[str, Any]) -> dict[str, Any]:
    return mbql(ids, aggregation=[["count"]])


def orders_with_products(ids: dict[str, Any]) -> dict[str, Any]:
    product = ["field", ids["PRODUCTS.ID"], {"join-alias": "Products"}]
    join = {
        "source-table": ids["PRODUCTS"],
        "alias": "Products",
        "condition": ["=", ["field", ids["ORDERS.PRODUCT_ID"], None], product],
        "fields": "none",
    }
    return mbql(ids, joins=[join], aggregation=[["count"]])


def orders_by_category(ids: dict[str, Any]) -> dict[str, Any]:
    category = ["field", ids["PRODUCTS.CATEGORY"], {"source-field": ids["ORDERS.PRODUCT_ID"]}]
    return mbql(ids, aggregation=[["count"]], breakout=[category])


def native(ids: dict[str, Any], sql: str, tags: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"database": ids["db"], "type": "native", "native": {"query": sql, "template-tags": tags or {}}}


def restrict_all_users(admin: Api, ids: dict[str, Any], perms: dict[str, Any]) -> None:
    put_data_graph(admin, {ALL_USERS: {str(ids["db"]): perms}})


def block_products(admin: Api, ids: dict[str, Any]) -> None:
    restrict_all_users(admin, ids, {"view-data": {"": {str(ids["PRODUCTS"]): "blocked"}}})


def completed(body: dict[str, Any]) -> dict[str, Any]:
    assert body["status"] == "completed", body
    return body


def test_a_join_to_a_blocked_table(admin, rasta, sample):
    block_products(admin, sample)
    orders = completed(run(rasta, count_orders(sample)))
    joined = orders_with_products(sample)
    body = run(rasta, joined)
    assert_failed(body, CANNOT_RUN, MISSING)
    assert body["json_query"] == joined
    # Joined tables of joined tables count too, and admins are never refused.
    nested = mbql(sample, **{"source-query": joined["query"]})
    assert_failed(run(rasta, nested), CANNOT_RUN, MISSING)
    assert completed(run(admin, joined))["data"]["rows"] == orders["data"]["rows"]


def test_an_implicit_join_through_a_foreign_key(admin, rasta, sample):
    block_products(admin, sample)
    assert_failed(run(rasta, orders_by_category(sample)), CANNOT_RUN, MISSING)
    assert len(completed(run(admin, orders_by_category(sample)))["data"]["rows"]) == 4


def test_the_query_builder_is_needed_table_by_table(admin, rasta, sample):
    restrict_all_users(admin, sample, {"create-queries": {"": {str(sample["PRODUCTS"]): "no"}}})
    completed(run(rasta, count_orders(sample)))
    assert_failed(run(rasta, orders_with_products(sample)), CANNOT_RUN, MISSING)
    assert_failed(run(rasta, orders_by_category(sample)), CANNOT_RUN, MISSING)
    products = {"database": sample["db"], "type": "query", "query": {"source-table": sample["PRODUCTS"]}}
    assert_failed(run(rasta, products), CANNOT_RUN, MISSING)


def test_a_saved_question_on_a_blocked_table(admin, rasta, sample):
    on_products = create_card(
        admin, {"database": sample["db"], "type": "query", "query": {"source-table": sample["PRODUCTS"]}}
    )
    on_orders = create_card(admin, count_orders(sample))
    block_products(admin, sample)
    built_on = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-table": f"card__{on_products['id']}"},
    }
    assert_failed(run(rasta, built_on), CANNOT_RUN, MISSING)
    assert_failed(rasta.post(f"/api/card/{on_products['id']}/query", expect=202), CANNOT_RUN, MISSING)
    completed(run(admin, built_on))
    # A question on a table that may be viewed runs for whoever may read it, even without the query
    # builder, and so do queries built on it (sent to the Saved Questions database, as Metabase's own client
    # does: without the query builder anywhere, the Sample Database itself is out of sight, a plain 403).
    restrict_all_users(admin, sample, {"create-queries": "no"})
    assert rasta.post("/api/dataset", count_orders(sample), expect=403) == FORBIDDEN
    expected = completed(run(admin, count_orders(sample)))["data"]["rows"]
    assert completed(rasta.post(f"/api/card/{on_orders['id']}/query", expect=202))["data"]["rows"] == expected
    on_card = {
        "database": SAVED_QUESTIONS_DB_ID,
        "type": "query",
        "query": {"source-table": f"card__{on_orders['id']}"},
    }
    assert completed(run(rasta, on_card))["data"]["rows"] == expected
    assert rasta.post("/api/dataset", {**on_card, "database": sample["db"]}, expect=403) == FORBIDDEN


def test_a_saved_question_in_a_collection_out_of_reach(admin, rasta, sample, collections):
    hidden = collections()
    card = create_card(admin, count_orders(sample), collection_id=hidden["id"])
    put_collection_graph(admin, {ALL_USERS: {str(hidden["id"]): "none"}})
    built_on = {"database": sample["db"], "type": "query", "query": {"source-table": f"card__{card['id']}"}}
    # The question a query is built on is checked first, with Metabase's plain 403; one it joins is the
    # query processor's to refuse.
    assert rasta.post("/api/dataset", built_on, expect=403) == FORBIDDEN
    join = {
        "source-table": f"card__{card['id']}",
        "alias": "Hidden",
        "condition": [
            "=",
            ["field", sample["ORDERS.ID"], None],
            ["field", "count", {"base-type": "type/Integer", "join-alias": "Hidden"}],
        ],
        "fields": "none",
    }
    joined = mbql(sample, joins=[join], aggregation=[["count"]])
    assert_failed(run(rasta, joined), f"You do not have permissions to view Card {card['id']}.", MISSING)
    assert rasta.post(f"/api/card/{card['id']}/query", expect=403) == FORBIDDEN
    put_collection_graph(admin, {ALL_USERS: {str(hidden["id"]): "read"}})
    completed(run(rasta, built_on))
    completed(rasta.post(f"/api/card/{card['id']}/query", expect=202))


def test_native_queries_need_native_access(admin, rasta, sample):
    query = native(sample, "SELECT COUNT(*) AS n FROM ORDERS")
    restrict_all_users(admin, sample, {"create-queries": "query-builder"})
    body = run(rasta, query)
    assert_failed(body, CANNOT_RUN, MISSING)
    assert body["json_query"] == query
    completed(run(rasta, count_orders(sample)))
    # A native source query inside MBQL needs it too.
    nested = {
        "database": sample["db"],
        "type": "query",
        "query": {"source-query": {"native": "SELECT 1 AS one"}},
    }
    assert_failed(run(rasta, nested), CANNOT_RUN, MISSING)
    # Native access to some tables only is no native access.
    restrict_all_users(admin, sample, {"create-queries": "query-builder-and-native"})
    assert completed(run(rasta, query))["data"]["rows"] == [[18760]]
    restrict_all_users(admin, sample, {"view-data": {"": {str(sample["REVIEWS"]): "blocked"}}})
    assert_failed(run(rasta, query), CANNOT_RUN, MISSING)
    assert completed(run(admin, query))["data"]["rows"] == [[18760]]


def test_a_template_tag_card_reference(admin, rasta, sample, collections):
    hidden = collections()
    card = create_card(admin, count_orders(sample), collection_id=hidden["id"])
    tag = f"#{card['id']}-count"
    tags = {tag: {"id": "c", "name": tag, "display-name": tag, "type": "card", "card-id": card["id"]}}
    query = native(sample, f"SELECT * FROM {{{{{tag}}}}} AS c", tags)
    completed(run(rasta, query))
    put_collection_graph(admin, {ALL_USERS: {str(hidden["id"]): "none"}})
    assert_failed(run(rasta, query), CANNOT_RUN, MISSING)
    completed(run(admin, query))
    put_collection_graph(admin, {ALL_USERS: {str(hidden["id"]): "read"}})
    assert completed(run(rasta, query))["data"]["rows"] == [[18760]]


def test_restoring_full_access(admin, rasta, sample):
    restrict_all_users(admin, sample, {"view-data": {"": {str(sample["PRODUCTS"]): "blocked"}}})
    graph = admin.get(f"/api/permissions/graph/group/{ALL_USERS}")["groups"][ALL_USERS][str(sample["db"])]
    assert graph["view-data"] == {"": by_table(sample, "unrestricted", leave_out=("PRODUCTS",))}
    put_data_graph(
        admin,
        {
            ALL_USERS: {
                str(sample["db"]): {"view-data": "unrestricted", "create-queries": "query-builder-and-native"}
            }
        },
    )
    completed(run(rasta, orders_with_products(sample)))
