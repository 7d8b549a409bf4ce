"""The Sample Database through the API: listed as Metabase lists it, synced into Metabase's eight tables
with Metabase's table ids, semantic types, keys, display names and descriptions
(/work/shared/reference/sample-database.md), and `POST /api/database/sample_database` adding it back
after it was deleted."""

from __future__ import annotations

from typing import Any

from tests.api.test_database import DATABASE_KEYS, LIST_KEYS, fields_by_name, wait_for_sync
from tests.conftest import set_up_users
from tests.support.http import Api

SAMPLE_TABLES = [
    "ACCOUNTS",
    "ANALYTIC_EVENTS",
    "FEEDBACK",
    "INVOICES",
    "ORDERS",
    "PEOPLE",
    "PRODUCTS",
    "REVIEWS",
]

# Metabase's own synced metadata of the four classic tables (its frontend fixture; `_METABASE_METADATA`
# forces PEOPLE.ZIP and REVIEWS.BODY): the semantic type of every column, FKs as (type, target).
CLASSIC_SEMANTIC_TYPES: dict[str, dict[str, Any]] = {
    "PRODUCTS": {
        "ID": "type/PK",
        "EAN": None,
        "TITLE": "type/Title",
        "CATEGORY": "type/Category",
        "VENDOR": "type/Company",
        "PRICE": None,
        "RATING": "type/Score",
        "CREATED_AT": "type/CreationTimestamp",
    },
    "ORDERS": {
        "ID": "type/PK",
        "USER_ID": ("type/FK", "PEOPLE.ID"),
        "PRODUCT_ID": ("type/FK", "PRODUCTS.ID"),
        "SUBTOTAL": None,
        "TAX": None,
        "TOTAL": None,
        "DISCOUNT": "type/Discount",
        "CREATED_AT": "type/CreationTimestamp",
        "QUANTITY": "type/Quantity",
    },
    "PEOPLE": {
        "ID": "type/PK",
        "ADDRESS": None,
        "EMAIL": "type/Email",
        "PASSWORD": None,
        "NAME": "type/Name",
        "CITY": "type/City",
        "LONGITUDE": "type/Longitude",
        "STATE": "type/State",
        "SOURCE": "type/Source",
        "BIRTH_DATE": None,
        "ZIP": "type/ZipCode",
        "LATITUDE": "type/Latitude",
        "CREATED_AT": "type/CreationTimestamp",
    },
    "REVIEWS": {
        "ID": "type/PK",
        "PRODUCT_ID": ("type/FK", "PRODUCTS.ID"),
        "REVIEWER": None,
        "RATING": "type/Score",
        "BODY": "type/Description",
        "CREATED_AT": "type/CreationTimestamp",
    },
}

# The SaaS tables, as Metabase's classifiers type them (name patterns, text fingerprints, category
# cardinality, FK constraints).
SAAS_SEMANTIC_TYPES: dict[str, dict[str, Any]] = {
    "ACCOUNTS": {
        "ID": "type/PK",
        "EMAIL": "type/Email",
        "FIRST_NAME": "type/Name",
        "LAST_NAME": "type/Name",
        "PLAN": "type/Category",
        "SOURCE": "type/Source",
        "SEATS": None,
        "CREATED_AT": "type/CreationTimestamp",
        "TRIAL_ENDS_AT": None,
        "CANCELED_AT": "type/CancelationTimestamp",
        # Booleans with a value become categories (`field-should-be-category?` accepts type/Boolean);
        # the reference's "null" for these three is only a prediction.
        "TRIAL_CONVERTED": "type/Category",
        "ACTIVE_SUBSCRIPTION": "type/Category",
        "LEGACY_PLAN": "type/Category",
        "LATITUDE": "type/Latitude",
        "LONGITUDE": "type/Longitude",
        "COUNTRY": "type/Country",
    },
    "ANALYTIC_EVENTS": {
        "ID": "type/PK",
        "ACCOUNT_ID": ("type/FK", "ACCOUNTS.ID"),
        "EVENT": "type/Category",
        "TIMESTAMP": None,
        "PAGE_URL": "type/URL",
        "BUTTON_LABEL": "type/Category",
    },
    "FEEDBACK": {
        "ID": "type/PK",
        "ACCOUNT_ID": ("type/FK", "ACCOUNTS.ID"),
        "EMAIL": "type/Email",
        "DATE_RECEIVED": None,
        "RATING": "type/Score",
        "RATING_MAPPED": "type/Category",
        "BODY": None,
    },
    "INVOICES": {
        "ID": "type/PK",
        "ACCOUNT_ID": ("type/FK", "ACCOUNTS.ID"),
        "PAYMENT": None,
        "EXPECTED_INVOICE": "type/Category",
        "PLAN": "type/Category",
        "DATE_RECEIVED": None,
    },
}


def sample_database(admin: Api) -> dict[str, Any]:
    return next(d for d in admin.get("/api/database")["data"] if d["is_sample"])


def synced_metadata(admin: Api) -> dict[str, Any]:
    database_id = sample_database(admin)["id"]
    wait_for_sync(admin, database_id)
    return admin.get(f"/api/database/{database_id}/metadata")


def semantic_types(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{table: {field: semantic type, or (type/FK, "TABLE.FIELD") for an FK}}` from `metadata`."""
    names = {f["id"]: f"{t['name']}.{f['name']}" for t in metadata["tables"] for f in t["fields"]}
    return {
        t["name"]: {
            f["name"]: (f["semantic_type"], names[f["fk_target_field_id"]])
            if f["semantic_type"] == "type/FK"
            else f["semantic_type"]
            for f in t["fields"]
        }
        for t in metadata["tables"]
    }


def test_sample_database_is_listed(api):
    admin = api.as_("crowberto")
    wait_for_sync(admin, sample_database(admin)["id"])
    sample = sample_database(admin)
    assert set(sample) == LIST_KEYS
    assert {k: sample[k] for k in ("name", "engine", "is_sample", "is_full_sync", "is_on_demand")} == {
        "name": "Sample Database",
        "engine": "sqlite",
        "is_sample": True,
        "is_full_sync": True,
        "is_on_demand": False,
    }
    as_rasta = next(d for d in api.as_("rasta").get("/api/database")["data"] if d["is_sample"])
    assert as_rasta == {k: v for k, v in sample.items() if k != "details"}
    with_tables = next(
        d for d in admin.get("/api/database", params={"include": "tables"})["data"] if d["is_sample"]
    )
    assert sorted(t["name"] for t in with_tables["tables"]) == SAMPLE_TABLES


def test_metadata_has_metabase_tables_and_ids(api, metabase_sample_data):
    metadata = synced_metadata(api.as_("rasta"))
    tables = {t["name"]: t for t in metadata["tables"]}
    # Listed by display name, as Metabase orders them.
    assert [t["name"] for t in metadata["tables"]] == SAMPLE_TABLES
    first = min(t["id"] for t in tables.values())
    # Metabase's ids: PRODUCTS is the database's first table, ORDERS the second, PEOPLE 5th, REVIEWS 8th.
    assert {name: tables[name]["id"] - first for name in ("PRODUCTS", "ORDERS", "PEOPLE", "REVIEWS")} == {
        "PRODUCTS": 0,
        "ORDERS": 1,
        "PEOPLE": 4,
        "REVIEWS": 7,
    }
    assert {t["name"]: t["display_name"] for t in metadata["tables"]} == {
        "ACCOUNTS": "Accounts",
        "ANALYTIC_EVENTS": "Analytic Events",
        "FEEDBACK": "Feedback",
        "INVOICES": "Invoices",
        "ORDERS": "Orders",
        "PEOPLE": "People",
        "PRODUCTS": "Products",
        "REVIEWS": "Reviews",
    }
    assert {t["name"]: t["entity_type"] for t in metadata["tables"]} == {
        "ACCOUNTS": "entity/UserTable",
        "ANALYTIC_EVENTS": "entity/EventTable",
        "FEEDBACK": "entity/GenericTable",
        "INVOICES": "entity/GenericTable",
        "ORDERS": "entity/TransactionTable",
        "PEOPLE": "entity/UserTable",
        "PRODUCTS": "entity/ProductTable",
        "REVIEWS": "entity/GenericTable",
    }
    # Every table's description comes from `_METABASE_METADATA`, which is not itself a table.
    assert all(isinstance(t["description"], str) and len(t["description"]) > 20 for t in metadata["tables"])
    assert tables["ORDERS"]["description"].startswith("Confirmed Sample Company orders for a product")
    assert all(t["schema"] == "" and t["initial_sync_status"] == "complete" for t in metadata["tables"])


def test_semantic_types_and_keys_follow_metabase(api):
    types = semantic_types(synced_metadata(api.as_("rasta")))
    assert {name: types[name] for name in CLASSIC_SEMANTIC_TYPES} == CLASSIC_SEMANTIC_TYPES
    assert {name: types[name] for name in SAAS_SEMANTIC_TYPES} == SAAS_SEMANTIC_TYPES


def test_field_display_names_and_types(api):
    metadata = synced_metadata(api.as_("rasta"))
    orders = fields_by_name(next(t for t in metadata["tables"] if t["name"] == "ORDERS"))
    products = fields_by_name(next(t for t in metadata["tables"] if t["name"] == "PRODUCTS"))
    feedback = fields_by_name(next(t for t in metadata["tables"] if t["name"] == "FEEDBACK"))
    assert [f for f in orders] == [
        "ID",
        "USER_ID",
        "PRODUCT_ID",
        "SUBTOTAL",
        "TAX",
        "TOTAL",
        "DISCOUNT",
        "CREATED_AT",
        "QUANTITY",
    ]
    assert {n: f["display_name"] for n, f in orders.items()} == {
        "ID": "ID",
        "USER_ID": "User ID",
        "PRODUCT_ID": "Product ID",
        "SUBTOTAL": "Subtotal",
        "TAX": "Tax",
        "TOTAL": "Total",
        "DISCOUNT": "Discount",
        "CREATED_AT": "Created At",
        "QUANTITY": "Quantity",
    }
    assert products["EAN"]["display_name"] == "Ean"
    assert {n: (f["base_type"], f["effective_type"]) for n, f in orders.items()} == {
        "ID": ("type/BigInteger", "type/BigInteger"),
        "USER_ID": ("type/Integer", "type/Integer"),
        "PRODUCT_ID": ("type/Integer", "type/Integer"),
        "SUBTOTAL": ("type/Float", "type/Float"),
        "TAX": ("type/Float", "type/Float"),
        "TOTAL": ("type/Float", "type/Float"),
        "DISCOUNT": ("type/Float", "type/Float"),
        "CREATED_AT": ("type/DateTime", "type/DateTime"),
        "QUANTITY": ("type/Integer", "type/Integer"),
    }
    assert orders["PRODUCT_ID"]["target"]["id"] == products["ID"]["id"]
    assert orders["TOTAL"]["target"] is None
    # A long free text is not shown in previews.
    assert feedback["BODY"]["preview_display"] is False
    assert products["CATEGORY"]["has_field_values"] == "list"


def test_sample_database_endpoint_returns_the_existing_one(api):
    admin = api.as_("crowberto")
    sample = sample_database(admin)
    before = admin.get("/api/database")["total"]
    added = admin.post("/api/database/sample_database")
    assert set(added) == DATABASE_KEYS
    assert (added["id"], added["name"], added["is_sample"]) == (sample["id"], "Sample Database", True)
    assert admin.get("/api/database")["total"] == before
    assert api.as_("rasta").post("/api/database/sample_database", expect=403) == (
        "You don't have permissions to do that."
    )


def test_deleted_sample_database_is_added_back(fresh_server):
    """On an instance of its own: delete the Sample Database, then add it back through the API."""
    set_up_users(fresh_server)
    admin = fresh_server.api().as_("crowberto")
    old = sample_database(admin)
    wait_for_sync(admin, old["id"])
    assert admin.delete(f"/api/database/{old['id']}", expect=204) is None
    assert admin.get("/api/database") == {"data": [], "total": 0}

    added = admin.post("/api/database/sample_database")
    assert set(added) == DATABASE_KEYS
    assert (added["name"], added["engine"], added["is_sample"]) == ("Sample Database", "sqlite", True)
    assert added["initial_sync_status"] == "incomplete"
    assert [d["id"] for d in admin.get("/api/database")["data"]] == [added["id"]]
    wait_for_sync(admin, added["id"])
    metadata = admin.get(f"/api/database/{added['id']}/metadata")
    assert [t["name"] for t in metadata["tables"]] == SAMPLE_TABLES
    assert semantic_types(metadata)["ORDERS"] == CLASSIC_SEMANTIC_TYPES["ORDERS"]
    # Asking again while it exists answers with the same database.
    assert admin.post("/api/database/sample_database")["id"] == added["id"]
