"""Signed embedding: `/api/embed` with tokens signed by the embedding secret key, the locked / enabled /
disabled rules for parameters, `/api/preview_embed` for admins, and a battery of bad tokens and forbidden
parameters that must each be refused with Metabase's message before the warehouse sees a single query."""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.query_processor.test_dataset_api import sample
from tests.support.http import Api

__all__ = ["sample"]

CORRUPT = "Message seems corrupt or manipulated"


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def sign(payload: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: Any, signature: str = "") -> str:
    """A token put together by hand: any header, any payload, any signature."""
    return f"{b64(header)}.{b64(payload)}.{signature}"


@pytest.fixture
def admin(api: Api) -> Api:
    return api.as_("crowberto")


@pytest.fixture
def keep(admin: Api) -> Iterator[Callable[..., None]]:
    """`keep("embedding-secret-key")` before changing a setting: the shared server gets it back after."""
    saved: dict[str, Any] = {}

    def remember(*keys: str) -> None:
        for key in keys:
            saved.setdefault(key, admin.raw("GET", f"/api/setting/{key}"))

    yield remember
    for key, response in saved.items():
        value = response.json() if response.status_code == 200 else None
        admin.put(f"/api/setting/{key}", {"value": value}, expect=204)


@pytest.fixture
def key(admin: Api, keep: Callable[..., None]) -> str:
    """Static embedding switched on with a fresh secret key."""
    keep("embedding-secret-key", "enable-embedding-static", "enable-embedding")
    secret = secrets.token_hex(32)
    admin.put("/api/setting/embedding-secret-key", {"value": secret}, expect=204)
    admin.put("/api/setting/enable-embedding-static", {"value": True}, expect=204)
    return secret


class Probe:
    """Every SQL statement carrying this probe's marker that reaches a database, seen from SQLAlchemy itself:
    the embedded card's SQL carries the marker, so an empty list means the warehouse was never queried."""

    def __init__(self) -> None:
        self.marker = f"probe_{uuid.uuid4().hex}"
        self.seen: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.marker in statement:
            self.seen.append(statement)


@pytest.fixture
def probe() -> Iterator[Probe]:
    watcher = Probe()
    event.listen(Engine, "before_cursor_execute", watcher)
    yield watcher
    event.remove(Engine, "before_cursor_execute", watcher)


SQL = (
    "SELECT /* {marker} */ COUNT(*) AS n FROM PRODUCTS WHERE 1 = 1 [[AND CATEGORY = {{{{cat}}}}]] "
    "[[AND PRICE > {{{{min_price}}}}]] [[AND VENDOR = {{{{vendor}}}}]]"
)
TAGS = {
    "cat": {"id": "t-cat", "name": "cat", "display-name": "Category", "type": "text"},
    "min_price": {"id": "t-min", "name": "min_price", "display-name": "Min price", "type": "number"},
    "vendor": {"id": "t-vendor", "name": "vendor", "display-name": "Vendor", "type": "text"},
}
# The category is the embedding app's to choose, the price the viewer's, the vendor nobody's.
EMBEDDING_PARAMS = {"cat": "locked", "min_price": "enabled", "vendor": "disabled"}


def embeddable_card(admin: Api, sample: dict, marker: str, **extra: Any) -> dict[str, Any]:
    native = {"query": SQL.format(marker=marker), "template-tags": TAGS}
    card = admin.post(
        "/api/card",
        {
            "name": unique("Products"),
            "dataset_query": {"database": sample["db"], "type": "native", "native": native},
            "display": "scalar",
            "visualization_settings": {},
        },
    )
    settings = {"enable_embedding": True, "embedding_params": EMBEDDING_PARAMS, **extra}
    return admin.put(f"/api/card/{card['id']}", settings)


def count(admin: Api, sample: dict, where: str) -> int:
    query = {"database": sample["db"], "type": "native", "native": {"query": f"SELECT COUNT(*) FROM {where}"}}
    return admin.post("/api/dataset", query, expect=202)["data"]["rows"][0][0]


@dataclass
class World:
    """What the bad-token cases are built from."""

    key: str
    card: dict[str, Any]
    dashboard: dict[str, Any]
    dashcard: dict[str, Any]
    hidden_card: dict[str, Any]
    archived_card: dict[str, Any]

    def card_token(self, params: Any = None, **claims: Any) -> str:
        payload = {
            "resource": {"question": self.card["id"]},
            "params": {"cat": "Gizmo"} if params is None else params,
        }
        return sign({**payload, **claims}, self.key)

    def dashboard_token(self, params: Any = None) -> str:
        payload = {"resource": {"dashboard": self.dashboard["id"]}, "params": params or {"cat": "Gizmo"}}
        return sign(payload, self.key)


@pytest.fixture
def world(admin, sample, key, probe) -> World:
    card = embeddable_card(admin, sample, probe.marker)
    hidden = embeddable_card(admin, sample, probe.marker, enable_embedding=False)
    archived = embeddable_card(admin, sample, probe.marker)
    admin.put(f"/api/card/{archived['id']}", {"archived": True})
    parameters = [
        {"id": "p-cat", "name": "Category", "slug": "cat", "type": "string/="},
        {"id": "p-min", "name": "Min price", "slug": "min_price", "type": "number/="},
        {"id": "p-vendor", "name": "Vendor", "slug": "vendor", "type": "string/="},
    ]
    dashboard = admin.post("/api/dashboard", {"name": unique("Embedded"), "parameters": parameters})
    mappings = [
        {"parameter_id": f"p-{tag}", "card_id": card["id"], "target": ["variable", ["template-tag", name]]}
        for tag, name in (("cat", "cat"), ("min", "min_price"), ("vendor", "vendor"))
    ]
    body = admin.put(
        f"/api/dashboard/{dashboard['id']}",
        {
            "enable_embedding": True,
            "embedding_params": EMBEDDING_PARAMS,
            "dashcards": [
                {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4,
                 "parameter_mappings": mappings},
            ],
        },
    )  # fmt: skip
    probe.seen.clear()
    return World(key, card, body, body["dashcards"][0], hidden, archived)


# --- What works ---------------------------------------------------------------------------------------------


def test_an_embedded_question(api, admin, sample, world, probe):
    token = world.card_token()
    shown = api.get(f"/api/embed/card/{token}")
    assert set(shown) == {
        "id", "name", "description", "display", "visualization_settings", "dataset_query", "parameters",
        "param_fields",
    }  # fmt: skip
    assert shown["dataset_query"] == {"type": "native", "native": {"template-tags": TAGS}}
    # Only the price gets a widget: the category is locked, the vendor disabled.
    assert [p["slug"] for p in shown["parameters"]] == ["min_price"]
    assert probe.seen == []

    gizmos = count(admin, sample, "PRODUCTS WHERE CATEGORY = 'Gizmo'")
    pricey = count(admin, sample, "PRODUCTS WHERE CATEGORY = 'Gizmo' AND PRICE > 50")
    assert 0 < pricey < gizmos
    answer = api.get(f"/api/embed/card/{token}/query", expect=202)
    assert (answer["status"], answer["data"]["rows"]) == ("completed", [[gizmos]])
    assert set(answer) == {"data", "json_query", "status"}
    assert [p["slug"] for p in answer["json_query"]["parameters"]] == ["cat"]
    assert len(probe.seen) == 1
    assert api.get(f"/api/embed/card/{token}/query?min_price=50", expect=202)["data"]["rows"] == [[pricey]]
    as_json = api.get(
        f"/api/embed/card/{token}/query", params={"parameters": json.dumps({"min_price": 50})}, expect=202
    )
    assert as_json["data"]["rows"] == [[pricey]]
    from_token = api.get(
        f"/api/embed/card/{world.card_token({'cat': 'Gizmo', 'min_price': 50})}/query", expect=202
    )
    assert from_token["data"]["rows"] == [[pricey]]
    # An empty value is no value.
    assert api.get(f"/api/embed/card/{token}/query?min_price=", expect=202)["data"]["rows"] == [[gizmos]]
    csv = api.raw("GET", f"/api/embed/card/{token}/query/csv?min_price=50&format_rows=true")
    assert (csv.status_code, csv.text.splitlines()) == (200, ["n", str(pricey)])
    rows = api.get(f"/api/embed/card/{token}/query/json")
    assert rows == [{"n": gizmos}]
    # A blank value is no value: it neither trips the checks nor reaches the query.
    assert api.get(f"/api/embed/card/{token}/query?vendor=%20", expect=202)["data"]["rows"] == [[gizmos]]
    # A locked parameter may be null in the token: no filter then.
    everything = count(admin, sample, "PRODUCTS")
    unfiltered = api.get(f"/api/embed/card/{world.card_token({'cat': None})}/query", expect=202)
    assert unfiltered["data"]["rows"] == [[everything]]


def test_embedded_questions_by_entity_id(api, world):
    token = sign({"resource": {"question": world.card["entity_id"]}, "params": {"cat": "Gizmo"}}, world.key)
    assert api.get(f"/api/embed/card/{token}")["id"] == world.card["id"]


def test_an_embedded_dashboard(api, admin, sample, world, probe):
    token = world.dashboard_token()
    shown = api.get(f"/api/embed/dashboard/{token}")
    assert [p["slug"] for p in shown["parameters"]] == ["min_price"]
    mappings = shown["dashcards"][0]["parameter_mappings"]
    # Mappings of parameters nobody may set from the page are dropped.
    assert [m["parameter_id"] for m in mappings] == ["p-min"]
    assert "SELECT" not in json.dumps(shown)
    path = f"/api/embed/dashboard/{token}/dashcard/{world.dashcard['id']}/card/{world.card['id']}"
    gizmos = count(admin, sample, "PRODUCTS WHERE CATEGORY = 'Gizmo'")
    pricey = count(admin, sample, "PRODUCTS WHERE CATEGORY = 'Gizmo' AND PRICE > 50")
    assert api.get(path, expect=202)["data"]["rows"] == [[gizmos]]
    assert api.get(f"{path}?min_price=50", expect=202)["data"]["rows"] == [[pricey]]
    csv = api.raw("GET", f"{path}/csv?min_price=50")
    assert csv.text.splitlines() == ["n", str(pricey)]
    values = api.get(f"/api/embed/dashboard/{token}/params/p-min/values")
    assert values == {"values": [], "has_more_values": False}
    assert api.get(f"/api/embed/dashboard/{token}/params/p-min/search/1") == values
    assert len(probe.seen) == 3


def test_embedded_question_parameter_values(api, admin, sample, world):
    tag = {
        "id": "t-category",
        "name": "category",
        "display-name": "Category",
        "type": "dimension",
        "dimension": ["field", sample["PRODUCTS.CATEGORY"], None],
        "widget-type": "string/=",
    }
    native = {"query": "SELECT COUNT(*) FROM PRODUCTS WHERE {{category}}", "template-tags": {"category": tag}}
    card = admin.post(
        "/api/card",
        {
            "name": unique("Field filter"),
            "dataset_query": {"database": sample["db"], "type": "native", "native": native},
            "display": "scalar",
            "visualization_settings": {},
        },
    )
    admin.put(
        f"/api/card/{card['id']}", {"enable_embedding": True, "embedding_params": {"category": "enabled"}}
    )
    token = sign({"resource": {"question": card["id"]}, "params": {}}, world.key)
    values = api.get(f"/api/embed/card/{token}/params/t-category/values")
    assert values == {"values": [["Doohickey"], ["Gadget"], ["Gizmo"], ["Widget"]], "has_more_values": False}
    found = api.get(f"/api/embed/card/{token}/params/t-category/search/dOO")
    assert found == {"values": [["Doohickey"]], "has_more_values": False}
    set_by_token = sign({"resource": {"question": card["id"]}, "params": {"category": "Gizmo"}}, world.key)
    assert api.get(f"/api/embed/card/{set_by_token}/params/t-category/values", expect=400) == (
        "You can't specify a value for \"category\" if it's already set in the JWT."
    )


def test_lists_of_embeddable_objects(admin, world):
    assert {"name": world.card["name"], "id": world.card["id"]} in admin.get("/api/card/embeddable")
    assert world.hidden_card["id"] not in [c["id"] for c in admin.get("/api/card/embeddable")]
    dashboards = admin.get("/api/dashboard/embeddable")
    assert {"name": world.dashboard["name"], "id": world.dashboard["id"]} in dashboards


def test_only_admins_change_embedding(api, admin, sample, world):
    rasta = api.as_("rasta")
    forbidden = "You don't have permissions to do that."
    assert rasta.put(f"/api/card/{world.card['id']}", {"embedding_params": {}}, expect=403) == forbidden
    path = f"/api/dashboard/{world.dashboard['id']}"
    assert rasta.put(path, {"enable_embedding": False}, expect=403) == forbidden
    assert rasta.put(path, {"embedding_params": {"cat": "enabled"}}, expect=403) == forbidden
    # Sending the values it already has changes nothing, so anyone may.
    assert rasta.put(path, {"enable_embedding": True, "description": "ok"})["description"] == "ok"
    changed = admin.put(path, {"embedding_params": {"cat": "enabled"}})
    assert (changed["enable_embedding"], changed["embedding_params"]) == (True, {"cat": "enabled"})


def test_switching_embedding_off_and_rotating_the_key(api, admin, world, probe):
    token = world.card_token()
    assert api.get(f"/api/embed/card/{token}")["id"] == world.card["id"]
    admin.put("/api/setting/enable-embedding-static", {"value": False}, expect=204)
    assert api.get(f"/api/embed/card/{token}", expect=400) == "Embedding is not enabled."
    assert api.get(f"/api/embed/card/{token}/query", expect=400) == "Embedding is not enabled."
    assert (
        api.get(f"/api/embed/dashboard/{world.dashboard_token()}", expect=400) == "Embedding is not enabled."
    )
    assert admin.get("/api/card/embeddable", expect=400) == "Embedding is not enabled."
    assert admin.get("/api/dashboard/embeddable", expect=400) == "Embedding is not enabled."
    # The setting of Metabase before 0.51 still switches static embedding on.
    admin.put("/api/setting/enable-embedding", {"value": True}, expect=204)
    assert api.get(f"/api/embed/card/{token}")["id"] == world.card["id"]
    new_key = secrets.token_hex(32)
    admin.put("/api/setting/embedding-secret-key", {"value": new_key}, expect=204)
    assert api.get(f"/api/embed/card/{token}", expect=400) == CORRUPT
    resigned = sign({"resource": {"question": world.card["id"]}, "params": {"cat": "Gizmo"}}, new_key)
    assert api.get(f"/api/embed/card/{resigned}")["id"] == world.card["id"]
    admin.put("/api/setting/embedding-secret-key", {"value": None}, expect=204)
    assert api.get(f"/api/embed/card/{token}", expect=400) == "The embedding secret key has not been set."
    assert probe.seen == []


def test_preview_embed_is_for_admins_and_uses_the_tokens_choices(api, admin, sample, world, probe):
    unpublished = {"resource": {"question": world.hidden_card["id"]}, "params": {}}
    token = sign({**unpublished, "_embedding_params": {"min_price": "enabled", "cat": "enabled"}}, world.key)
    assert api.get(f"/api/preview_embed/card/{token}", expect=401) == "Unauthenticated"
    assert api.as_("rasta").get(f"/api/preview_embed/card/{token}", expect=403) == (
        "You don't have permissions to do that."
    )
    shown = admin.get(f"/api/preview_embed/card/{token}")
    assert [p["slug"] for p in shown["parameters"]] == ["cat", "min_price"]
    widgets = count(admin, sample, "PRODUCTS WHERE CATEGORY = 'Widget'")
    answer = admin.get(f"/api/preview_embed/card/{token}/query?cat=Widget", expect=202)
    assert answer["data"]["rows"] == [[widgets]]
    assert (
        admin.get(f"/api/preview_embed/card/{token}/query?vendor=x", expect=400)
        == "Unknown parameter :vendor."
    )
    without = sign(unpublished, world.key)
    assert admin.get(f"/api/preview_embed/card/{without}", expect=400) == (
        "Token is missing value for keypath [:_embedding_params]"
    )
    board = sign(
        {
            "resource": {"dashboard": world.dashboard["id"]},
            "params": {},
            "_embedding_params": {"cat": "enabled"},
        },
        world.key,
    )
    assert [p["slug"] for p in admin.get(f"/api/preview_embed/dashboard/{board}")["parameters"]] == ["cat"]
    path = f"/api/preview_embed/dashboard/{board}/dashcard/{world.dashcard['id']}/card/{world.card['id']}"
    assert admin.get(f"{path}?cat=Widget", expect=202)["data"]["rows"] == [[widgets]]
    assert admin.get(f"/api/preview_embed/dashboard/{board}/params/p-cat/values")["values"] == []
    missing = sign({"resource": {"question": 99999999}, "params": {}, "_embedding_params": {}}, world.key)
    assert admin.get(f"/api/preview_embed/card/{missing}", expect=404) == "Not found."
    assert len(probe.seen) == 2


def test_a_preview_shows_at_most_2000_rows_of_a_question(api, admin, sample, world):
    """Metabase caps question previews at 2,000 rows (even aggregated ones, whose limit is 10,000 elsewhere);
    the embed itself and previews of dashboard cards keep the usual limits."""
    orders = count(admin, sample, "ORDERS")
    assert orders > 10_000
    query = {
        "source-table": sample["ORDERS"],
        "aggregation": [["count"]],
        "breakout": [["field", sample["ORDERS.ID"], None]],
    }
    card = admin.post(
        "/api/card",
        {
            "name": unique("Every order"),
            "dataset_query": {"database": sample["db"], "type": "query", "query": query},
            "display": "table",
            "visualization_settings": {},
        },
    )
    admin.put(f"/api/card/{card['id']}", {"enable_embedding": True, "embedding_params": {}})
    question = {"resource": {"question": card["id"]}, "params": {}}
    embedded = api.get(f"/api/embed/card/{sign(question, world.key)}/query", expect=202)["data"]
    preview_token = sign({**question, "_embedding_params": {}}, world.key)
    previewed = admin.get(f"/api/preview_embed/card/{preview_token}/query", expect=202)["data"]
    assert (len(embedded["rows"]), len(previewed["rows"])) == (10_000, 2_000)
    assert previewed["rows"][:3] == embedded["rows"][:3]

    dashboard = admin.post("/api/dashboard", {"name": unique("Every order")})
    dashcards = [{"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 6, "size_y": 4}]
    dashcard = admin.put(f"/api/dashboard/{dashboard['id']}", {"dashcards": dashcards})["dashcards"][0]
    board = sign(
        {"resource": {"dashboard": dashboard["id"]}, "params": {}, "_embedding_params": {}}, world.key
    )
    path = f"/api/preview_embed/dashboard/{board}/dashcard/{dashcard['id']}/card/{card['id']}"
    assert len(admin.get(path, expect=202)["data"]["rows"]) == 10_000


def test_changing_embedding_needs_embedding_on(api, admin, world):
    """Metabase's `check-embedding-enabled` comes before the admin check: while static embedding is off,
    nobody changes whether or how a card or dashboard is embedded (sending the current values changes
    nothing, so that still works)."""
    admin.put("/api/setting/enable-embedding-static", {"value": False}, expect=204)
    off = "Embedding is not enabled."
    card, board = f"/api/card/{world.card['id']}", f"/api/dashboard/{world.dashboard['id']}"
    changes = [
        {"enable_embedding": False},
        {"embedding_params": {"cat": "enabled"}},
        {"embedding_type": "static-legacy"},
    ]
    for user in ("crowberto", "rasta"):
        for change in changes:
            assert api.as_(user).put(card, change, expect=400) == off
            assert api.as_(user).put(board, change, expect=400) == off
    same = {"enable_embedding": True, "embedding_params": EMBEDDING_PARAMS, "description": "unchanged embed"}
    assert admin.put(card, same)["description"] == "unchanged embed"
    assert admin.put(board, same)["description"] == "unchanged embed"
    assert admin.get(card)["embedding_params"] == EMBEDDING_PARAMS


def test_turning_embedding_on_creates_a_secret_key(api, admin, keep):
    """Metabase's embedding switches create the signing key when they go from off to on and there is none;
    a key already there is kept, and a switch that is already on creates nothing."""
    switches = (
        "enable-embedding-static",
        "enable-embedding",
        "enable-embedding-interactive",
        "enable-embedding-sdk",
    )
    keep("embedding-secret-key", *switches)
    for switch in switches:
        admin.put(f"/api/setting/{switch}", {"value": False}, expect=204)
    for switch in switches:
        admin.put("/api/setting/embedding-secret-key", {"value": None}, expect=204)
        admin.put(f"/api/setting/{switch}", {"value": False}, expect=204)
        assert admin.raw("GET", "/api/setting/embedding-secret-key").status_code == 204
        admin.put(f"/api/setting/{switch}", {"value": True}, expect=204)
        created = admin.get("/api/setting/embedding-secret-key")
        assert re.fullmatch(r"[0-9a-f]{64}", created), switch
        admin.put(f"/api/setting/{switch}", {"value": False}, expect=204)
        admin.put(f"/api/setting/{switch}", {"value": True}, expect=204)
        assert admin.get("/api/setting/embedding-secret-key") == created
        admin.put("/api/setting/embedding-secret-key", {"value": None}, expect=204)
        admin.put(f"/api/setting/{switch}", {"value": True}, expect=204)
        assert admin.raw("GET", "/api/setting/embedding-secret-key").status_code == 204
        admin.put(f"/api/setting/{switch}", {"value": False}, expect=204)

    # Through `PUT /api/setting` too, where a key sent along wins whatever the order.
    admin.put("/api/setting", {"enable-embedding-static": True}, expect=204)
    created = admin.get("/api/setting/embedding-secret-key")
    assert re.fullmatch(r"[0-9a-f]{64}", created)
    # The key signs tokens at once: this one passes the signature check and names no card.
    token = sign({"resource": {"question": 99_999_999}, "params": {}}, created)
    assert api.get(f"/api/embed/card/{token}", expect=400) == "Not found."
    chosen = secrets.token_hex(32)
    admin.put("/api/setting", {"enable-embedding-static": False, "embedding-secret-key": None}, expect=204)
    admin.put("/api/setting", {"enable-embedding-static": True, "embedding-secret-key": chosen}, expect=204)
    assert admin.get("/api/setting/embedding-secret-key") == chosen


# --- What is refused, before any query ----------------------------------------------------------------------

Case = Callable[[World], tuple[str, str]]


def card_query(token: str, query: str = "") -> str:
    return f"/api/embed/card/{token}/query{query}"


def _header_only(world: World, header: dict[str, Any]) -> str:
    payload = {"resource": {"question": world.card["id"]}, "params": {"cat": "Gizmo"}}
    return forged(header, payload, world.card_token().split(".")[2])


def _tampered(world: World, change: Callable[[dict[str, Any]], None]) -> str:
    header, payload, signature = world.card_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    change(claims)
    return f"{header}.{b64(claims)}.{signature}"


# 2096: a time no token of these tests may be valid before.
FUTURE = 4_000_000_000


BAD: dict[str, Case] = {
    "expired": lambda w: (card_query(w.card_token(exp=1_700_000_000)), "Token is expired (1700000000)"),
    "expired, on the card": lambda w: (
        f"/api/embed/card/{w.card_token(exp=1_700_000_000)}",
        "Token is expired (1700000000)",
    ),
    "not yet valid": lambda w: (card_query(w.card_token(nbf=FUTURE)), f"Token is not yet valid ({FUTURE})"),
    "issued in the future": lambda w: (
        card_query(w.card_token(iat=FUTURE)),
        f"Token is not yet valid ({FUTURE})",
    ),
    "exp not a number": lambda w: (card_query(w.card_token(exp="soon")), CORRUPT),
    "signed with another key": lambda w: (
        card_query(
            sign({"resource": {"question": w.card["id"]}, "params": {"cat": "Gizmo"}}, secrets.token_hex(32))
        ),
        CORRUPT,
    ),
    "alg none": lambda w: (
        card_query(
            forged({"alg": "none", "typ": "JWT"}, {"resource": {"question": w.card["id"]}, "params": {}})
        ),
        "JWT `alg` cannot be `none`.",
    ),
    "alg none, no signature dot": lambda w: (
        card_query(forged({"alg": "none"}, {"params": {}})[:-1]),
        "JWT `alg` cannot be `none`.",
    ),
    "no alg": lambda w: (card_query(_header_only(w, {"typ": "JWT"})), "JWT is missing `alg`."),
    "header not an object": lambda w: (card_query(forged([1, 2], {"params": {}})), "JWT is missing `alg`."),
    "HS512 with the right key": lambda w: (
        card_query(
            sign({"resource": {"question": w.card["id"]}, "params": {"cat": "Gizmo"}}, w.key, "HS512")
        ),
        CORRUPT,
    ),
    "RS256 header": lambda w: (card_query(_header_only(w, {"alg": "RS256", "typ": "JWT"})), CORRUPT),
    "tampered question": lambda w: (
        card_query(_tampered(w, lambda c: c["resource"].update(question=1))),
        CORRUPT,
    ),
    "tampered locked value": lambda w: (
        card_query(_tampered(w, lambda c: c["params"].update(cat="Widget"))),
        CORRUPT,
    ),
    "tampered expiry": lambda w: (card_query(_tampered(w, lambda c: c.update(exp=FUTURE))), CORRUPT),
    "no signature": lambda w: (card_query(".".join(w.card_token().split(".")[:2]) + "."), CORRUPT),
    "truncated signature": lambda w: (card_query(w.card_token()[:-6]), CORRUPT),
    "garbage": lambda w: (card_query("not-a-token"), CORRUPT),
    "payload not an object": lambda w: (
        card_query(jwt.api_jws.encode(b"[1]", w.key, algorithm="HS256")),
        CORRUPT,
    ),
    "no resource": lambda w: (
        card_query(sign({"params": {"cat": "Gizmo"}}, w.key)),
        "Token is missing value for keypath [:resource :question]",
    ),
    "a dashboard token on a card": lambda w: (
        card_query(w.dashboard_token()),
        "Token is missing value for keypath [:resource :question]",
    ),
    "a card token on a dashboard": lambda w: (
        f"/api/embed/dashboard/{w.card_token()}",
        "Token is missing value for keypath [:resource :dashboard]",
    ),
    "a card token on a dashboard card": lambda w: (
        f"/api/embed/dashboard/{w.card_token()}/dashcard/{w.dashcard['id']}/card/{w.card['id']}",
        "Token is missing value for keypath [:resource :dashboard]",
    ),
    "question id zero": lambda w: (
        card_query(sign({"resource": {"question": 0}, "params": {}}, w.key)),
        "Card id should be a positive integer.",
    ),
    "question id a string": lambda w: (
        card_query(sign({"resource": {"question": "8"}, "params": {}}, w.key)),
        "Card id should be a positive integer.",
    ),
    "unknown question": lambda w: (
        card_query(sign({"resource": {"question": 99999999}, "params": {}}, w.key)),
        "Not found.",
    ),
    "question id beyond any row": lambda w: (
        card_query(sign({"resource": {"question": 2**40}, "params": {}}, w.key)),
        "Not found.",
    ),
    "unknown entity id": lambda w: (
        card_query(sign({"resource": {"question": "A" * 21}, "params": {}}, w.key)),
        "Not found.",
    ),
    "question not published for embedding": lambda w: (
        card_query(sign({"resource": {"question": w.hidden_card["id"]}, "params": {"cat": "Gizmo"}}, w.key)),
        "Embedding is not enabled for this object.",
    ),
    "archived question": lambda w: (
        card_query(
            sign({"resource": {"question": w.archived_card["id"]}, "params": {"cat": "Gizmo"}}, w.key)
        ),
        "The object has been archived.",
    ),
    "no params": lambda w: (
        card_query(sign({"resource": {"question": w.card["id"]}}, w.key)),
        "Token is missing value for keypath [:params]",
    ),
    "locked parameter missing": lambda w: (
        card_query(w.card_token({})),
        "You must specify a value for :cat in the JWT.",
    ),
    "locked parameter blank": lambda w: (
        card_query(w.card_token({"cat": "  "})),
        "You must specify a value for :cat in the JWT.",
    ),
    "locked parameter only in the URL": lambda w: (
        card_query(w.card_token({}), "?cat=Widget"),
        "You must specify a value for :cat in the JWT.",
    ),
    "locked parameter also in the URL": lambda w: (
        card_query(w.card_token(), "?cat=Widget"),
        "You can only specify a value for :cat in the JWT.",
    ),
    "locked parameter in ?parameters=": lambda w: (
        card_query(w.card_token(), "?parameters=" + json.dumps({"cat": "Widget"})),
        "You can only specify a value for :cat in the JWT.",
    ),
    "disabled parameter in the token": lambda w: (
        card_query(w.card_token({"cat": "Gizmo", "vendor": "x"})),
        "You're not allowed to specify a value for :vendor.",
    ),
    "disabled parameter in the URL": lambda w: (
        card_query(w.card_token(), "?vendor=x"),
        "You're not allowed to specify a value for :vendor.",
    ),
    "disabled parameter, empty in the URL": lambda w: (
        card_query(w.card_token(), "?vendor="),
        "You're not allowed to specify a value for :vendor.",
    ),
    "disabled parameter in ?parameters=": lambda w: (
        card_query(w.card_token(), "?parameters=" + json.dumps({"vendor": "x"})),
        "You're not allowed to specify a value for :vendor.",
    ),
    "disabled parameter in a download": lambda w: (
        f"/api/embed/card/{w.card_token()}/query/csv?vendor=x",
        "You're not allowed to specify a value for :vendor.",
    ),
    "enabled parameter in both": lambda w: (
        card_query(w.card_token({"cat": "Gizmo", "min_price": 1}), "?min_price=2"),
        "You can't specify a value for :min_price if it's already set in the JWT.",
    ),
    "unknown parameter in the URL": lambda w: (
        card_query(w.card_token(), "?nope=1"),
        "Unknown parameter :nope.",
    ),
    "unknown parameter in the token": lambda w: (
        card_query(w.card_token({"cat": "Gizmo", "nope": 1})),
        "Unknown parameter :nope.",
    ),
    "dashboard: disabled parameter": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token()}/dashcard/{w.dashcard['id']}/card/{w.card['id']}?vendor=x",
        "You're not allowed to specify a value for :vendor.",
    ),
    "dashboard: locked parameter missing": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token({'min_price': 1})}/dashcard/{w.dashcard['id']}"
        f"/card/{w.card['id']}",
        "You must specify a value for :cat in the JWT.",
    ),
    "dashboard: card not on the dashboard": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token()}/dashcard/{w.dashcard['id']}/card/{w.hidden_card['id']}",
        "Not found.",
    ),
    "dashboard: unknown dashcard": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token()}/dashcard/99999999/card/{w.card['id']}",
        "Not found.",
    ),
    "card: values of a locked parameter": lambda w: (
        f"/api/embed/card/{w.card_token()}/params/t-cat/values",
        'Cannot search for values: "cat" is not an enabled parameter.',
    ),
    "card: values of an unknown parameter": lambda w: (
        f"/api/embed/card/{w.card_token()}/params/nope/search/x",
        "Cannot search for values: nil is not an enabled parameter.",
    ),
    "dashboard: values of a locked filter": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token()}/params/p-cat/values",
        'Cannot search for values: "cat" is not an enabled parameter.',
    ),
    "dashboard: values of a filter the token sets": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token({'cat': 'Gizmo', 'min_price': 5})}/params/p-min/values",
        "You can't specify a value for \"min_price\" if it's already set in the JWT.",
    ),
    "dashboard: values of an unknown filter": lambda w: (
        f"/api/embed/dashboard/{w.dashboard_token()}/params/nope/search/x",
        "Cannot search for values: nil is not an enabled parameter.",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_tokens_and_forbidden_parameters_fail_before_any_query(api, world, probe, name):
    path, message = BAD[name](world)
    response = api.raw("GET", path)
    assert (response.status_code, response.text) == (400, message)
    assert response.headers["content-type"].startswith("text/plain")
    assert probe.seen == []
