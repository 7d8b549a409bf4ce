"""`/api/segment`: named filters on a table, usable in MBQL."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["segment"])
