"""`/api/collection`: the root, nested, personal collections and the Trash, and their items."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["collection"])
