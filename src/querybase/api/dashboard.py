"""`/api/dashboard`: dashboards, their tabs and cards, and running a dashboard's cards."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["dashboard"])
