"""The HTTP API: one module per URL segment under `/api`, listed in one sorted table.

Each entry names the module that serves a segment. A module is imported when the first request for its
segment arrives (`routing.ApiModules`), not when the server starts: together the modules are most of
querybase's import time, and a server that only answers `/api/health` and the session endpoints never
needs the rest. `routers()` imports them all, for the documentation and the tests.

Authentication is declared per endpoint with the `CurrentUser` / `SuperUser` dependencies
(`api/deps.py`), since several domains (`session`, `setup`, `public`) mix anonymous and authenticated
endpoints.
"""

from __future__ import annotations

from importlib import import_module

from fastapi import APIRouter

# ↓↓↓ KEEP THIS SORTED ↓↓↓
MODULES: dict[str, str] = {
    "activity": "querybase.api.activity",
    "alert": "querybase.api.alert",
    "api-key": "querybase.api.api_key",
    "bookmark": "querybase.api.bookmark",
    "card": "querybase.api.card",
    "collection": "querybase.api.collection",
    "dashboard": "querybase.api.dashboard",
    "database": "querybase.api.database",
    "dataset": "querybase.api.dataset",
    "email": "querybase.api.email",
    "embed": "querybase.api.embed",
    "field": "querybase.api.field",
    "health": "querybase.api.health",
    "metric": "querybase.api.legacy_metric",
    "native-query-snippet": "querybase.api.native_query_snippet",
    "notification": "querybase.api.notification",
    "permissions": "querybase.api.permissions",
    "preview_embed": "querybase.api.preview_embed",
    "public": "querybase.api.public",
    "pulse": "querybase.api.pulse",
    "revision": "querybase.api.revision",
    "search": "querybase.api.search",
    "segment": "querybase.api.segment",
    "session": "querybase.api.session",
    "setting": "querybase.api.setting",
    "setup": "querybase.api.setup",
    "table": "querybase.api.table",
    "timeline": "querybase.api.timeline",
    "timeline-event": "querybase.api.timeline_event",
    "user": "querybase.api.user",
    "util": "querybase.api.util",
}


def router(segment: str) -> APIRouter:
    """The router of `/api/<segment>`, importing its module on first use."""
    return import_module(MODULES[segment]).router


def routers() -> list[tuple[str, APIRouter]]:
    """Every module's router with its prefix (`/card`, ...), importing them all."""
    return [(f"/{segment}", router(segment)) for segment in MODULES]
