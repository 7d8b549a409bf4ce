"""`/api/health`: liveness for load balancers and orchestrators (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api import shapes
from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["health"])


@router.get("", responses=shapes.ok(shapes.Health))
def get_health() -> dict[str, str]:
    """`{"status": "ok"}` once the server has started (migrations applied)."""
    return {"status": "ok"}
