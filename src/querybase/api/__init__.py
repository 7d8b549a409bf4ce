"""The HTTP API: one module per URL segment under `/api`, mounted from one sorted table.

Each entry gives the prefix and the module's router. Authentication is declared per endpoint with
the `CurrentUser` / `SuperUser` dependencies (`api/deps.py`), since several domains (`session`,
`setup`, `public`) mix anonymous and authenticated endpoints.
"""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api import (
    activity,
    alert,
    api_key,
    bookmark,
    card,
    collection,
    dashboard,
    database,
    dataset,
    email,
    embed,
    field,
    health,
    legacy_metric,
    native_query_snippet,
    notification,
    permissions,
    preview_embed,
    public,
    pulse,
    revision,
    search,
    segment,
    session,
    setting,
    setup,
    table,
    timeline,
    timeline_event,
    user,
    util,
)

# ↓↓↓ KEEP THIS SORTED ↓↓↓
ROUTES: list[tuple[str, APIRouter]] = [
    ("/activity", activity.router),
    ("/alert", alert.router),
    ("/api-key", api_key.router),
    ("/bookmark", bookmark.router),
    ("/card", card.router),
    ("/collection", collection.router),
    ("/dashboard", dashboard.router),
    ("/database", database.router),
    ("/dataset", dataset.router),
    ("/email", email.router),
    ("/embed", embed.router),
    ("/field", field.router),
    ("/health", health.router),
    ("/metric", legacy_metric.router),
    ("/native-query-snippet", native_query_snippet.router),
    ("/notification", notification.router),
    ("/permissions", permissions.router),
    ("/preview_embed", preview_embed.router),
    ("/public", public.router),
    ("/pulse", pulse.router),
    ("/revision", revision.router),
    ("/search", search.router),
    ("/segment", segment.router),
    ("/session", session.router),
    ("/setting", setting.router),
    ("/setup", setup.router),
    ("/table", table.router),
    ("/timeline", timeline.router),
    ("/timeline-event", timeline_event.router),
    ("/user", user.router),
    ("/util", util.router),
]
