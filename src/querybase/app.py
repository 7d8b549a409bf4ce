"""`create_app()`: the ASGI application, its middleware, error rendering and routers. No domain logic."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from querybase import METABASE_API_VERSION, __version__, lifecycle, scheduler, sync
from querybase import api as api_modules
from querybase.api.routing import ApiModules, MetabaseRoute
from querybase.config import Config
from querybase.db.engine import AppDB
from querybase.drivers.sql import POOLS
from querybase.errors import NO_SUCH_ENDPOINT, ApiError
from querybase.jsonutil import JSONResponse
from querybase.lifecycle import Prepared

log = logging.getLogger("querybase")

_HEADERS = [
    (b"x-metabase-version", METABASE_API_VERSION.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-xss-protection", b"1; mode=block"),
]
# Unless the endpoint sets its own (autocomplete suggestions may be cached for a minute).
_NO_CACHE = (b"cache-control", b"max-age=0, no-cache, must-revalidate, proxy-revalidate")


def create_app(config: Config | None = None, *, prepared: Prepared | None = None) -> FastAPI:
    """The application. `prepared`: its supervisor already ran `lifecycle.prepare` (a worker process of
    `querybase.server`), so start only syncs the database it names, if any."""
    config = config or Config.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        appdb = AppDB.from_config(config)
        if prepared is None:
            lifecycle.start(appdb, config)
        elif prepared.sync_database_id is not None:
            sync.start_sync(appdb, prepared.sync_database_id)
        app.state.appdb = appdb
        jobs = scheduler.start(appdb, config)
        try:
            yield
        finally:
            jobs.stop()
            sync.wait_for_syncs(timeout=60)
            POOLS.close_all()
            appdb.dispose()

    app = FastAPI(
        title="querybase",
        version=__version__,
        description="An open-source BI server that speaks Metabase's HTTP API.",
        default_response_class=JSONResponse,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/docs/openapi.json",
        redoc_url=None,
    )
    app.state.config = config
    app.router.route_class = MetabaseRoute
    app.router.redirect_slashes = False
    api = ApiModules(api_modules.router, api_modules.MODULES)
    app.router.routes.append(api)

    def openapi() -> dict:
        if app.openapi_schema is None:
            from querybase.api_docs import openapi_document  # with every API module: only when asked

            app.openapi_schema = openapi_document(
                api.openapi_routes(), title=app.title, version=app.version, description=app.description
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _stray_validation_error)
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(MetabaseHeaders)
    app.add_middleware(StripTrailingSlash)
    return app


def render_error(status: int, body: object) -> Response:
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=status)
    return JSONResponse(body, status_code=status)


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return render_error(exc.status, exc.body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    # Metabase answers an unknown path, or a known path with the wrong method, with the same 404.
    if exc.status_code in (404, 405) and request.url.path.startswith("/api"):
        return render_error(404, NO_SUCH_ENDPOINT)
    return render_error(exc.status_code, str(exc.detail))


async def _stray_validation_error(_request: Request, exc: Exception) -> Response:
    """Validation outside a MetabaseRoute (none expected); still Metabase's 400 shape, never a 422."""
    assert isinstance(exc, RequestValidationError)
    return render_error(400, {"errors": {"_error": str(exc.errors())}})


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("error answering %s %s", request.method, request.url.path)
    return render_error(500, {"message": str(exc) or type(exc).__name__})


class StripTrailingSlash:
    """`/api/card/` routes like `/api/card`, as in Metabase (no redirect)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = {**scope, "path": path.rstrip("/") or "/"}
                if scope.get("raw_path"):
                    scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class MetabaseHeaders:
    """Adds `X-Metabase-Version` and Metabase's security headers to every `/api` response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *_HEADERS]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(_NO_CACHE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
