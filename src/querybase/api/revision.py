"""`/api/revision`: the history of cards, dashboards, segments and legacy metrics, and reverting."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["revision"])
