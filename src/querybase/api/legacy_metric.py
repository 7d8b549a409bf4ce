"""`/api/metric`: legacy (v1) metrics, as Metabase's API tutorial lists them."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["legacy-metric"])
