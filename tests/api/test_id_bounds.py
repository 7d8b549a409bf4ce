"""Ids beyond what the app database holds, sent in request bodies, query strings and string path segments.

Metabase reads an id as a Java long. One past 64 bits (2**63 and up, or below -2**63) fits none of its
integer schemas (`pos-int?`, `int?`): a 400 with its `errors`/`specific-errors` body. One that is a long
but names no row is simply not found: 404 "Not found.", or nothing listed. Our id columns are 32-bit, and
PostgreSQL (past 32 bits) and SQLite (past 64) refuse such a value rather than find nothing, so each case
here once answered 500 on some app database; run it on all three (`--app-db sqlite,postgres,mysql`).
The guards are `db/engine.py` (the app database's session and statements) and `api/schema.py` (the
request types).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from querybase.models.card import Card
from querybase.models.user import User
from tests.conftest import Server
from tests.support.http import Api
from tests.support.notifications import native_card, sample_db_id

# Longs that no row has: past the 32-bit id columns, up to the largest long.
NO_ROW = [2**31, 2**40, 2**63 - 1]
# Not longs at all: Metabase's JSON parser reads them as BigIntegers.
NOT_A_LONG = [2**63, 2**64, -(2**63) - 1]

NOT_FOUND = (404, "Not found.")
POSITIVE = "value must be an integer greater than zero."


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def positive_int_error(
    key: str, value: int, *, nullable: bool = False, query: bool = False, sequence: bool = False
) -> dict[str, Any]:
    """Metabase's 400 for `value` under `ms/PositiveInt` (a query string value that is no long stays the
    string it was; a `[:sequential ...]` explains its values one by one)."""
    description = f"sequence of {POSITIVE}" if sequence else POSITIVE
    explanation: list[Any] = [f"{POSITIVE}, received: " + (f'"{value}"' if query else str(value))]
    return {
        "errors": {key: ("nullable " if nullable else "") + description},
        "specific-errors": {key: [explanation] if sequence else explanation},
    }


@dataclass
class World:
    """Objects the requests name, made once per app database."""

    admin: Api
    collection: int
    card: int
    dashboard: int
    snippet: int
    group: int
    user: int
    field: int
    parameter: dict[str, str]


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    admin = server.api().as_("crowberto")
    collection = admin.post("/api/collection", {"name": unique("Ids")})["id"]
    card = native_card(admin, "SELECT 1 AS one", collection_id=collection)["id"]
    dashboard = admin.post("/api/dashboard", {"name": unique("Ids"), "collection_id": collection})["id"]
    snippet = admin.post("/api/native-query-snippet", {"name": unique("ids"), "content": "1"})["id"]
    group = admin.post("/api/permissions/group", {"name": unique("Ids")})["id"]
    metadata = admin.get(f"/api/database/{sample_db_id(admin)}/metadata")
    field = metadata["tables"][0]["fields"][0]["id"]
    return World(
        admin=admin,
        collection=collection,
        card=card,
        dashboard=dashboard,
        snippet=snippet,
        group=group,
        user=server.user_ids["rasta"],
        field=field,
        parameter={"id": "p", "type": "category"},
    )


@dataclass
class Case:
    """One id sent to one endpoint: what a long that no row has gets (`missing`, status and body),
    and the key of Metabase's 400 for one that is no long."""

    method: str
    path: Callable[[World, int], str]
    body: Callable[[World, int], Any] | None
    missing: Callable[[int], tuple[int, Any]]
    key: str
    nullable: bool = False
    query: bool = False
    sequence: bool = False

    def send(self, world: World, value: int, expect: int) -> Any:
        body = None if self.body is None else self.body(world, value)
        return world.admin.request(self.method, self.path(world, value), json=body, expect=expect)


def found(status: int, body: Any) -> Callable[[int], tuple[int, Any]]:
    return lambda _value: (status, body)


def card_body(w: World, **extra: Any) -> dict[str, Any]:
    query = {"database": sample_db_id(w.admin), "type": "native", "native": {"query": "SELECT 1"}}
    body = {"name": unique("Ids"), "display": "table", "visualization_settings": {}, "dataset_query": query}
    return {**body, **extra}


def dashcard(card_id: int, dashcard_id: int = -1) -> dict[str, Any]:
    return {"id": dashcard_id, "card_id": card_id, "row": 0, "col": 0, "size_x": 4, "size_y": 4}


SEARCH_NOTHING = {"data": [], "total": 0, "limit": None, "offset": None, "models": None}
SEARCH_ENGINE = {"engine": "search.engine/in-place"}

CASES: dict[str, Case] = {
    # --- bodies: the id of an object to find, move into, or point at
    "new collection's parent": Case(
        "POST",
        lambda w, v: "/api/collection",
        lambda w, v: {"name": unique("Ids"), "parent_id": v},
        found(*NOT_FOUND),
        "parent_id",
        nullable=True,
    ),
    "moved collection's parent": Case(
        "PUT",
        lambda w, v: f"/api/collection/{w.collection}",
        lambda w, v: {"parent_id": v},
        found(*NOT_FOUND),
        "parent_id",
        nullable=True,
    ),
    "new card's collection": Case(
        "POST",
        lambda w, v: "/api/card",
        lambda w, v: card_body(w, collection_id=v),
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "new card's dashboard": Case(
        "POST",
        lambda w, v: "/api/card",
        lambda w, v: card_body(w, dashboard_id=v),
        found(*NOT_FOUND),
        "dashboard_id",
        nullable=True,
    ),
    "moved card's collection": Case(
        "PUT",
        lambda w, v: f"/api/card/{w.card}",
        lambda w, v: {"collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "moved card's dashboard": Case(
        "PUT",
        lambda w, v: f"/api/card/{w.card}",
        lambda w, v: {"dashboard_id": v},
        found(*NOT_FOUND),
        "dashboard_id",
        nullable=True,
    ),
    "cards moved in bulk": Case(
        "POST",
        lambda w, v: "/api/card/collections",
        lambda w, v: {"card_ids": [v]},
        found(200, {"status": "ok"}),
        "card_ids",
        sequence=True,
    ),
    "new dashboard's collection": Case(
        "POST",
        lambda w, v: "/api/dashboard",
        lambda w, v: {"name": unique("Ids"), "collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "moved dashboard's collection": Case(
        "PUT",
        lambda w, v: f"/api/dashboard/{w.dashboard}",
        lambda w, v: {"collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "dashboard copy's collection": Case(
        "POST",
        lambda w, v: f"/api/dashboard/{w.dashboard}/copy",
        lambda w, v: {"collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "new timeline's collection": Case(
        "POST",
        lambda w, v: "/api/timeline",
        lambda w, v: {"name": unique("Ids"), "collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "new event's timeline": Case(
        "POST",
        lambda w, v: "/api/timeline-event",
        lambda w, v: {
            "name": "Release",
            "timestamp": "2024-03-01T10:00:00Z",
            "timezone": "UTC",
            "timeline_id": v,
        },
        lambda v: (404, f"Timeline with id {v} not found"),
        "timeline_id",
    ),
    "new snippet's collection": Case(
        "POST",
        lambda w, v: "/api/native-query-snippet",
        lambda w, v: {"name": unique("ids"), "content": "1", "collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "moved snippet's collection": Case(
        "PUT",
        lambda w, v: f"/api/native-query-snippet/{w.snippet}",
        lambda w, v: {"collection_id": v},
        found(*NOT_FOUND),
        "collection_id",
        nullable=True,
    ),
    "membership's group": Case(
        "POST",
        lambda w, v: "/api/permissions/membership",
        lambda w, v: {"group_id": v, "user_id": w.user},
        found(*NOT_FOUND),
        "group_id",
    ),
    "membership's user": Case(
        "POST",
        lambda w, v: "/api/permissions/membership",
        lambda w, v: {"group_id": w.group, "user_id": v},
        found(*NOT_FOUND),
        "user_id",
    ),
    "API key's group": Case(
        "POST",
        lambda w, v: "/api/api-key",
        lambda w, v: {"name": unique("Ids"), "group_id": v},
        found(400, {"errors": {"group_id": "value must be the id of an existing group."}}),
        "group_id",
    ),
    "recent view": Case(
        "POST",
        lambda w, v: "/api/activity/recents",
        lambda w, v: {"model": "card", "model_id": v, "context": "selection"},
        found(*NOT_FOUND),
        "model_id",
    ),
    "reverted card": Case(
        "POST",
        lambda w, v: "/api/revision/revert",
        lambda w, v: {"entity": "card", "id": v, "revision_id": 1},
        found(*NOT_FOUND),
        "id",
    ),
    "revision to revert to": Case(
        "POST",
        lambda w, v: "/api/revision/revert",
        lambda w, v: {"entity": "card", "id": w.card, "revision_id": v},
        found(*NOT_FOUND),
        "revision_id",
    ),
    "segment's table": Case(
        "POST",
        lambda w, v: "/api/segment",
        lambda w, v: {
            "name": unique("Ids"),
            "table_id": v,
            "definition": {"filter": ["=", ["field", w.field, None], 1]},
        },
        found(*NOT_FOUND),
        "table_id",
    ),
    "legacy metric's table": Case(
        "POST",
        lambda w, v: "/api/metric",
        lambda w, v: {"name": unique("Ids"), "table_id": v, "definition": {"aggregation": [["count"]]}},
        found(*NOT_FOUND),
        "table_id",
    ),
    "foreign key's target": Case(
        "PUT",
        lambda w, v: f"/api/field/{w.field}",
        lambda w, v: {"fk_target_field_id": v},
        found(400, {"errors": {"fk_target_field_id": "Invalid target field"}}),
        "fk_target_field_id",
        nullable=True,
    ),
    "parameter values of fields": Case(
        "POST",
        lambda w, v: "/api/dataset/parameter/values",
        lambda w, v: {"parameter": w.parameter, "field_ids": [v]},
        found(200, {"values": [], "has_more_values": False}),
        "field_ids",
        nullable=True,
        sequence=True,
    ),
    # --- query strings: filters, and objects named there
    "users of a group": Case(
        "GET",
        lambda w, v: f"/api/user?group_id={v}",
        None,
        found(200, {"data": [], "total": 0, "limit": None, "offset": None}),
        "group_id",
        nullable=True,
        query=True,
    ),
    "search in a collection": Case(
        "GET",
        lambda w, v: f"/api/search?collection={v}",
        None,
        found(200, {**SEARCH_NOTHING, "table_db_id": None, **SEARCH_ENGINE}),
        "collection",
        nullable=True,
        query=True,
    ),
    "search in a database": Case(
        "GET",
        lambda w, v: f"/api/search?table_db_id={v}",
        None,
        lambda v: (200, {**SEARCH_NOTHING, "table_db_id": v, **SEARCH_ENGINE}),
        "table_db_id",
        nullable=True,
        query=True,
    ),
    "notifications of a card": Case(
        "GET",
        lambda w, v: f"/api/notification?card_id={v}",
        None,
        found(200, []),
        "card_id",
        nullable=True,
        query=True,
    ),
    "notifications of a creator": Case(
        "GET",
        lambda w, v: f"/api/notification?creator_id={v}",
        None,
        found(200, []),
        "creator_id",
        nullable=True,
        query=True,
    ),
    "alerts of a user": Case(
        "GET",
        lambda w, v: f"/api/alert?user_id={v}",
        None,
        found(200, []),
        "user_id",
        nullable=True,
        query=True,
    ),
    "subscriptions of a dashboard": Case(
        "GET",
        lambda w, v: f"/api/pulse?dashboard_id={v}",
        None,
        found(200, []),
        "dashboard_id",
        nullable=True,
        query=True,
    ),
    "cards of a database": Case(
        "GET",
        lambda w, v: f"/api/card?f=database&model_id={v}",
        None,
        found(*NOT_FOUND),
        "model_id",
        nullable=True,
        query=True,
    ),
    "revisions of a card": Case(
        "GET",
        lambda w, v: f"/api/revision?entity=card&id={v}",
        None,
        found(*NOT_FOUND),
        "id",
        query=True,
    ),
    "dashboard card removed": Case(
        "DELETE",
        lambda w, v: f"/api/dashboard/{w.dashboard}/cards?dashcardId={v}",
        None,
        found(*NOT_FOUND),
        "dashcardId",
        query=True,
    ),
}


@pytest.mark.parametrize("value", NO_ROW)
@pytest.mark.parametrize("name", CASES)
def test_a_long_that_no_row_has(world: World, name: str, value: int) -> None:
    case = CASES[name]
    status, body = case.missing(value)
    assert case.send(world, value, status) == body


@pytest.mark.parametrize("value", NOT_A_LONG)
@pytest.mark.parametrize("name", CASES)
def test_an_integer_that_is_no_long(world: World, name: str, value: int) -> None:
    case = CASES[name]
    expected = positive_int_error(
        case.key, value, nullable=case.nullable, query=case.query, sequence=case.sequence
    )
    assert case.send(world, value, 400) == expected


@pytest.mark.parametrize("value", [*NO_ROW, *NOT_A_LONG])
def test_dashboard_cards_and_tabs(world: World, value: int) -> None:
    """A dashboard card's id is Metabase's `int?` (negative ones are new cards), a tab's `ms/Int`; the card
    a dashboard card shows is not checked by any schema, so any integer is a card that does not exist."""
    path = f"/api/dashboard/{world.dashboard}"
    assert world.admin.put(path, {"dashcards": [dashcard(value)]}, expect=404) == "Not found."
    if value in NO_ROW:
        assert world.admin.put(path, {"dashcards": [dashcard(world.card, value)]}, expect=404) == "Not found."
        return
    unique_maps = "nullable value must be seq of maps in which ids are unique"
    assert world.admin.put(path, {"dashcards": [dashcard(world.card, value)]}, expect=400) == {
        "errors": {"dashcards": unique_maps},
        "specific-errors": {"dashcards": [{"id": [f"should be an integer, received: {value}"]}]},
    }
    assert world.admin.put(path, {"tabs": [{"id": value, "name": "Tab"}]}, expect=400) == {
        "errors": {"tabs": unique_maps},
        "specific-errors": {"tabs": [{"id": [f"should be an integer, received: {value}"]}]},
    }


# Digits past any row, up to more than Python's `int()` takes from a string (4300).
PATH_NUMBERS = [*(str(v) for v in NO_ROW), str(2**64), "9" * 5000]


@pytest.mark.parametrize("number", PATH_NUMBERS)
@pytest.mark.parametrize(
    "path", ["/api/user/{}", "/api/collection/{}", "/api/card/{}", "/api/table/card__{}/query_metadata"]
)
def test_ids_in_the_path(world: World, path: str, number: str) -> None:
    """An id in the path past any row is not found, whether the route types it as an integer (checked by
    the routing) or also takes entity ids there (read by the endpoint)."""
    assert world.admin.get(path.format(number), expect=404) == "Not found."


@pytest.mark.parametrize("segment", ["0", "-1", "-0", "--5", "\N{SUPERSCRIPT TWO}"])
def test_an_integer_path_parameter_that_is_no_positive_number(world: World, segment: str) -> None:
    """Metabase's integer path parameters are `[0-9]+` in its route patterns: nothing else matches."""
    assert world.admin.get(f"/api/user/{segment}", expect=404) == "API endpoint does not exist."


def test_a_list_with_one_id_past_a_long(world: World) -> None:
    """malli explains a bad value of a list at its place, after a null for each good value before it."""
    body = {"card_ids": [world.card, 2**64, 3]}
    assert world.admin.post("/api/card/collections", body, expect=400) == {
        "errors": {"card_ids": f"sequence of {POSITIVE}"},
        "specific-errors": {"card_ids": [None, [f"{POSITIVE}, received: {2**64}"]]},
    }


@pytest.mark.parametrize("value", [*NO_ROW, *NOT_A_LONG])
def test_the_app_database_compares_any_integer(server: Server, world: World, value: int) -> None:
    """Below the API: however an id reaches a statement, it matches the rows it should (none equal it)."""
    appdb = server.client.app.state.appdb
    with appdb.read_sessions() as db:
        users = db.scalar(select(func.count()).select_from(User))
        assert db.get(User, value) is None
        assert db.scalars(select(User).where(User.id == value)).all() == []
        assert db.scalars(select(User.id).where(User.id.in_([world.user, value]))).all() == [world.user]
        assert db.scalar(select(func.count()).select_from(User).where(User.id != value)) == users
        assert db.scalar(select(func.count()).select_from(User).where(User.id.not_in([value]))) == users
        assert db.scalars(select(Card.id).where(Card.collection_id == value)).all() == []
    with appdb.transaction() as db:
        assert db.execute(delete(Card).where(Card.id == value)).rowcount == 0


@pytest.mark.parametrize(
    ("raw", "received"), [("0", "0"), ("-1", "-1"), (str(2**63), f'"{2**63}"'), ("1.5", '"1.5"')]
)
def test_a_number_in_a_query_string(world: World, raw: str, received: str) -> None:
    """Metabase decodes a query string value that is a long before checking it; any other stays text."""
    assert world.admin.get(f"/api/user?group_id={raw}", expect=400)["specific-errors"] == {
        "group_id": [f"{POSITIVE}, received: {received}"]
    }
