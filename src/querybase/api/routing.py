"""The route class every querybase endpoint uses: it turns pydantic's validation errors into
Metabase's 400 body, `{"errors": {...}, "specific-errors": {...}}`.

FastAPI's exception handlers are app-wide and see only the error list; the route knows its own
body model and query parameters, so it can look up the Metabase description (`api/schema.py`)
of each failing field.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import types
import typing
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import get_typed_signature
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, get_route_path
from starlette.types import Receive, Scope, Send

from querybase import jsonutil
from querybase.api.schema import MISSING, MbType, is_long, parse_integer, received
from querybase.errors import NO_SUCH_ENDPOINT, BadRequest, Forbidden, NotFound
from querybase.jsonutil import JSONResponse
from querybase.longs import INT32_MAX

_SIMPLE_DESCRIPTIONS = {str: "string", int: "integer", bool: "boolean", float: "number", dict: "map"}
# What FastAPI answers (as a bare 400) when a body is not even text, e.g. invalid UTF-8.
_UNPARSABLE_BODY = "There was an error parsing the body"
# A GET only reads (Metabase's API keeps that rule too).
_READS = frozenset({"GET", "HEAD"})

# Whether this request's app-DB transaction is read-only (`read_only`), and whether its reads may run on
# the event loop (`on_loop`, `quick`): decided once when the request reaches its route.
_READ_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("qb_read_only", default=False)
_ON_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("qb_on_loop", default=False)


def read_only() -> bool:
    """Whether the current request's app-DB transaction only reads: a GET's, or a `reads_only` endpoint's.
    On SQLite such a transaction does not take the write lock, so these requests run side by side."""
    return _READ_ONLY.get()


def on_loop() -> bool:
    """Whether the current request may read the app DB right on the event loop, without a trip to a
    worker thread: its transaction is read-only, the app DB is a local SQLite file and a pooled connection
    is free (`AppDB.quick_read`). Each trip between the loop and a worker thread costs more than such a
    read, and under load the trip's hand-over of the GIL between threads costs more again. A networked
    app DB, a write (which may wait for SQLite's write lock) or a wait for a connection must not hold up
    the loop, so those still go to a worker thread."""
    return _ON_LOOP.get()


def reads_only(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Marks an endpoint that only reads the app DB though it is not a GET (Metabase's query endpoints take
    their query in a POST body): its transaction is read-only, as a GET's, and refuses any write."""
    endpoint.qb_reads_only = True  # type: ignore[attr-defined]
    return endpoint


def quick(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a synchronous GET endpoint that only reads the app DB, and little of it: when `on_loop()` it
    runs on the event loop instead of in a worker thread. Never for an endpoint that may reach a connected
    database or do anything else slow: while it runs, the process answers nothing else."""
    endpoint.qb_quick = True  # type: ignore[attr-defined]
    return endpoint


class MetabaseRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # No response model from the return annotation: FastAPI would validate every answer against
        # it (in one more worker-thread trip for a synchronous endpoint) only to learn it is a dict.
        if isinstance(kwargs.get("response_model"), DefaultPlaceholder) or "response_model" not in kwargs:
            kwargs["response_model"] = None
        self.reads_only = getattr(endpoint, "qb_reads_only", False)
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _finishing(endpoint, kwargs.get("status_code"), getattr(endpoint, "qb_quick", False))
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        int_params = [
            p.alias for p in self.dependant.path_params if _unwrap(p.field_info.annotation)[0] is int
        ]

        async def route_handler(request: Request) -> Response:
            for name in int_params:
                _check_id(request.path_params.get(name, ""))
            reads = request.method in _READS or self.reads_only
            _READ_ONLY.set(reads)
            _ON_LOOP.set(reads and request.app.state.appdb.quick_read())
            try:
                return await handler(request)
            except Forbidden:
                # Metabase validates the request before the endpoint checks who may call it, so an
                # invalid body is a 400 even for someone who would then be refused.
                invalid = await self._body_errors(request)
                if invalid is not None:
                    raise self.metabase_error(invalid) from None
                raise
            except RequestValidationError as exc:
                raise self.metabase_error(exc) from None
            except HTTPException as exc:
                if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
                    raise BadRequest({"error": _UNPARSABLE_BODY}) from None
                raise

        return route_handler

    async def _body_errors(self, request: Request) -> RequestValidationError | None:
        model = self._body_model()
        if model is None:
            return None
        try:
            body = await request.json()
        except ValueError:
            return None
        try:
            model.model_validate(body if isinstance(body, dict) else {})
        except ValidationError as exc:
            return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        return None

    def metabase_error(self, exc: RequestValidationError) -> Exception:
        raw_errors = list(exc.errors())
        if any(err["loc"][:1] == ("path",) for err in raw_errors):
            # Metabase's typed path parameters are part of its route patterns: `/api/user/abc` is no route.
            return NotFound(NO_SUCH_ENDPOINT)
        malformed = next((e for e in raw_errors if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            return BadRequest({"error": _malformed_json_message(malformed, exc.body)})
        body_model = self._body_model()
        if body_model is not None and any(_is_whole_body_error(e) for e in raw_errors):
            # No body, or not a JSON object: Metabase validates it as an empty map.
            raw_errors = [e for e in raw_errors if not _is_whole_body_error(e)]
            try:
                body_model.model_validate({})
            except ValidationError as empty:
                raw_errors += [{**e, "loc": ("body", *e["loc"])} for e in empty.errors()]
        errors: dict[str, Any] = {}
        specific: dict[str, Any] = {}
        for err in raw_errors:
            where, *loc = err["loc"]
            path = [p for p in loc if not isinstance(p, int)]
            if not path:
                continue
            mb_type, nullable, annotation = self._describe(where, path)
            description = _description(mb_type, annotation)
            if nullable:
                description = "nullable " + description
            value = err.get("input")
            if where == "query" and annotation is int and is_long(number := parse_integer(str(value))):
                value = number  # Metabase decodes a number from the query string before checking it
            if err["type"] == "missing":
                explanation = [received(MISSING, None)]
            elif mb_type is not None:
                explanation = mb_type.explain(value)
            elif isinstance(loc[-1], int) and (item_type := _item_type(annotation)) is not None:
                # One bad value of a list: malli explains it at its place, after a null for each before it.
                _put_item(specific, path, loc[-1], item_type.explain(value))
                _put(errors, path, description, first_wins=True)
                continue
            else:
                explanation = [received(err["msg"], value)]
            _put(errors, path, description, first_wins=True)
            _put(specific, path, explanation, first_wins=False)
        return BadRequest({"errors": errors, "specific-errors": specific})

    def _body_model(self) -> type[BaseModel] | None:
        if self.body_field is None:
            return None
        model = _unwrap(self.body_field.field_info.annotation)[0]
        return model if isinstance(model, type) and issubclass(model, BaseModel) else None

    def _describe(self, where: str, path: list[str]) -> tuple[MbType | None, bool, Any]:
        """The Metabase type, nullability and annotation of the parameter at `where`/`path`."""
        if where == "body":
            model: Any = self._body_model()
            metadata: list[Any] = []
            annotation: Any = model
            nullable = False
            for name in path:
                model = _unwrap(annotation)[0]
                if not (isinstance(model, type) and issubclass(model, BaseModel)):
                    break
                field = _field_by_alias(model, name)
                if field is None:
                    return None, False, None
                annotation, nullable, inner = _unwrap(field.annotation)
                metadata = [*field.metadata, *inner]
            return _mb_type(metadata), nullable, annotation
        params = self.dependant.query_params + self.dependant.header_params + self.dependant.cookie_params
        for param in params:
            if param.alias == path[0] or param.name == path[0]:
                annotation, nullable, inner = _unwrap(param.field_info.annotation)
                return _mb_type([*param.field_info.metadata, *inner]), nullable, annotation
        return None, False, None


async def form_or_json(request: Request) -> dict[str, Any]:
    """The fields of a body sent as a form or as a JSON object (Metabase's downloads take both); JSON that
    does not parse is the 400 any endpoint answers for it, `{"error": "<reason> at <line>:<column>"}`."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return dict(await request.form())
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise BadRequest({"error": f"{exc.msg} at {exc.lineno}:{exc.colno}"}) from None
    except ValueError as exc:
        raise BadRequest({"error": str(exc)}) from None
    return body if isinstance(body, dict) else {}


async def download_fields(
    request: Request, invalid: Callable[[Any], dict[str, Any]]
) -> tuple[list[Any] | None, bool]:
    """`parameters` (a list of maps, or a JSON string of one; None when absent or blank) and `format_rows`
    of a download, sent as a form or as JSON. Parameters of another shape are refused with the 400 body
    `invalid(parameters)` gives: the explanation of the endpoint's own schema."""
    fields = await form_or_json(request)
    parameters = fields.get("parameters")
    if isinstance(parameters, str):
        try:
            parameters = jsonutil.loads(parameters) if parameters.strip() else None
        except ValueError:
            raise BadRequest({"errors": {"parameters": "value must be a valid JSON string."}}) from None
    if parameters is not None and not (
        isinstance(parameters, list) and all(isinstance(p, dict) for p in parameters)
    ):
        raise BadRequest(invalid(parameters))
    return parameters, str(fields.get("format_rows", "false")).lower() == "true"


def _malformed_json_message(error: dict[str, Any], document: Any) -> str:
    """Metabase's text for a body that is not JSON: the parser's complaint `at <line>:<column>`."""
    reason = error.get("ctx", {}).get("error", "Malformed JSON")
    position = error["loc"][1] if len(error["loc"]) > 1 else 0
    if not isinstance(document, str) or not isinstance(position, int):
        return reason
    line = document.count("\n", 0, position) + 1
    column = position - document.rfind("\n", 0, position)
    return f"{reason} at {line}:{column}"


def _finishing(endpoint: Callable[..., Any], status_code: int | None, is_quick: bool) -> Callable[..., Any]:
    """A synchronous endpoint that finishes its request in the worker thread it runs in: renders its
    answer and commits the request's app-DB transaction. Otherwise each would be one more trip between
    the event loop and a worker thread, and such trips are a good part of a small request's cost. A
    commit that fails still fails the request: the answer is only sent once this returns.

    A `quick` endpoint becomes a coroutine that does all that on the event loop when `on_loop()`, and in a
    worker thread otherwise."""
    responses = [
        name
        for name, p in get_typed_signature(endpoint).parameters.items()
        if isinstance(p.annotation, type) and issubclass(p.annotation, Response)
    ]
    status = status_code or 200

    @functools.wraps(endpoint)
    def run_and_finish(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        if not isinstance(result, Response):
            result = Response(status_code=status) if status in (204, 304) else JSONResponse(result, status)
            for (
                name
            ) in responses:  # what the endpoint set on the `Response` it was given, as FastAPI merges it
                given: Response = kwargs[name]
                if given.status_code:
                    result.status_code = given.status_code
                result.headers.raw.extend(given.headers.raw)
        for value in kwargs.values():
            if not isinstance(value, Session):
                continue
            if value.info.get("read_only"):
                value.close()  # nothing to commit: a rollback ends a read-only transaction for less
            else:
                value.commit()
        return result

    if not is_quick:
        return run_and_finish

    @functools.wraps(endpoint)
    async def on_loop_or_thread(*args: Any, **kwargs: Any) -> Any:
        if _ON_LOOP.get():
            return run_and_finish(*args, **kwargs)
        return await run_in_threadpool(run_and_finish, *args, **kwargs)

    return on_loop_or_thread


def _check_id(raw: str) -> None:
    """Metabase's id path parameters are positive integers in the route pattern itself: `/api/user/0`
    matches no route; an id too large for any row is simply not found."""
    value = parse_integer(raw)
    if value is not None:
        if value < 1:
            raise NotFound(NO_SUCH_ENDPOINT)
        if value > INT32_MAX:
            raise NotFound()


def _is_whole_body_error(err: dict[str, Any]) -> bool:
    return tuple(err["loc"]) == ("body",)


def _field_by_alias(model: type[BaseModel], name: str) -> Any:
    for field_name, field in model.model_fields.items():
        if name in (field_name, field.alias):
            return field
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """Strip `Annotated` and `X | None`; say whether None was allowed, and keep the `Annotated`
    metadata met on the way (`NonBlankString | None` carries its MbType inside the union)."""
    nullable = False
    metadata: list[Any] = []
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            metadata.extend(annotation.__metadata__)
            annotation = typing.get_args(annotation)[0]
        elif _is_union(annotation):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return typing.Union[tuple(args)], nullable, metadata  # noqa: UP007 (built from a list)
            annotation = args[0]
        else:
            return annotation, nullable, metadata


def _mb_type(metadata: list[Any]) -> MbType | None:
    return next((item for item in metadata if isinstance(item, MbType)), None)


def _item_type(annotation: Any) -> MbType | None:
    """The MbType of the values of a `list[...]` annotation, if they have one."""
    if typing.get_origin(annotation) is not list:
        return None
    return _mb_type(_unwrap(typing.get_args(annotation)[0])[2])


def _description(mb_type: MbType | None, annotation: Any) -> str:
    if mb_type is not None:
        return mb_type.description
    item_type = _item_type(annotation)
    if item_type is not None:
        return f"sequence of {item_type.description}"  # malli's `[:sequential ...]`
    if _is_union(annotation):
        # Malli describes `[:or :boolean :string]` as "boolean, or string".
        parts = (_unwrap(arg) for arg in typing.get_args(annotation))
        return ", or ".join(_description(_mb_type(inner), arg) for arg, _, inner in parts)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return describe_model(annotation)
    return _SIMPLE_DESCRIPTIONS.get(typing.get_origin(annotation) or annotation, "value")


def describe_model(model: type[BaseModel]) -> str:
    """Metabase's description of a map schema: `map where {:k -> <desc>, :k2 (optional) -> <desc>}`."""
    parts = []
    for name, field in model.model_fields.items():
        annotation, nullable, inner = _unwrap(field.annotation)
        text = _description(_mb_type([*field.metadata, *inner]), annotation)
        optional = "" if field.is_required() else " (optional)"
        parts.append(f":{field.alias or name}{optional} -> <{'nullable ' if nullable else ''}{text}>")
    return "map where {" + ", ".join(parts) + "}"


def _parent(tree: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """The map holding `path`'s last key, made on the way where missing."""
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    return node


def _put_item(tree: dict[str, Any], path: list[str], index: int, explanation: list[str]) -> None:
    """The explanation of the `index`-th value of the list at `path`, beside those of other values."""
    node = _parent(tree, path)
    items = node.get(path[-1])
    if not isinstance(items, list):
        items = node[path[-1]] = []
    items.extend([None] * (index + 1 - len(items)))
    items[index] = explanation


def _put(tree: dict[str, Any], path: list[str], value: Any, *, first_wins: bool) -> None:
    node = _parent(tree, path)
    leaf = path[-1]
    if first_wins:
        node.setdefault(leaf, value)
    elif isinstance(node.get(leaf), list):
        node[leaf].extend(v for v in value if v not in node[leaf])
    else:
        node[leaf] = list(value)


class ApiModules(BaseRoute):
    """All of `/api` as one route that picks the module by the path's first segment (a dict lookup),
    then lets that module's router match among its own few routes.

    Why not `include_router` for each module: FastAPI then tries every route of every module in turn
    for each request (over 150 pattern matches with their bookkeeping), which was a third of a small
    request's time; and every module would be imported at start (`api/__init__.py`). A module's router
    is loaded by the first request for its segment. Documentation still lists every route: see
    `openapi_routes`.
    """

    def __init__(self, load: Callable[[str], APIRouter], segments: Iterable[str]) -> None:
        self.load = load
        self.segments = frozenset(segments)
        self.routers: dict[str, APIRouter] = {}

    def router(self, segment: str) -> APIRouter | None:
        router = self.routers.get(segment)
        if router is None and segment in self.segments:
            router = self.routers[segment] = self.load(segment)
        return router

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        if not path.startswith("/api/"):
            return Match.NONE, {}
        segment = path[5:].partition("/")[0]
        router = self.router(segment)
        if router is None:
            return Match.NONE, {}
        root_path = scope.get("root_path", "")
        return Match.FULL, {
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": f"{root_path}/api/{segment}",
            "endpoint": router,
        }

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["endpoint"](scope, receive, send)

    def openapi_routes(self) -> list[BaseRoute]:
        """Every module's routes under their full paths, for the generated OpenAPI document only."""
        everything = APIRouter()
        for segment in sorted(self.segments):
            router = self.router(segment)
            assert router is not None
            everything.include_router(router, prefix=f"/api/{segment}")
        return everything.routes
