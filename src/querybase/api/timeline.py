"""`/api/timeline`: timelines of events shown on time-series charts."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["timeline"])
