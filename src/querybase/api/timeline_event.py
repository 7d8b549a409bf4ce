"""`/api/timeline-event`: the events of a timeline."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["timeline-event"])
