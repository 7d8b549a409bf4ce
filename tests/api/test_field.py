"""`/api/field`: one field with its table and FK target, admin edits that survive a re-sync, cached and
labelled values, the summary, value search and remapping.

Reads use the shared Sample Database (built from Metabase's own data); edits use a warehouse connected
for this module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from querybase import sync
from tests.api.test_database import (
    DATABASE_KEYS,
    FIELD_KEYS,
    FORBIDDEN,
    SYNC_TIMEOUT,
    TABLE_KEYS,
    connected,
    fields_by_name,
    tables_by_name,
    wait_for_sync,
)
from tests.support.http import Api

ONLY_LIST_VALUES = (
    "You can only update the human readable values of a mapped values of a Field whose value of "
    "`has_field_values` is `list` or whose 'base_type' is 'type/Boolean'."
)


@pytest.fixture(scope="module")
def warehouse(server) -> Iterator[int]:
    """The id of an SQLite warehouse with the test dataset, shared by this module's edits (each test
    edits its own fields)."""
    with connected(server.api().as_("crowberto"), "sqlite") as (database_id, _):
        yield database_id


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


def sample_fields(api: Api) -> dict[str, dict[str, Any]]:
    """The synced Sample Database's fields by `TABLE.FIELD`."""
    admin = api.as_("crowberto")
    database_id = next(d["id"] for d in admin.get("/api/database")["data"] if d["is_sample"])
    wait_for_sync(admin, database_id)
    tables = tables_by_name(admin, database_id)
    return {f"{t}.{name}": f for t, table in tables.items() for name, f in fields_by_name(table).items()}


def warehouse_fields(admin: Api, database_id: int) -> dict[str, dict[str, Any]]:
    tables = tables_by_name(admin, database_id, include_hidden="true")
    return {f"{t}.{name}": f for t, table in tables.items() for name, f in fields_by_name(table).items()}


def test_get_field_with_table_and_target(api):
    fields = sample_fields(api)
    product_id = api.as_("rasta").get(f"/api/field/{fields['ORDERS.PRODUCT_ID']['id']}")
    assert set(product_id) == FIELD_KEYS | {"table", "target", "dimensions", "name_field"}
    assert {k: product_id[k] for k in ("name", "display_name", "base_type", "semantic_type")} == {
        "name": "PRODUCT_ID",
        "display_name": "Product ID",
        "base_type": "type/Integer",
        "semantic_type": "type/FK",
    }
    assert product_id["target"] == {k: v for k, v in fields["PRODUCTS.ID"].items() if k != "target"}
    assert set(product_id["table"]) == TABLE_KEYS | {"db"}
    assert product_id["table"]["name"] == "ORDERS"
    assert set(product_id["table"]["db"]) == DATABASE_KEYS - {"details", "router_database_id"}
    assert api.as_("rasta").get(f"/api/field/{fields['ORDERS.TOTAL']['id']}")["target"] is None
    assert api.as_("rasta").get("/api/field/999999999", expect=404) == "Not found."


def test_edits_survive_a_resync(admin, api, warehouse):
    fields = warehouse_fields(admin, warehouse)
    name = fields["venues.name"]
    assert name["semantic_type"] == "type/Name"
    path = f"/api/field/{name['id']}"
    edits = {
        "semantic_type": "type/Category",
        "display_name": "Venue Name",
        "visibility_type": "details-only",
        "description": "What the place is called.",
    }
    updated = admin.put(path, edits)
    assert set(updated) == FIELD_KEYS | {"target", "dimensions"}
    assert {k: updated[k] for k in edits} == edits
    assert api.as_("rasta").put(path, {"display_name": "Mine"}, expect=403) == FORBIDDEN

    assert admin.post(f"/api/database/{warehouse}/sync_schema") == {"status": "ok"}
    sync.wait_for_syncs(timeout=SYNC_TIMEOUT)
    wait_for_sync(admin, warehouse)
    assert {k: admin.get(path)[k] for k in edits} == edits


def test_update_rejects_invalid_values(admin, api, warehouse):
    path = f"/api/field/{warehouse_fields(admin, warehouse)['venues.price']['id']}"
    assert admin.put(path, {"visibility_type": "invisible"}, expect=400) == {
        "errors": {"visibility_type": "nullable enum of retired, sensitive, normal, hidden, details-only"},
        "specific-errors": {
            "visibility_type": [
                'should be either "retired", "sensitive", "normal", "hidden" or "details-only", '
                'received: "invisible"'
            ]
        },
    }
    assert admin.put(path, {"fk_target_field_id": 999999999}, expect=400) == {
        "errors": {"fk_target_field_id": "Invalid target field"}
    }
    assert admin.put("/api/field/999999999", {"display_name": "x"}, expect=404) == "Not found."
    assert api.as_("rasta").put("/api/field/999999999", {"display_name": "x"}, expect=404) == "Not found."


def test_dropping_the_fk_type_forgets_the_target(admin, warehouse):
    fields = warehouse_fields(admin, warehouse)
    user_id = fields["checkins.user_id"]
    assert (user_id["semantic_type"], user_id["fk_target_field_id"]) == ("type/FK", fields["users.id"]["id"])
    assert admin.get(f"/api/field/{user_id['id']}")["target"]["id"] == fields["users.id"]["id"]
    updated = admin.put(f"/api/field/{user_id['id']}", {"semantic_type": "type/Category"})
    assert (updated["semantic_type"], updated["fk_target_field_id"], updated["target"]) == (
        "type/Category",
        None,
        None,
    )


def test_values_of_a_category(api):
    category = sample_fields(api)["PRODUCTS.CATEGORY"]
    assert api.as_("rasta").get(f"/api/field/{category['id']}/values") == {
        "field_id": category["id"],
        "values": [["Doohickey"], ["Gadget"], ["Gizmo"], ["Widget"]],
        "has_more_values": False,
    }
    total = sample_fields(api)["ORDERS.TOTAL"]
    assert api.as_("rasta").get(f"/api/field/{total['id']}/values") == {
        "field_id": total["id"],
        "values": [],
        "has_more_values": False,
    }
    assert api.as_("rasta").get("/api/field/999999999/values", expect=404) == "Not found."


def test_labelled_values(admin, api, warehouse):
    fields = warehouse_fields(admin, warehouse)
    name = fields["categories.name"]
    path = f"/api/field/{name['id']}/values"
    labelled = [["African", "Af"], ["American", "Am"], ["Artisan", "Ar"], ["Asian", "As"], ["BBQ", "Bb"]]
    assert admin.post(path, {"values": labelled}) == {"status": "success"}
    assert admin.get(path) == {"field_id": name["id"], "values": labelled, "has_more_values": False}

    mixed = {"values": [["African", "Af"], ["American"]]}
    assert (
        admin.post(path, mixed, expect=400)
        == "If remapped values are specified, they must be specified for all field values"
    )
    assert admin.get(path)["values"] == labelled
    assert api.as_("rasta").post(path, {"values": [["African"]]}, expect=403) == FORBIDDEN

    latitude = fields["venues.latitude"]
    assert (
        admin.post(f"/api/field/{latitude['id']}/values", {"values": [[1.0]]}, expect=400) == ONLY_LIST_VALUES
    )

    assert admin.post(f"/api/field/{name['id']}/discard_values") == {"status": "success"}
    assert admin.post(f"/api/field/{name['id']}/rescan_values") == {"status": "success"}
    assert admin.get(path)["values"] == [["African"], ["American"], ["Artisan"], ["Asian"], ["BBQ"]]


def test_summary(api):
    fields = sample_fields(api)
    rasta = api.as_("rasta")
    assert rasta.get(f"/api/field/{fields['ORDERS.ID']['id']}/summary") == [
        ["count", 18760],
        ["distincts", 18760],
    ]
    assert rasta.get(f"/api/field/{fields['PRODUCTS.CATEGORY']['id']}/summary") == [
        ["count", 200],
        ["distincts", 4],
    ]
    assert rasta.get("/api/field/999999999/summary", expect=404) == "Not found."


def test_search_values(api, metabase_sample_data):
    fields = sample_fields(api)
    rasta = api.as_("rasta")
    people_id, people_name = fields["PEOPLE.ID"]["id"], fields["PEOPLE.NAME"]["id"]
    assert rasta.get(f"/api/field/{people_id}/search/{people_name}", params={"value": "Ma", "limit": 3}) == [
        [15, "Bertrand Romaguera"],
        [19, "Wyman Kertzmann"],
        [25, "Araceli Stiedemann"],
    ]
    category = fields["PRODUCTS.CATEGORY"]["id"]
    assert rasta.get(f"/api/field/{category}/search/{category}", params={"value": "G"}) == [
        ["Gadget"],
        ["Gizmo"],
        ["Widget"],
    ]
    assert rasta.get(f"/api/field/{category}/search/{category}", params={"limit": 2}) == [
        ["Doohickey"],
        ["Gadget"],
    ]
    assert (
        rasta.get(f"/api/field/{category}/search/{category}", expect=400)
        == "Limit required if value is omitted"
    )
    assert (
        rasta.get(f"/api/field/999999999/search/{category}", params={"value": "a"}, expect=404)
        == "Not found."
    )


def test_remapping(api, metabase_sample_data):
    fields = sample_fields(api)
    rasta = api.as_("rasta")
    product_id, title = fields["ORDERS.PRODUCT_ID"]["id"], fields["PRODUCTS.TITLE"]["id"]
    # An FK is remapped through the row of the table it points at.
    assert rasta.get(f"/api/field/{product_id}/remapping/{title}", params={"value": "1"}) == [
        1,
        "Rustic Paper Wallet",
    ]
    people_id, name = fields["PEOPLE.ID"]["id"], fields["PEOPLE.NAME"]["id"]
    assert rasta.get(f"/api/field/{people_id}/remapping/{name}", params={"value": "20"}) == [
        20,
        "John Aufderhar",
    ]
    assert (
        rasta.get(f"/api/field/999999999/remapping/{name}", params={"value": "20"}, expect=404)
        == "Not found."
    )
