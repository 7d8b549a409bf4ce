"""Values other than ids that the app database cannot hold, or that Python cannot read, wherever a request
carries them: paging, positions and sizes, references to rows that do not exist, integers past 64 bits inside
JSON documents, and digit strings. Each once answered 500 on some app database; run them on all three
(`--app-db sqlite,postgres,mysql`). Ids themselves are `test_id_bounds.py`'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from querybase import jsonutil
from tests.conftest import Server
from tests.support.http import Api
from tests.support.notifications import sample_db_id

INT16_MAX, INT32_MAX, LONG_MAX = 2**15 - 1, 2**31 - 1, 2**63 - 1
BIG = 2**70  # an integer past 64 bits
DIGITS = "9" * 5000  # more digits than Python's `int()` reads from a string

NO_SUCH_ENDPOINT = "API endpoint does not exist."
POSITIVE = "value must be an integer greater than zero."
NON_NEGATIVE = "value must be an integer greater or equal to than zero."
UNIQUE_MAPS = "value must be seq of maps in which ids are unique"
INVALID_COLLECTION_GRAPH = (
    'value must be a map of group id -> (collection id or "root" -> "write", "read" or "none").'
)
INVALID_DATA_GRAPH = "Cannot parse permissions graph because it is invalid: "
CARD_REFS = (
    "value must be a map with the following keys `(collection_id, description, display, id, include_csv, "
    "include_xls, name, dashboard_id, parameter_mappings)`, or value must be a map with the keys `id`, "
    "`include_csv`, `include_xls`, and `dashboard_card_id`., or value must be a map with the keys "
    "`include_csv`, `include_xls`, and `dashboard_card_id`."
)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@dataclass
class World:
    admin: Api
    database: int
    collection: int
    card: int
    dashboard: int
    created_at: int  # ORDERS.CREATED_AT, a date field of the Sample Database


def native(world: World, sql: str = "SELECT 1", **extra: Any) -> dict[str, Any]:
    return {"database": world.database, "type": "native", "native": {"query": sql, **extra}}


def card_body(world: World, query: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"name": unique("Values"), "display": "table", "visualization_settings": {}}
    return {**body, "dataset_query": query or native(world), **extra}


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    admin = server.api().as_("crowberto")
    database = sample_db_id(admin)
    collection = admin.post("/api/collection", {"name": unique("Values")})["id"]
    world = World(admin, database, collection, 0, 0, 0)
    world.card = admin.post("/api/card", card_body(world, collection_id=collection))["id"]
    world.dashboard = admin.post("/api/dashboard", {"name": unique("Values")})["id"]
    tables = admin.get(f"/api/database/{database}/metadata")["tables"]
    orders = next(t for t in tables if t["name"] == "ORDERS")
    world.created_at = next(f["id"] for f in orders["fields"] if f["name"] == "CREATED_AT")
    return world


# --- Paging -------------------------------------------------------------------------------------------------
# Metabase's offset-paging middleware reads `limit` and `offset` with `parse-long` (`Long/parseLong`): one
# that is no long is as if not sent, and with neither one the list is not paged at all.

PAGED = [
    "/api/user",
    "/api/permissions/group",
    "/api/search",
    "/api/collection/root/items",
    "/api/collection/{collection}/items",
]
NOT_LONGS = [str(2**63), str(2**64), str(-(2**63) - 1), DIGITS, "abc", "1.5", "\N{SUPERSCRIPT TWO}", " 1", ""]


def paged(world: World, path: str) -> str:
    return path.format(collection=world.collection)


def page_of(answer: Any) -> tuple[Any, Any, Any]:
    """(items, limit, offset) of a paged list (the groups list answers its items alone)."""
    if isinstance(answer, list):
        return answer, None, None
    return answer["data"], answer["limit"], answer["offset"]


@pytest.mark.parametrize("raw", NOT_LONGS)
@pytest.mark.parametrize("name", ["limit", "offset"])
@pytest.mark.parametrize("path", PAGED)
def test_a_paging_value_that_is_no_long_is_ignored(world: World, path: str, name: str, raw: str) -> None:
    whole = world.admin.get(paged(world, path))
    assert world.admin.get(paged(world, path), params={name: raw}) == whole


@pytest.mark.parametrize("value", [2**31, LONG_MAX])
@pytest.mark.parametrize("path", PAGED)
def test_the_largest_paging_values(world: World, path: str, value: int) -> None:
    """Any long is a limit or an offset (PostgreSQL's LIMIT and OFFSET take 64 bits)."""
    items, _, _ = page_of(world.admin.get(paged(world, path)))
    assert items, "the list should not be empty"
    listed = path == "/api/permissions/group"  # answers its items alone
    limited = world.admin.get(paged(world, path), params={"limit": value})
    assert page_of(limited) == ((items, None, None) if listed else (items, value, 0))
    skipped = world.admin.get(paged(world, path), params={"offset": value})
    assert page_of(skipped) == (([], None, None) if listed else ([], 50, value))


def test_paging_values_are_read_as_java_reads_a_long(world: World) -> None:
    """`Long/parseLong` takes a sign and the decimal digits of any script (`٣` is 3)."""
    three = world.admin.get("/api/user", params={"limit": 3})
    assert three["limit"] == 3
    for raw in ["\N{ARABIC-INDIC DIGIT THREE}", "+3", "0003"]:
        assert world.admin.get("/api/user", params={"limit": raw}) == three


@pytest.mark.parametrize("name", ["limit", "offset"])
@pytest.mark.parametrize("path", PAGED)
def test_a_negative_paging_value(world: World, path: str, name: str) -> None:
    """Metabase hands it to the app database's LIMIT or OFFSET, which refuses it (a 500): a 400 here."""
    assert world.admin.get(paged(world, path), params={name: -1}, expect=400) == {
        "errors": {name: f"nullable {NON_NEGATIVE}"},
        "specific-errors": {name: [f"{NON_NEGATIVE}, received: -1"]},
    }


# --- Positions, sizes and cache durations -------------------------------------------------------------------
# Metabase's schemas take any long for them; its INTEGER (SMALLINT for `collection_position`) columns do
# not, and PostgreSQL and MySQL refuse the write. Here the request types carry the column's bound.


@dataclass
class Field:
    """One integer field of one request body: where it goes, and what Metabase calls its type."""

    method: str
    path: Callable[[World], str]
    body: Callable[[World, str, int], Any]
    key: str
    maximum: int
    description: str = POSITIVE
    nullable: bool = True
    # The key of the list of dashboard cards the field sits in (None: at the top of the body).
    within: str | None = None

    def send(self, world: World, value: int, expect: int) -> Any:
        return world.admin.request(
            self.method, self.path(world), json=self.body(world, self.key, value), expect=expect
        )

    def refusal(self, explanation: str) -> dict[str, Any]:
        if self.within is None:
            description = ("nullable " if self.nullable else "") + self.description
            return {"errors": {self.key: description}, "specific-errors": {self.key: [explanation]}}
        description = ("nullable " if self.within == "dashcards" else "") + UNIQUE_MAPS
        return {
            "errors": {self.within: description},
            "specific-errors": {self.within: [{self.key: [explanation]}]},
        }


def top(extra: Callable[[World], dict[str, Any]] | None = None) -> Callable[[World, str, int], Any]:
    return lambda w, key, value: {**(extra(w) if extra else {}), key: value}


def dashcards(within: str) -> Callable[[World, str, int], Any]:
    def body(w: World, key: str, value: int) -> Any:
        card = {"id": -1, "card_id": w.card, "row": 0, "col": 0, "size_x": 4, "size_y": 4, key: value}
        return {within: [card]}

    return body


def dashboard(w: World) -> str:
    return f"/api/dashboard/{w.dashboard}"


def new_pulse(w: World) -> dict[str, Any]:
    card = {"id": w.card, "include_csv": False, "include_xls": False}
    channel = {"channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 8}
    return {"name": unique("Values"), "cards": [card], "channels": [{**channel, "recipients": []}]}


FIELDS: dict[str, Field] = {
    "new card's cache_ttl": Field("POST", lambda w: "/api/card", top(card_body), "cache_ttl", INT32_MAX),
    "new card's collection_position": Field(
        "POST", lambda w: "/api/card", top(card_body), "collection_position", INT16_MAX
    ),
    "card's cache_ttl": Field("PUT", lambda w: f"/api/card/{w.card}", top(), "cache_ttl", INT32_MAX),
    "card's collection_position": Field(
        "PUT", lambda w: f"/api/card/{w.card}", top(), "collection_position", INT16_MAX
    ),
    "new dashboard's cache_ttl": Field(
        "POST", lambda w: "/api/dashboard", top(lambda w: {"name": unique("V")}), "cache_ttl", INT32_MAX
    ),
    "new dashboard's collection_position": Field(
        "POST",
        lambda w: "/api/dashboard",
        top(lambda w: {"name": unique("V")}),
        "collection_position",
        INT16_MAX,
    ),
    "dashboard's cache_ttl": Field("PUT", dashboard, top(), "cache_ttl", INT32_MAX),
    "dashboard's collection_position": Field("PUT", dashboard, top(), "collection_position", INT16_MAX),
    "dashboard's position": Field("PUT", dashboard, top(), "position", INT32_MAX),
    "dashboard copy's collection_position": Field(
        "POST", lambda w: f"{dashboard(w)}/copy", top(), "collection_position", INT16_MAX
    ),
    "subscription's collection_position": Field(
        "POST", lambda w: "/api/pulse", top(new_pulse), "collection_position", INT16_MAX
    ),
    "added card's row": Field(
        "POST",
        lambda w: f"{dashboard(w)}/cards",
        top(lambda w: {"cardId": w.card}),
        "row",
        INT32_MAX,
        NON_NEGATIVE,
        nullable=False,
    ),
    "added card's sizeX": Field(
        "POST", lambda w: f"{dashboard(w)}/cards", top(lambda w: {"cardId": w.card}), "sizeX", INT32_MAX
    ),
    **{
        f"{within} {key}": Field(
            "PUT",
            (lambda w: f"{dashboard(w)}/cards") if within == "cards" else dashboard,
            dashcards(within),
            key,
            INT32_MAX,
            within=within,
        )
        for within in ("dashcards", "cards")
        for key in ("row", "col", "size_x", "size_y")
    },
}


@pytest.mark.parametrize("past", [1, LONG_MAX])
@pytest.mark.parametrize("name", FIELDS)
def test_a_long_past_the_column(world: World, name: str, past: int) -> None:
    field = FIELDS[name]
    value = field.maximum + 1 if past == 1 else past
    assert field.send(world, value, 400) == field.refusal(
        f"should be at most {field.maximum}, received: {value}"
    )


@pytest.mark.parametrize(
    "name", ["new card's cache_ttl", "card's collection_position", "added card's row", "dashcards size_x"]
)
def test_an_integer_that_is_no_long_keeps_metabases_explanation(world: World, name: str) -> None:
    field = FIELDS[name]
    assert field.send(world, 2**63, 400) == field.refusal(f"{field.description}, received: {2**63}")


def test_the_largest_values_the_columns_hold(world: World) -> None:
    admin = world.admin
    card = admin.post("/api/card", card_body(world, cache_ttl=INT32_MAX, collection_position=INT16_MAX))
    assert (card["cache_ttl"], card["collection_position"]) == (INT32_MAX, INT16_MAX)
    board = admin.put(dashboard(world), {"position": INT32_MAX, "collection_position": INT16_MAX})
    assert (board["position"], board["collection_position"]) == (INT32_MAX, INT16_MAX)
    sizes = {"row": INT32_MAX, "col": INT32_MAX, "size_x": INT32_MAX, "size_y": INT32_MAX}
    placed = admin.put(dashboard(world), {"dashcards": [{"id": -1, "card_id": world.card, **sizes}]})
    assert [{k: dc[k] for k in sizes} for dc in placed["dashcards"]] == [sizes]


# --- References to rows that do not exist -------------------------------------------------------------------


@pytest.mark.parametrize("group", [99999, 2**40, LONG_MAX])
def test_a_collection_graph_naming_a_group_that_does_not_exist(world: World, group: int) -> None:
    """Metabase's grant fails on the group's foreign key, which it logs and goes on from: the group gets
    nothing, and the change is still a revision (on PostgreSQL Metabase's transaction fails: a 500)."""
    before = world.admin.get("/api/collection/graph")
    body = {"revision": before["revision"], "groups": {str(group): {str(world.collection): "read"}}}
    after = {"revision": before["revision"] + 1, "groups": before["groups"]}
    assert world.admin.put("/api/collection/graph", body) == after
    assert world.admin.get("/api/collection/graph") == after


@pytest.mark.parametrize("key", ["0", "-1", "abc", "\N{SUPERSCRIPT TWO}", str(2**63), DIGITS])
@pytest.mark.parametrize("where", ["group", "collection"])
def test_a_collection_graph_key_that_is_no_positive_long(world: World, where: str, key: str) -> None:
    """Metabase decodes the keys with `Long/parseLong` and checks them as `ms/PositiveInt`."""
    revision = world.admin.get("/api/collection/graph")["revision"]
    groups = {key: {"root": "read"}} if where == "group" else {"1": {key: "read"}}
    body = {"revision": revision, "groups": groups}
    assert world.admin.put("/api/collection/graph", body, expect=400) == {
        "errors": {"groups": INVALID_COLLECTION_GRAPH}
    }


def test_a_data_graph_naming_a_group_that_no_row_has(world: World) -> None:
    revision = world.admin.get("/api/permissions/graph")["revision"]
    perms = {str(world.database): {"view-data": "unrestricted"}}
    body = {"revision": revision, "groups": {str(2**40): perms}}
    assert world.admin.put("/api/permissions/graph", body) == {"revision": revision + 1, "groups": {}}


@pytest.mark.parametrize("key", [str(2**63), DIGITS, "\N{SUPERSCRIPT TWO}"])
def test_a_data_graph_key_that_is_no_long(world: World, key: str) -> None:
    revision = world.admin.get("/api/permissions/graph")["revision"]
    explanation = f'{{:groups {{:{key} ["should be an integer, received: \\"{key}\\""]}}}}'
    body = {"revision": revision, "groups": {key: {}}}
    assert world.admin.put("/api/permissions/graph", body, expect=400) == INVALID_DATA_GRAPH + explanation


def test_a_data_graph_revision_past_a_long_is_not_the_current_one(world: World) -> None:
    body = {"revision": DIGITS, "groups": {}}
    assert world.admin.put("/api/permissions/graph", body, expect=409) == (
        "Looks like someone else edited the permissions and your data is out of date. "
        "Please fetch new data and try again."
    )


@pytest.mark.parametrize("table", [99999, 2**40, BIG])
def test_a_card_on_a_table_that_does_not_exist(world: World, table: int) -> None:
    """Saved without a table (its column is a foreign key), as a card on a question that does not exist
    is. (Metabase lets an admin save it, then fails on the foreign key.)"""
    query = {"database": world.database, "type": "query", "query": {"source-table": table}}
    created = world.admin.post("/api/card", card_body(world, query))
    assert (created["table_id"], created["dataset_query"]) == (None, query)
    updated = world.admin.put(f"/api/card/{created['id']}", {"dataset_query": query})
    assert (updated["table_id"], updated["dataset_query"]) == (None, query)


def test_a_subscription_card_shown_by_a_dashboard_card_that_does_not_exist(world: World) -> None:
    body = new_pulse(world)
    body["cards"][0]["dashboard_card_id"] = 99999
    assert world.admin.post("/api/pulse", body, expect=404) == "Not found."
    body["cards"][0]["dashboard_card_id"] = 2**64  # no long: Metabase's `ms/PositiveInt` refuses it
    sent = f"[{{:id {world.card}, :include_csv false, :include_xls false, :dashboard_card_id {2**64}}}]"
    assert world.admin.post("/api/pulse", body, expect=400) == {
        "errors": {"cards": f"one or more {CARD_REFS}"},
        "specific-errors": {"cards": [f"{CARD_REFS}, received: {sent}"]},
    }


@pytest.mark.parametrize("key", ["channel_id", "template_id"])
def test_a_notification_channel_past_32_bits(world: World, key: str) -> None:
    body = {
        "payload_type": "notification/card",
        "payload": {"card_id": world.card},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 8 * * ? *"}],
        "handlers": [{"channel_type": "channel/http", key: 2**40, "recipients": []}],
    }
    assert world.admin.post("/api/notification", body, expect=404) == "Not found."


def test_a_dashboard_card_action_past_32_bits(world: World) -> None:
    card = {"id": -1, "card_id": world.card, "row": 0, "col": 0, "size_x": 4, "size_y": 4, "action_id": 2**40}
    assert world.admin.put(dashboard(world), {"dashcards": [card]}, expect=404) == "Not found."


# --- Integers past 64 bits inside JSON documents ------------------------------------------------------------
# Metabase reads them as BigIntegers and keeps them as sent.


def test_integers_past_64_bits_in_a_card(world: World) -> None:
    settings = {"big": BIG, "list": [-BIG, 2**64, LONG_MAX], "nested": {"x": BIG}}
    query = native(world, extra=BIG)
    created = world.admin.post("/api/card", card_body(world, query, visualization_settings=settings))
    assert (created["visualization_settings"], created["dataset_query"]) == (settings, query)
    read = world.admin.get(f"/api/card/{created['id']}")
    assert (read["visualization_settings"], read["dataset_query"]) == (settings, query)
    [revision] = world.admin.get(f"/api/revision?entity=card&id={created['id']}")
    assert revision["is_creation"] is True


def test_integers_past_64_bits_in_dashboard_parameters(world: World) -> None:
    parameters = [{"id": "p", "slug": "p", "name": "P", "type": "category", "default": [BIG, -BIG]}]
    assert world.admin.put(dashboard(world), {"parameters": parameters})["parameters"] == parameters
    assert world.admin.get(dashboard(world))["parameters"] == parameters


def test_json_text_round_trip_of_wide_integers() -> None:
    value = {"a": BIG, "b": [-BIG, 2**64 - 1, -(2**63), 1.5, "12345678901234567890123"], BIG: None}
    text = jsonutil.encode(value)
    assert text == (
        b'{"a":1180591620717411303424,"b":[-1180591620717411303424,18446744073709551615,'
        b'-9223372036854775808,1.5,"12345678901234567890123"],"1180591620717411303424":null}'
    )
    assert jsonutil.decode(text) == {**{k: v for k, v in value.items() if k != BIG}, str(BIG): None}
    assert jsonutil.decode(text.decode()) == jsonutil.decode(text)


# --- Digit strings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("\N{SUPERSCRIPT TWO}", NO_SUCH_ENDPOINT),
        ("\N{ARABIC-INDIC DIGIT THREE}", NO_SUCH_ENDPOINT),
        (str(2**31), "Not found."),
        (str(2**64), "Not found."),
        (DIGITS, "Not found."),
    ],
)
def test_a_dashboard_path_that_is_no_id(world: World, segment: str, expected: str) -> None:
    """A dashboard's path takes an id (ASCII digits) or an entity id (21 characters)."""
    assert world.admin.get(f"/api/dashboard/{segment}", expect=404) == expected


def failure(answer: dict[str, Any]) -> tuple[Any, ...]:
    return answer["status"], answer["error_type"], answer["error"]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("card__\N{SUPERSCRIPT TWO}", "Invalid source-table: 'card__\N{SUPERSCRIPT TWO}'."),
        (f"card__{DIGITS}", f"Card {2**63} does not exist."),
    ],
)
def test_a_saved_question_source_that_is_no_card_id(world: World, source: str, error: str) -> None:
    query = {"database": world.database, "type": "query", "query": {"source-table": source}}
    assert failure(world.admin.post("/api/dataset", query, expect=202)) == ("failed", "invalid-query", error)


WIDGET = "date/all-options"


def test_a_relative_date_past_any_date(world: World) -> None:
    tag = {"id": "d", "name": "d", "display-name": "D", "type": "dimension", "widget-type": WIDGET}
    tag["dimension"] = ["field", world.created_at, None]
    query = native(world, "SELECT COUNT(*) FROM ORDERS WHERE {{d}}", **{"template-tags": {"d": tag}})
    for value in [f"past{DIGITS}days", "past99999999999days", "next1days-from-99999999999years"]:
        target = ["dimension", ["template-tag", "d"]]
        body = {**query, "parameters": [{"type": "date/all-options", "value": value, "target": target}]}
        status, error_type, error = failure(world.admin.post("/api/dataset", body, expect=202))
        assert (status, error_type) == ("failed", "invalid-query")
        assert error.endswith("is past the range of dates"), error


def test_a_number_parameter_of_thousands_of_digits(world: World) -> None:
    """More digits than Python reads: refused as Java refuses a number it cannot read."""
    tag = {"id": "n", "name": "n", "display-name": "N", "type": "number"}
    query = native(world, "SELECT {{n}}", **{"template-tags": {"n": tag}})
    target = ["variable", ["template-tag", "n"]]
    body = {**query, "parameters": [{"type": "number/=", "value": DIGITS, "target": target}]}
    assert failure(world.admin.post("/api/dataset", body, expect=202)) == (
        "failed",
        "invalid-parameter",
        f'For input string: "{DIGITS}"',
    )


def test_an_integer_setting_of_thousands_of_digits(world: World) -> None:
    body = {"value": DIGITS}
    assert world.admin.put("/api/setting/email-smtp-port", body, expect=400) == (
        f'Invalid value for integer: "{DIGITS}"'
    )
