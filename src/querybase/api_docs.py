"""The API's documentation, generated from the endpoints' own declarations: the OpenAPI document served
at `/api/docs/openapi.json` and the Markdown reference in `docs/api/` (one page per domain).

FastAPI derives parameters and request bodies from the endpoint signatures, and response shapes from
`responses={200: {"model": ...}}` on the decorators (documentation only: querybase never validates its
answers at run time, see `MetabaseRoute`). This module adds what FastAPI cannot see: who may call each
endpoint (from its `CurrentUser`/`SuperUser` dependencies), Metabase's error responses instead of
FastAPI's 422 (which querybase never sends), the shape of endpoints without a declared model (from their
return annotation), and the values path parameters may take.

It also compares the served routes with Metabase's endpoint list (`querybase api-coverage`).
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import TypeAdapter
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from querybase.api.deps import find_user, require_superuser, require_superuser_unwrapped, require_user
from querybase.auth.api_keys import API_KEY_HEADER
from querybase.auth.sessions import SESSION_COOKIE, SESSION_HEADER
from querybase.errors import FORBIDDEN, NO_SUCH_ENDPOINT, NOT_FOUND, UNAUTHENTICATED
from querybase.longs import INT32_MAX
from querybase.query_processor.streaming import EXPORT_FORMATS

SECURITY_SCHEMES: dict[str, Any] = {
    "session": {
        "type": "apiKey",
        "in": "header",
        "name": SESSION_HEADER,
        "description": "The session id from `POST /api/session` (or `POST /api/setup`).",
    },
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The cookie `POST /api/session` sets.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "An API key made by an admin with `POST /api/api-key`.",
    },
}
_AUTHENTICATED = [{name: []} for name in SECURITY_SCHEMES]
# Ids are positive 32-bit integers; any other value is no route at all (`api/routing.py`).
MAX_ID = INT32_MAX

# Who may call an endpoint, from its dependencies.
NONE, OPTIONAL, USER, SUPERUSER, UNWRAPPED_ADMIN = "none", "optional", "user", "superuser", "admin"
AUTH_TEXT = {
    NONE: "none (anonymous)",
    OPTIONAL: "none; a session adds to the answer",
    USER: "a session or API key",
    SUPERUSER: "an admin's session or API key",
    UNWRAPPED_ADMIN: "an admin's session or API key (anyone else, anonymous callers included, gets 403)",
}

_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}
ERROR_SCHEMAS: dict[str, Any] = {
    "ValidationErrors": {
        "title": "ValidationErrors",
        "type": "object",
        "description": (
            "Metabase's 400 body. `errors` says what each invalid parameter must be, `specific-errors` "
            "what was wrong with what was sent; checks made by the endpoint itself send `errors` alone "
            '(`{"errors": {"name": "..."}}`), and a few send `{"message": "..."}`.'
        ),
        "properties": {
            "errors": {"type": "object", "additionalProperties": True},
            "specific-errors": {"type": "object", "additionalProperties": True},
            "message": {"type": "string"},
        },
    },
}
ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: {
        "description": "Invalid parameters or body: Metabase's validation errors, or a message.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ValidationErrors"}},
            **_TEXT,
        },
    },
    401: {
        "description": f"No valid session or API key: `{UNAUTHENTICATED}` (plain text).",
        "content": {**_TEXT, **_JSON_OBJECT},
    },
    402: {
        "description": "A feature of Metabase's paid editions.",
        "content": {**_TEXT, **_JSON_OBJECT},
    },
    403: {
        "description": f"The caller may not do this: `{FORBIDDEN}` (plain text).",
        "content": {**_TEXT, **_JSON_OBJECT},
    },
    404: {
        "description": (
            f"No such object: `{NOT_FOUND}`, or `{NO_SUCH_ENDPOINT}` for an id that is not a positive "
            "integer (plain text)."
        ),
        "content": {**_TEXT, **_JSON_OBJECT},
    },
    409: {
        "description": "The object changed since the client read it.",
        "content": {**_TEXT, **_JSON_OBJECT},
    },
}


def auth_of(route: APIRoute | RouteContext) -> str:
    """Who may call `route`, from its dependencies (at any depth). `require_superuser_unwrapped` is a gate:
    Metabase's routes outside its authentication wrapper (`/api/setup/admin_checklist`, `/api/email`)
    refuse everyone but admins with 403."""
    calls = {dep.call for dep in _dependencies(route.dependant)}
    if require_superuser in calls:
        return SUPERUSER
    if require_user in calls:
        return USER
    if require_superuser_unwrapped in calls:
        return UNWRAPPED_ADMIN
    if find_user in calls:
        return OPTIONAL
    return NONE


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from _dependencies(dep)


def openapi_document(
    routes: Sequence[BaseRoute], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` (every `/api` route under its full path)."""
    document = get_openapi(title=title, version=version, description=description, routes=routes)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(ERROR_SCHEMAS)
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            _complete(document["paths"][route.path_format][method.lower()], route, schemas)
    return document


def _complete(operation: dict[str, Any], route: RouteContext, schemas: dict[str, Any]) -> None:
    auth = auth_of(route)
    operation["x-metabase-auth"] = auth
    operation["security"] = [] if auth in (NONE, OPTIONAL) else _AUTHENTICATED
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    success = route.status_code or 200
    answer = responses.get(str(success), {})
    if answer.get("description") == "Successful Response":
        answer["description"] = "Success."
    json_answer = answer.get("content", {}).get("application/json")
    if json_answer is not None and not json_answer.get("schema") and success not in route.responses:
        shape = _annotated_shape(route, schemas)
        if shape is None:
            del answer["content"]
        else:
            json_answer["schema"] = shape
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
            parameter["schema"].update(minimum=1, maximum=MAX_ID)
        elif parameter["in"] == "path" and parameter["name"] == "export_format":
            # Downloads check the format themselves, answering Metabase's 404 for any other.
            parameter["schema"]["enum"] = list(EXPORT_FORMATS)
    for status in _error_statuses(route, operation, auth):
        declared = responses.setdefault(str(status), {})
        declared.setdefault("content", copy.deepcopy(ERROR_RESPONSES[status]["content"]))
        if "description" not in route.responses.get(status, {}):
            declared["description"] = ERROR_RESPONSES[status]["description"]


def _error_statuses(route: RouteContext, operation: dict[str, Any], auth: str) -> list[int]:
    """The errors an endpoint can answer with: 400 (any endpoint may refuse the state it finds, e.g.
    `Embedding is not enabled.`), 404 when it names objects, 401 and 403 when it needs a user, and any
    its decorator declares (`responses={402: ...}`)."""
    statuses = [400, *(int(s) for s in route.responses if str(s).isdigit() and int(s) in ERROR_RESPONSES)]
    if operation.get("parameters") or "requestBody" in operation:
        statuses.append(404)
    if auth in (USER, SUPERUSER):
        statuses += [401, 403]
    elif auth == UNWRAPPED_ADMIN:
        statuses.append(403)
    return sorted(set(statuses))


def _annotated_shape(route: RouteContext, schemas: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of the endpoint's return annotation (`dict[str, Any]` → an object), or None
    when it returns a `Response` of its own (whose shape its decorator must declare)."""
    endpoint = typing.cast(Any, route.endpoint)
    annotation = typing.get_type_hints(endpoint).get("return", Any)
    if isinstance(annotation, type) and issubclass(annotation, Response):
        return None
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return schema


# --- The Markdown reference -------------------------------------------------------------------------

SHAPES_PAGE = "shapes.md"


def write_markdown(document: dict[str, Any], folder: Path) -> list[Path]:
    """An index, one page per domain (the first path segment after `/api`) and a page of the shapes
    they answer with; returns the files written. Pages of domains no longer served are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    domains: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            domains.setdefault(path.split("/")[2], []).append((method.upper(), path, operation))
    pages = {f"{domain}.md": _domain_page(domain, ops) for domain, ops in sorted(domains.items())}
    pages[SHAPES_PAGE] = _shapes_page(document)
    pages["README.md"] = _index_page(domains, document)
    for stale in set(p.name for p in folder.glob("*.md")) - set(pages):
        (folder / stale).unlink()
    written = []
    for name, text in pages.items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written


def _index_page(domains: dict[str, list[tuple[str, str, dict[str, Any]]]], document: dict[str, Any]) -> str:
    lines = [
        "# API reference",
        "",
        "querybase speaks Metabase's HTTP API. This reference is generated from the endpoints' declarations",
        "(`querybase api-documentation`); the same declarations give the OpenAPI document a running server",
        "serves at `/api/docs/openapi.json`, with an interactive page at `/api/docs`.",
        "",
        "Authentication: send the session id from `POST /api/session` in the `X-Metabase-Session` header",
        "(or the `metabase.SESSION` cookie), or an API key in `X-API-Key`.",
        "",
        "## Errors",
        "",
        "Errors have Metabase's status codes and bodies:",
        "",
    ]
    lines += [f"- {status}: {ERROR_RESPONSES[status]['description']}" for status in sorted(ERROR_RESPONSES)]
    lines += [
        "",
        "Validation errors (400) name each invalid parameter: "
        '`{"errors": {"name": "value must be a non-blank string."}, "specific-errors": {"name": '
        '["should be a string, received: 42", "non-blank string, received: 42"]}}`.',
        "",
        "## Domains",
        "",
        "| domain | endpoints |",
        "|---|---|",
    ]
    for domain, operations in sorted(domains.items()):
        lines.append(f"| [`/api/{domain}`]({domain}.md) | {len(operations)} |")
    lines += ["", f"The shapes of the answers: [{SHAPES_PAGE}]({SHAPES_PAGE})."]
    return "\n".join(lines) + "\n"


def _domain_page(domain: str, operations: list[tuple[str, str, dict[str, Any]]]) -> str:
    lines = [f"# `/api/{domain}`", "", "[All domains](README.md) · [Shapes](shapes.md)", ""]
    lines += [f"- [`{method} {path}`](#{_anchor(f'{method} {path}')})" for method, path, _ in operations]
    for method, path, operation in operations:
        lines += ["", f"## `{method} {path}`", ""]
        if operation.get("description"):
            lines += [operation["description"].strip(), ""]
        lines += [f"Authentication: {AUTH_TEXT[operation['x-metabase-auth']]}.", ""]
        parameters = operation.get("parameters", [])
        if parameters:
            lines += ["| parameter | in | type | required |", "|---|---|---|---|"]
            for parameter in parameters:
                kind = _type_text(parameter["schema"])
                required = "yes" if parameter.get("required") else "no"
                lines.append(f"| `{parameter['name']}` | {parameter['in']} | {kind} | {required} |")
            lines.append("")
        if "requestBody" in operation:
            lines += _body_lines(operation["requestBody"])
        lines += _answer_lines(operation["responses"])
    return "\n".join(lines) + "\n"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, spaces to dashes, punctuation dropped."""
    text = heading.lower().replace(" ", "-")
    return "".join(c for c in text if c.isalnum() or c in "-_")


def _body_lines(body: dict[str, Any]) -> list[str]:
    required = "required" if body.get("required") else "optional"
    lines = []
    for media_type, content in body["content"].items():
        schema = content.get("schema", {})
        lines += [f"Body ({media_type}, {required}): {_type_text(schema)}", ""]
        properties = schema.get("properties")
        if properties:
            needed = set(schema.get("required", []))
            lines += ["| field | type | required |", "|---|---|---|"]
            for name, prop in properties.items():
                lines.append(f"| `{name}` | {_type_text(prop)} | {'yes' if name in needed else 'no'} |")
            lines.append("")
    return lines


def _answer_lines(responses: dict[str, Any]) -> list[str]:
    """The successful answers with their shapes; the errors by status (described in the index), with
    the endpoint's own description where it has one."""
    lines = []
    for status, response in sorted(responses.items()):
        if int(status) >= 400:
            continue
        shapes = [
            f"{media_type}: {_type_text(content.get('schema', {}))}"
            for media_type, content in response.get("content", {}).items()
        ]
        answer = " ".join(
            [response["description"].rstrip(".") + ".", *(["Answers", ", ".join(shapes)] if shapes else [])]
        )
        lines.append(f"- {status}: {answer}")
    errors = []
    for status, response in sorted(responses.items()):
        if int(status) < 400:
            continue
        own = response["description"] != ERROR_RESPONSES.get(int(status), {}).get("description")
        errors.append(f"{status} ({response['description'].rstrip('.')})" if own else status)
    return [*lines, f"- errors: {', '.join(errors)}"]


def _shapes_page(document: dict[str, Any]) -> str:
    lines = ["# Shapes", "", "[All domains](README.md)", ""]
    lines += [
        "The objects the endpoints take and answer with. Answers carry more keys than those listed, as",
        "Metabase's do; the listed ones are always present.",
    ]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += ["", f"## {name}", ""]
        if schema.get("description"):
            lines += [" ".join(schema["description"].split()), ""]
        properties = schema.get("properties", {})
        if properties:
            needed = set(schema.get("required", []))
            lines += ["| field | type | always |", "|---|---|---|"]
            for field_name, prop in properties.items():
                always = "yes" if field_name in needed else "no"
                lines.append(f"| `{field_name}` | {_type_text(prop)} | {always} |")
        else:
            lines.append(_type_text(schema))
    return "\n".join(lines) + "\n"


def _type_text(schema: dict[str, Any]) -> str:
    """A short, Markdown-table-safe description of a JSON schema: `integer`, `array of Card`, ..."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[`{name}`](shapes.md#{name.lower()})"
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            options = [_type_text(s) for s in schema[combinator] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[combinator])
            return " or ".join(options) + (" (nullable)" if nullable else "")
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        return f"array of {_type_text(items)}" if items else "array"
    if kind == "object" or (kind is None and "properties" in schema):
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"map of {_type_text(values)}"
        return "object"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any JSON"


# --- Coverage of Metabase's API ---------------------------------------------------------------------


@dataclass
class DomainCoverage:
    domain: str
    implemented: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.implemented) + len(self.missing)


def _route_key(method: str, path: str) -> str:
    """`GET /api/card/{}` for `GET /api/card/:id` and `GET /api/card/{card_id}` alike."""
    path = re.sub(r"\{[^}]*\}|:[A-Za-z][\w-]*", "{}", path).rstrip("/")
    return f"{method.upper()} {path}"


def read_reference(tsv: Path) -> list[tuple[str, str, str]]:
    """Metabase's open-source endpoints as (method, path, domain); Enterprise (`ee:`) domains left out."""
    rows = []
    for line in tsv.read_text().splitlines()[1:]:
        method, path, domain, *_ = line.split("\t")
        if not domain.startswith("ee:"):
            rows.append((method, path, domain))
    return rows


def served_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers under `/api`: the documented API and the documentation itself."""
    routes = [(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item]
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api"):
            routes += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return routes


def coverage(served: list[tuple[str, str]], reference: list[tuple[str, str, str]]) -> list[DomainCoverage]:
    """For each domain of Metabase's list: its endpoints that querybase serves and those it does not."""
    served_keys = {_route_key(m, path) for m, path in served}
    domains: dict[str, DomainCoverage] = {}
    for method, path, domain in reference:
        report = domains.setdefault(domain, DomainCoverage(domain))
        (report.implemented if _route_key(method, path) in served_keys else report.missing).append(
            f"{method} {path}"
        )
    return sorted(domains.values(), key=lambda d: (-len(d.implemented), d.domain))


def extra_routes(served: list[tuple[str, str]], reference: list[tuple[str, str, str]]) -> list[str]:
    """What querybase serves that Metabase's list does not name (older or undocumented endpoints)."""
    known = {_route_key(m, p) for m, p, _ in reference}
    return [f"{m} {path}" for m, path in served if _route_key(m, path) not in known]


def coverage_text(report: list[DomainCoverage], extras: list[str]) -> str:
    """What `querybase api-coverage` prints: per domain, implemented / total and what is missing."""
    implemented = sum(len(d.implemented) for d in report)
    total = sum(d.total for d in report)
    lines = [f"Metabase's open-source API: {implemented} of {total} endpoints implemented", ""]
    for domain in report:
        lines.append(f"{domain.domain}: {len(domain.implemented)}/{domain.total}")
        lines += [f"  missing {endpoint}" for endpoint in domain.missing]
    lines += ["", f"Served beyond Metabase's list: {len(extras)}"]
    lines += [f"  {endpoint}" for endpoint in extras]
    return "\n".join(lines) + "\n"


def coverage_markdown(report: list[DomainCoverage]) -> str:
    """The README's table: one row per domain, complete domains first."""
    implemented = sum(len(d.implemented) for d in report)
    total = sum(d.total for d in report)
    lines = [
        f"{implemented} of the {total} endpoints of Metabase's open-source API are implemented:",
        "",
        "| domain | implemented | of |",
        "|---|---|---|",
    ]
    lines += [f"| `{d.domain}` | {len(d.implemented)} | {d.total} |" for d in report]
    return "\n".join(lines) + "\n"
