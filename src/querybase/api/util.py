"""`/api/util`: Metabase's odds and ends that belong nowhere else (no auth, as in Metabase)."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api import shapes
from querybase.api.routing import MetabaseRoute
from querybase.settings.definitions import new_embedding_secret_key

router = APIRouter(route_class=MetabaseRoute, tags=["util"])


@router.get("/random_token", responses=shapes.ok(shapes.RandomToken))
def random_token() -> dict[str, str]:
    """A fresh random 256-bit token as 64 hex characters, for an admin choosing an `embedding-secret-key`."""
    return {"token": new_embedding_secret_key()}
