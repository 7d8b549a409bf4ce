"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis), in process.

Every operation of `/api/docs/openapi.json` gets generated requests, as crowberto (admin) and as rasta (a
normal user): valid ones with random ids, valid ones whose integer ids are pinned to 1-3 (so that they
reach the objects the fixture made, not only 404s), and invalid ones (wrong types, missing fields). Each
answer must not be a 5xx, must have a documented status code, content type and shape, and an invalid
request must be refused with a 4xx. The generation is derandomized: CI runs the same requests every time.

Left out, and why:
- `DELETE /api/session`: it would end the fuzzer's own session.
- `PUT /api/setting`, `PUT /api/setting/{key}`: they turn instance-wide switches off for the rest of the run.
- `POST /api/database`, `POST /api/database/validate`, `PUT /api/database/{database_id}`,
  `POST /api/setup/validate`, `PUT /api/email`, `POST /api/email/test`: they connect to whatever host the
  generated details name; this machine may only talk to itself.
- `POST /api/{database,table,field}/{id}/sync_schema|rescan_values`: they start background syncs (slow).

Users the fuzzer deactivates, demotes or logs out are restored (and logged in again) after each
operation that writes, so that one operation cannot blind the ones after it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi
from sqlalchemy import select

from querybase import sync
from querybase.app import create_app
from querybase.auth.passwords import hash_password
from querybase.auth.sessions import create_session
from querybase.models.user import User
from querybase.permissions.groups import set_superuser
from tests.conftest import Server, make_config, set_up_users
from tests.support.appdb import fresh_app_db
from tests.support.http import Api
from tests.support.users import PASSWORD

pytestmark = pytest.mark.fuzz

# Requests per operation, user and kind of request.
EXAMPLES = {"valid": 2, "valid, known ids": 3, "invalid": 3}
# The budget: at least this many generated requests in all.
MIN_REQUESTS = 2000
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXCLUDED = {
    ("DELETE", "/api/session"),
    ("PUT", "/api/setting"),
    ("PUT", "/api/setting/{key}"),
    ("POST", "/api/database"),
    ("POST", "/api/database/validate"),
    ("PUT", "/api/database/{database_id}"),
    ("POST", "/api/setup/validate"),
    ("PUT", "/api/email"),
    ("POST", "/api/email/test"),
    ("POST", "/api/database/{database_id}/sync_schema"),
    ("POST", "/api/database/{database_id}/rescan_values"),
    ("POST", "/api/table/{table_id}/rescan_values"),
    ("POST", "/api/field/{field_id}/rescan_values"),
}
USERS = {"crowberto": True, "rasta": False}  # name → is_superuser
KNOWN_IDS = st.sampled_from([1, 2, 3])


@dataclass
class Fuzzer:
    app: Any
    client: Any
    schema: Any
    user_ids: dict[str, int]
    tokens: dict[str, str]
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def restore_users(self) -> None:
        """Give each fuzzing user back a working session, their admin flag and their password."""
        broken = []
        for name, token in self.tokens.items():
            response = self.client.get("/api/user/current", headers={"X-Metabase-Session": token})
            self.client.cookies.clear()
            if response.status_code != 200 or response.json()["is_superuser"] != USERS[name]:
                broken.append(name)
        if not broken:
            return
        with self.app.state.appdb.transaction() as db:
            for name in broken:
                user = db.scalar(select(User).where(User.id == self.user_ids[name]))
                user.is_active = True
                user.password = hash_password(PASSWORD)
                set_superuser(db, user, USERS[name])
                self.tokens[name], _ = create_session(db, user)


def negatable(operation: dict[str, Any]) -> bool:
    """Whether an invalid request can be made: a body, a query parameter or a typed path parameter (any
    text is a valid string path parameter)."""
    if "requestBody" in operation:
        return True
    return any(
        p["in"] != "path" or p["schema"].get("type") not in ("string", None)
        for p in operation.get("parameters", [])
    )


def strategies(operation: Any, raw: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "valid", operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    ids = [
        p["name"]
        for p in raw.get("parameters", [])
        if p["in"] == "path" and p["schema"].get("type") == "integer"
    ]
    if ids:
        yield (
            "valid, known ids",
            KNOWN_IDS.flatmap(lambda i: operation.as_strategy(path_parameters=dict.fromkeys(ids, i))),
        )
    if negatable(raw):
        yield "invalid", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)


def fuzz(fuzzer: Fuzzer, name: str) -> None:
    """Every operation of the document, as `name`: generated requests and their checks."""
    for result in fuzzer.schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in EXCLUDED:
            continue
        raw = fuzzer.schema.raw_schema["paths"][operation.path][operation.method.lower()]
        for kind, strategy in strategies(operation, raw):
            send_examples(fuzzer, name, f"{name}, {kind}: {key[0]} {key[1]}", strategy, EXAMPLES[kind])
        if key[0] != "GET":
            fuzzer.restore_users()


def send_examples(fuzzer: Fuzzer, name: str, label: str, strategy: Any, examples: int) -> None:
    """`examples` requests drawn from `strategy`, sent as `name` and checked; failures are collected."""

    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        fuzzer.requests += 1
        headers = {"X-Metabase-Session": fuzzer.tokens[name]}
        try:
            case.call_and_validate(session=fuzzer.client, headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:
            fuzzer.failures.append(f"{label}\n{exc}")
        finally:
            fuzzer.client.cookies.clear()

    # Unsatisfiable: nothing of this kind can be generated (e.g. no invalid form of its parameters).
    with contextlib.suppress(Unsatisfiable):
        run()


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    """An app on its own SQLite app DB with the named users, its own synced Sample Database (generated
    native SQL must not touch the one other tests share) and one of each kind of content, reached in
    process through schemathesis's ASGI client."""
    with fresh_app_db("sqlite") as url:
        config = make_config(url, tmp_path_factory.mktemp("fuzz-plugins"))
        app = create_app(config)
        try:
            with asgi.get_client(app) as client:
                server = Server(client, config)
                set_up_users(server)
                api = server.api()
                make_content(api.as_("crowberto"), api.as_("rasta"))
                tokens = {name: api.session_for(name) for name in USERS}
                schema = schemathesis.openapi.from_asgi("/api/docs/openapi.json", app)
                yield Fuzzer(app, client, schema, server.user_ids, tokens)
        finally:
            asgi.shutdown_lifespans()


def make_content(admin: Api, rasta: Api) -> None:
    """A collection, questions, a dashboard, a segment, a legacy metric, a timeline with an event, a
    snippet, a group, an API key, public links and bookmarks, so that generated ids find objects."""
    sync.wait_for_syncs(timeout=120)
    database = next(d for d in admin.get("/api/database")["data"] if d["is_sample"])["id"]
    tables = {t["name"]: t for t in admin.get(f"/api/database/{database}/metadata")["tables"]}
    orders = tables["ORDERS"]
    subtotal = next(f["id"] for f in orders["fields"] if f["name"] == "SUBTOTAL")
    collection = admin.post("/api/collection", {"name": "Fuzz", "color": "#509EE3"})["id"]
    query = {
        "database": database,
        "type": "query",
        "query": {"source-table": orders["id"], "aggregation": [["count"]]},
    }
    card = admin.post(
        "/api/card",
        {"name": "Orders count", "dataset_query": query, "display": "scalar", "visualization_settings": {}},
    )["id"]
    native = {"database": database, "type": "native", "native": {"query": "SELECT 1 AS one"}}
    rasta.post(
        "/api/card",
        {"name": "One", "dataset_query": native, "display": "table", "visualization_settings": {}},
    )
    dashboard = admin.post("/api/dashboard", {"name": "Fuzz", "collection_id": collection})["id"]
    admin.post(f"/api/dashboard/{dashboard}/cards", {"cardId": card})
    definition = {"source-table": orders["id"], "filter": [">", ["field", subtotal, None], 100]}
    admin.post("/api/segment", {"name": "Big", "table_id": orders["id"], "definition": definition})
    admin.post(
        "/api/metric",
        {
            "name": "Sum",
            "table_id": orders["id"],
            "definition": {"aggregation": [["sum", ["field", subtotal, None]]]},
        },
    )
    timeline = admin.post("/api/timeline", {"name": "Launches"})["id"]
    admin.post(
        "/api/timeline-event",
        {"name": "Launch", "timestamp": "2024-01-01T00:00:00Z", "timezone": "UTC", "timeline_id": timeline},
    )
    admin.post("/api/native-query-snippet", {"name": "ones", "content": "SELECT 1"})
    group = admin.post("/api/permissions/group", {"name": "Fuzzers"})["id"]
    admin.post("/api/api-key", {"group_id": group, "name": "Fuzz key"})
    admin.put("/api/setting/enable-public-sharing", {"value": True}, expect=204)
    admin.post(f"/api/card/{card}/public_link")
    admin.post(f"/api/dashboard/{dashboard}/public_link")
    rasta.post(f"/api/bookmark/card/{card}")


def test_fuzz_as_admin(fuzzer: Fuzzer) -> None:
    assert_no_failures(fuzzer, "crowberto")


def test_fuzz_as_normal_user(fuzzer: Fuzzer) -> None:
    assert_no_failures(fuzzer, "rasta")


def assert_no_failures(fuzzer: Fuzzer, name: str) -> None:
    started, before = time.monotonic(), fuzzer.requests
    fuzzer.failures.clear()
    fuzz(fuzzer, name)
    sent = fuzzer.requests - before
    print(f"{sent} generated requests as {name} in {time.monotonic() - started:.0f} s")
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
    assert sent >= MIN_REQUESTS // len(USERS)
