"""`/api/card`: saved questions, models and metrics."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["card"])
