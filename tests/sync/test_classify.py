"""Metabase's naming and classification rules, unit by unit."""

from __future__ import annotations

import pytest

from querybase.models.database import Field, has_field_values
from querybase.sync.classify import entity_type, humanize, semantic_type_from_name
from querybase.sync.fingerprint import classify, fingerprint


@pytest.mark.parametrize(
    ("name", "display"),
    [
        ("USER_ID", "User ID"),
        ("CREATED_AT", "Created At"),
        ("EAN", "Ean"),
        ("_fivetran_synced", "Fivetran Synced"),
        ("userId", "UserId"),
        ("orderURL", "OrderURL"),
        ("ip_address", "IP Address"),
        ("meta-ads_frequency l_30_d", "Meta Ads Frequency L 30 D"),
        ("ANALYTIC_EVENTS", "Analytic Events"),
        ("___", "___"),
    ],
)
def test_humanize(name, display):
    assert humanize(name) == display


@pytest.mark.parametrize(
    ("name", "base_type", "semantic"),
    [
        ("ID", "type/BigInteger", "type/PK"),
        ("LATITUDE", "type/Float", "type/Latitude"),
        ("venue_lng", "type/Float", "type/Longitude"),
        ("LONGITUDE", "type/Text", None),
        ("CREATED_AT", "type/DateTime", "type/CreationTimestamp"),
        ("created_at", "type/Date", "type/CreationDate"),
        ("CANCELED_AT", "type/DateTime", "type/CancelationTimestamp"),
        ("QUANTITY", "type/Integer", "type/Quantity"),
        ("DISCOUNT", "type/Float", "type/Discount"),
        ("RATING", "type/Float", "type/Score"),
        ("VENDOR", "type/Text", "type/Company"),
        ("TITLE", "type/Text", "type/Title"),
        ("SOURCE", "type/Text", "type/Source"),
        ("CITY", "type/Text", "type/City"),
        ("COUNTRY", "type/Text", "type/Country"),
        ("NAME", "type/Text", "type/Name"),
        ("zip_code", "type/Integer", "type/ZipCode"),
        ("ZIP", "type/Text", None),
        ("PAGE_URL", "type/Text", "type/URL"),
        ("BIRTH_DATE", "type/Date", None),
        ("birthday", "type/Date", "type/Birthdate"),
        ("EMAIL", "type/Text", None),
    ],
)
def test_semantic_type_from_name(name, base_type, semantic):
    assert semantic_type_from_name(name, base_type) == semantic


@pytest.mark.parametrize(
    ("table", "entity"),
    [
        ("ORDERS", "entity/TransactionTable"),
        ("PRODUCTS", "entity/ProductTable"),
        ("PEOPLE", "entity/UserTable"),
        ("ACCOUNTS", "entity/UserTable"),
        ("ANALYTIC_EVENTS", "entity/EventTable"),
        ("REVIEWS", "entity/GenericTable"),
        ("INVOICES", "entity/GenericTable"),
    ],
)
def test_entity_type(table, entity):
    assert entity_type(table) == entity


def field(base_type: str, semantic_type: str | None = None) -> Field:
    return Field(name="x", base_type=base_type, semantic_type=semantic_type, preview_display=True)


def test_many_emails_become_email_and_search():
    f = field("type/Text")
    values = [f"user{i}@example.com" for i in range(100)]
    classify(f, fingerprint(f, values))
    assert (f.semantic_type, f.has_field_values, has_field_values(f)) == ("type/Email", "auto-list", "list")


def test_long_unique_text_is_searchable_and_not_previewed():
    f = field("type/Text")
    values = [("lorem ipsum dolor " * 4) + str(i) for i in range(2000)]
    classify(f, fingerprint(f, values))
    assert (f.semantic_type, f.has_field_values, has_field_values(f), f.preview_display) == (
        None,
        None,
        "search",
        False,
    )


def test_us_states_and_few_values_become_category_first():
    states = ["CA", "NY", "TX", "WA"] * 10
    f = field("type/Text")
    classify(f, fingerprint(f, states))
    assert f.semantic_type == "type/Category"
    many = field("type/Text")
    codes = [a + b for a in "ACDFGHIKLMNOPRSTUVW" for b in "ACDEHIKLMNORSTVXYZ"]
    classify(many, fingerprint(many, ["CA"] * 700 + codes))
    assert many.semantic_type == "type/State"


def test_floats_are_never_categories_or_lists():
    f = field("type/Float")
    classify(f, fingerprint(f, [1.5, 2.5, 2.5]))
    assert (f.semantic_type, f.has_field_values, has_field_values(f)) == (None, None, "none")
    print_ = fingerprint(f, [1.0, 2.0, 3.0, None])
    assert print_["global"] == {"distinct-count": 3, "nil%": 0.25}
    assert print_["type"]["type/Number"]["min"] == 1.0 and print_["type"]["type/Number"]["avg"] == 2.0


def test_pk_has_no_fingerprint_and_fk_only_global():
    assert fingerprint(field("type/Integer", "type/PK"), [1, 2]) is None
    assert fingerprint(field("type/Integer", "type/FK"), [1, 1, None]) == {
        "global": {"distinct-count": 1, "nil%": 1 / 3}
    }
