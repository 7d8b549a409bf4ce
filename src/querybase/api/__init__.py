"""The HTTP API: one module per URL segment under `/api`, mounted from one sorted table.

Each entry gives the prefix and the module's router. Authentication is declared per endpoint with
the `CurrentUser` / `SuperUser` dependencies (`api/deps.py`), since several domains (`session`,
`setup`, `public`) mix anonymous and authenticated endpoints.
"""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api import (
    api_key,
    database,
    dataset,
    field,
    health,
    permissions,
    session,
    setting,
    setup,
    table,
    user,
)

# ↓↓↓ KEEP THIS SORTED ↓↓↓
ROUTES: list[tuple[str, APIRouter]] = [
    ("/api-key", api_key.router),
    ("/database", database.router),
    ("/dataset", dataset.router),
    ("/field", field.router),
    ("/health", health.router),
    ("/permissions", permissions.router),
    ("/session", session.router),
    ("/setting", setting.router),
    ("/setup", setup.router),
    ("/table", table.router),
    ("/user", user.router),
]
