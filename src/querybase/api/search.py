"""`/api/search`: find cards, models, metrics, dashboards, collections, tables, databases, segments."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["search"])
