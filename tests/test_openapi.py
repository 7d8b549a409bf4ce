"""The API's contract: the served OpenAPI document (`/api/docs/openapi.json`) is valid and says what the
endpoints take, answer and refuse; the committed Markdown reference (`docs/api`) is generated from it."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from querybase import api_docs
from querybase.api import routers
from querybase.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"
AUTHS = {api_docs.NONE, api_docs.OPTIONAL, api_docs.USER, api_docs.SUPERUSER, api_docs.UNWRAPPED_ADMIN}


@pytest.fixture
def document(api) -> dict[str, Any]:
    return api.get("/api/docs/openapi.json")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), path, op) for path, item in document["paths"].items() for m, op in item.items()]


def test_the_document_is_valid_openapi_and_its_references_resolve(document):
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()
    refs = set(re.findall(r"'\$ref': '#/components/schemas/([^']+)'", str(document)))
    assert refs
    assert refs <= set(document["components"]["schemas"])


def test_the_interactive_page(api):
    page = api.get("/api/docs")
    assert "swagger-ui" in page
    assert "/api/docs/openapi.json" in page


def test_every_route_of_every_module_is_documented(document):
    documented = {(m, path) for m, path, _ in operations(document)}
    served = {
        (method, f"/api{prefix}{route.path}")
        for prefix, router in routers()
        for route in router.routes
        for method in route.methods
    }
    assert served == documented


def test_every_operation_declares_who_may_call_it_and_metabases_errors(document):
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        auth = operation["x-metabase-auth"]
        assert auth in AUTHS, where
        responses = operation["responses"]
        assert "422" not in responses, where
        assert "400" in responses, where
        if auth in (api_docs.USER, api_docs.SUPERUSER):
            assert {"401", "403"} <= set(responses), where
            assert operation["security"] == [{"session": []}, {"sessionCookie": []}, {"apiKey": []}], where
        if auth in (api_docs.NONE, api_docs.OPTIONAL):
            assert operation["security"] == [], where
        for status, response in responses.items():
            if status.startswith("2") and status != "204":
                assert response.get("content"), f"{where} answers {status} without a declared shape"
            if int(status) >= 400:
                assert "text/plain" in response["content"], where
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                assert parameter["schema"]["minimum"] == 1, where


def test_what_endpoints_take_and_answer(document):
    def op(method: str, path: str) -> dict[str, Any]:
        return document["paths"][path][method]

    def shape(response: dict[str, Any]) -> Any:
        return response["content"]["application/json"]["schema"]

    schemas = document["components"]["schemas"]
    login = op("post", "/api/session")
    assert login["x-metabase-auth"] == api_docs.NONE
    body = login["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[body]["required"] == ["username", "password"]
    assert shape(login["responses"]["200"]) == {"$ref": "#/components/schemas/SessionId"}
    assert "401" in login["responses"]

    current = op("get", "/api/user/current")
    assert current["x-metabase-auth"] == api_docs.USER
    assert shape(current["responses"]["200"]) == {"$ref": "#/components/schemas/CurrentUser"}
    assert {"id", "email", "is_superuser", "group_ids"} <= set(schemas["CurrentUser"]["required"])
    assert current["responses"]["401"]["description"].startswith("No valid session")

    assert op("get", "/api/setting")["x-metabase-auth"] == api_docs.SUPERUSER
    assert op("get", "/api/setup/admin_checklist")["x-metabase-auth"] == api_docs.UNWRAPPED_ADMIN
    assert shape(op("get", "/api/health")["responses"]["200"]) == {"$ref": "#/components/schemas/Health"}

    run = op("post", "/api/dataset")
    assert shape(run["responses"]["202"]) == {"$ref": "#/components/schemas/QueryResult"}
    download = op("post", "/api/dataset/{export_format}")
    assert download["parameters"][0]["schema"]["enum"] == ["csv", "json", "xlsx"]
    assert set(download["responses"]["200"]["content"]) >= {"text/csv", "application/json"}
    assert download["requestBody"]["content"]["application/json"]["schema"]["required"] == ["query"]

    archive = op("delete", "/api/segment/{segment_id}")
    assert "content" not in archive["responses"]["204"]
    assert "200" not in archive["responses"]
    assert op("put", "/api/collection/graph")["responses"]["409"]["description"]

    card = op("get", "/api/card")
    listed = shape(card["responses"]["200"])
    assert (listed["type"], listed["items"]) == ("array", {"$ref": "#/components/schemas/Card"})


def _untyped(schema: dict[str, Any] | None) -> bool:
    """A JSON schema that says nothing of its value: absent, `{}`, or an object or list of such."""
    if not schema:
        return True
    if "$ref" in schema or any(key in schema for key in ("anyOf", "oneOf", "allOf", "properties")):
        return False
    kind = schema.get("type")
    if kind == "array":
        return _untyped(schema.get("items"))
    if kind == "object":
        values = schema.get("additionalProperties")
        return not isinstance(values, dict) or _untyped(values)
    return kind is None


def test_every_answer_has_a_declared_shape(document):
    """Issue 9: each success answer with a body documents what it holds (a named shape or a typed value),
    and each download its file types."""
    untyped = []
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                continue
            content = response.get("content", {})
            if status != "204":
                assert content, f"{method} {path} {status} declares no content"
            untyped += [
                f"{method} {path} {status} {kind}" for kind in content if _untyped(content[kind]["schema"])
            ]
    assert untyped == []


@pytest.mark.parametrize("path", ["/api/dataset/csv", "/api/card/1/query/csv"])
def test_downloads_refuse_a_body_that_is_not_json_like_any_endpoint(api, path):
    """Found by the fuzzer's follow-up: these read their body themselves and answered 500."""
    admin = api.as_("crowberto")
    headers = {"Content-Type": "application/json"}
    refused = admin.post(path, content=b"{not json", headers=headers, expect=400)
    assert refused == {"error": "Expecting property name enclosed in double quotes at 1:2"}
    assert admin.post("/api/card", content=b"{not json", headers=headers, expect=400) == refused


def test_the_committed_reference_is_generated_from_the_current_declarations(tmp_path, capsys):
    """`docs/api` must be regenerated (`querybase api-documentation`) when an endpoint changes."""
    assert main(["api-documentation", "--output", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"wrote {len(list(tmp_path.iterdir()))} pages to {tmp_path}\n"
    generated = {p.name: p.read_text() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_text() for p in DOCS.glob("*.md")}
    assert sorted(committed) == sorted(generated)
    for name, text in generated.items():
        assert committed[name] == text, f"docs/api/{name} is out of date: run `querybase api-documentation`"
    assert "## `GET /api/user/current`" in generated["user.md"]
    assert "## CurrentUser" in generated["shapes.md"]


@pytest.mark.parametrize("path", ["/api/dataset/parameter/values", "/api/dataset/parameter/search/a"])
def test_parameter_values_of_a_field_id_beyond_any_id(api, path):
    """Found by the fuzzer: a field id past 64 bits reached the app DB and answered 500. It is no Java long,
    which Metabase refuses (400); a long past any row names no field."""
    body = {"parameter": {"id": "p", "type": "category"}, "field_ids": [2**31, 2**63 - 1]}
    assert api.as_("rasta").post(path, body) == {"values": [], "has_more_values": False}
    body["field_ids"] = [2**31, 2**64]
    assert api.as_("rasta").post(path, body, expect=400) == {
        "errors": {"field_ids": "nullable sequence of value must be an integer greater than zero."},
        "specific-errors": {
            "field_ids": [
                None,
                ["value must be an integer greater than zero., received: 18446744073709551616"],
            ]
        },
    }


def test_a_snippet_in_a_collection_beyond_any_id(api):
    """Found by the fuzzer: a collection id past 64 bits reached the app DB and answered 500."""
    admin = api.as_("crowberto")
    snippet = admin.post(
        "/api/native-query-snippet", {"name": f"huge {uuid.uuid4().hex[:8]}", "content": "1"}
    )
    no_long = {
        "errors": {"collection_id": "nullable value must be an integer greater than zero."},
        "specific-errors": {
            "collection_id": ["value must be an integer greater than zero., received: 18446744073709551616"]
        },
    }
    for collection_id, status, answer in ((2**64, 400, no_long), (2**31, 404, "Not found.")):
        body = {"collection_id": collection_id}
        assert admin.put(f"/api/native-query-snippet/{snippet['id']}", body, expect=status) == answer
        body = {"name": f"huge {uuid.uuid4().hex[:8]}", "content": "1", "collection_id": collection_id}
        assert admin.post("/api/native-query-snippet", body, expect=status) == answer


def test_a_membership_of_a_group_or_user_beyond_any_id(api):
    """Found by the fuzzer: an id past 64 bits reached the app DB and answered 500."""
    admin = api.as_("crowberto")
    for key, other in (("group_id", "user_id"), ("user_id", "group_id")):
        assert admin.post("/api/permissions/membership", {key: 2**31, other: 1}, expect=404) == "Not found."
        assert admin.post("/api/permissions/membership", {key: 2**64, other: 1}, expect=400) == {
            "errors": {key: "value must be an integer greater than zero."},
            "specific-errors": {
                key: ["value must be an integer greater than zero., received: 18446744073709551616"]
            },
        }
