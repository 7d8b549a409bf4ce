"""The API's cross-cutting conventions: Metabase's exact error bodies and content types for unknown
routes, authentication, permissions, validation and malformed bodies, and the headers on every response.

Metabase sends a bare message as `text/plain` and anything with `errors` as JSON; clients parse on
that difference, so each shape is pinned here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from querybase import METABASE_API_VERSION
from querybase.app import render_error
from querybase.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PaymentRequired,
    Unauthenticated,
    check_400,
    check_403,
    check_404,
    field_errors,
)
from tests.support.http import Api

NO_ENDPOINT = "API endpoint does not exist."
NON_BLANK = "value must be a non-blank string."
FORBIDDEN = "You don't have permissions to do that."
MALFORMED = re.compile(r".+ at \d+:\d+")


def assert_text(response: Any, status: int, text: str) -> None:
    assert (response.status_code, response.text) == (status, text)
    assert response.headers["content-type"].startswith("text/plain")


def assert_json(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# ---------------------------------------------------------------------------------------------------
# The error classes and how they are rendered


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (BadRequest("Invalid Request."), 400, "Invalid Request."),
        (Unauthenticated(), 401, "Unauthenticated"),
        (PaymentRequired("Premium only."), 402, "Premium only."),
        (Forbidden(), 403, FORBIDDEN),
        (NotFound(), 404, "Not found."),
        (NotFound(NO_ENDPOINT), 404, NO_ENDPOINT),
        (Conflict("Out of date."), 409, "Out of date."),
        (ApiError("Teapot.", 418), 418, "Teapot."),
        (ApiError("Boom."), 500, "Boom."),
    ],
)
def test_a_string_body_is_sent_as_plain_text(error: ApiError, status: int, body: str) -> None:
    response = render_error(error.status, error.body)
    assert (response.status_code, response.body.decode()) == (status, body)
    assert response.headers["content-type"].startswith("text/plain")


def test_a_map_body_is_sent_as_json() -> None:
    error = field_errors({"email": "Email address already in use."})
    response = render_error(error.status, error.body)
    assert (response.status_code, response.body) == (
        400,
        b'{"errors":{"email":"Email address already in use."}}',
    )
    assert response.headers["content-type"].startswith("application/json")


def test_check_helpers_raise_metabases_generic_errors() -> None:
    assert check_404("found") == "found"
    check_403(True)
    check_400(True)
    with pytest.raises(NotFound) as not_found:
        check_404(None)
    with pytest.raises(Forbidden) as forbidden:
        check_403(False)
    with pytest.raises(BadRequest) as bad:
        check_400(False)
    with pytest.raises(BadRequest) as bad_with_body:
        check_400(False, {"errors": {"name": "taken"}})
    assert [(e.value.status, e.value.body) for e in (not_found, forbidden, bad, bad_with_body)] == [
        (404, "Not found."),
        (403, FORBIDDEN),
        (400, "Invalid Request."),
        (400, {"errors": {"name": "taken"}}),
    ]


# ---------------------------------------------------------------------------------------------------
# Routes


@pytest.mark.parametrize("who", [None, "rasta"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/no-such-thing"),
        ("GET", "/api"),
        ("POST", "/api/session/no-such-thing"),
        # a known path with a method it does not have
        ("PUT", "/api/session/properties"),
        ("PATCH", "/api/session"),
        ("GET", "/api/session"),
    ],
)
def test_unknown_endpoints(api: Api, who: str | None, method: str, path: str) -> None:
    caller = api.as_(who) if who else api
    assert_text(caller.raw(method, path), 404, NO_ENDPOINT)


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/user/current"), ("POST", "/api/user/current")])
def test_wrong_method_on_a_known_authenticated_path(api: Api, method: str, path: str) -> None:
    assert_text(api.as_("rasta").raw(method, path, json={}), 404, NO_ENDPOINT)


def test_a_path_parameter_of_the_wrong_type_is_no_route(api: Api) -> None:
    assert_text(api.as_("rasta").raw("GET", "/api/user/abc"), 404, NO_ENDPOINT)


def test_a_trailing_slash_routes_like_the_bare_path(api: Api, user_ids: dict[str, int]) -> None:
    rasta = api.as_("rasta")
    assert rasta.get("/api/user/current/")["id"] == user_ids["rasta"]
    response = rasta.raw("GET", "/api/session/properties/")
    assert response.status_code == 200 and response.json()["has-user-setup"] is True


# ---------------------------------------------------------------------------------------------------
# Authentication and permissions


def test_unauthenticated_is_plain_text(api: Api) -> None:
    assert_text(api.raw("GET", "/api/user/current"), 401, "Unauthenticated")


def test_forbidden_is_plain_text(api: Api) -> None:
    assert_text(api.as_("rasta").raw("GET", "/api/setting"), 403, FORBIDDEN)


def test_not_found_is_plain_text(api: Api) -> None:
    assert_text(api.as_("crowberto").raw("GET", "/api/user/987654321"), 404, "Not found.")


# ---------------------------------------------------------------------------------------------------
# Request bodies: always 400, never 422 or 500


def json_post(api: Api, path: str, content: bytes) -> Any:
    return api.raw("POST", path, content=content, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/session", "/api/setup"])
@pytest.mark.parametrize("content", [b"{bad json", b'{"username": "a",}', b'{\n  "a": 1\n  oops'])
def test_malformed_json(api: Api, path: str, content: bytes) -> None:
    body = assert_json(json_post(api, path, content), 400)
    assert list(body) == ["error"] and MALFORMED.fullmatch(body["error"]), body


def test_malformed_json_names_line_and_column(api: Api) -> None:
    body = assert_json(json_post(api, "/api/session", b'{\n  "username": "a"\n  "password": "b"}'), 400)
    assert body["error"].endswith(" at 3:3"), body


def test_a_body_that_is_not_utf8(api: Api) -> None:
    body = assert_json(json_post(api, "/api/session", b'{"username": "\xff\xfe"}'), 400)
    assert list(body) == ["error"]


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"null", b"42"])
def test_json_that_is_not_an_object_is_validated_as_an_empty_map(api: Api, content: bytes) -> None:
    assert assert_json(json_post(api, "/api/session", content), 400) == {
        "errors": {
            "username": "value must be a non-blank string.",
            "password": "value must be a non-blank string.",
        },
        "specific-errors": {
            "username": ["missing required key, received: nil"],
            "password": ["missing required key, received: nil"],
        },
    }


def test_values_of_the_wrong_type_are_a_400(api: Api) -> None:
    body = assert_json(api.raw("POST", "/api/session", json={"username": 5, "password": ["a"]}), 400)
    assert body == {
        "errors": {
            "username": "value must be a non-blank string.",
            "password": "value must be a non-blank string.",
        },
        "specific-errors": {
            "username": ["should be a string, received: 5", "non-blank string, received: 5"],
            "password": ['should be a string, received: ["a"]', 'non-blank string, received: ["a"]'],
        },
    }


# ---------------------------------------------------------------------------------------------------
# Headers on every /api response


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        (None, "GET", "/api/session/properties", 200),
        (None, "GET", "/api/user/current", 401),
        ("rasta", "GET", "/api/setting", 403),
        (None, "GET", "/api/no-such-thing", 404),
        (None, "POST", "/api/session", 400),
        ("rasta", "DELETE", "/api/no-such-thing", 404),
    ],
)
def test_every_response_carries_the_version_and_security_headers(
    api: Api, who: str | None, method: str, path: str, status: int
) -> None:
    caller = api.as_(who) if who else api
    response = caller.raw(method, path, json={} if method == "POST" else None)
    assert response.status_code == status
    assert response.headers["x-metabase-version"] == METABASE_API_VERSION
    assert re.fullmatch(r"v0\.\d+\.\d+", METABASE_API_VERSION)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
