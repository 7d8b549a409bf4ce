"""`/api/health`: liveness for load balancers and orchestrators (no auth).

Its answer's shape is declared here rather than taken from `api/shapes.py`: this is the first endpoint a
starting server is asked for, and importing every endpoint's shapes would make that first answer wait."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["health"])


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str


@router.get("", responses={200: {"model": Health}})
async def get_health() -> dict[str, str]:
    """`{"status": "ok"}` once the server has started (migrations applied)."""
    return {"status": "ok"}
