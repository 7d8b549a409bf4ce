"""`/api/native-query-snippet`: named SQL fragments for `{{snippet: name}}`."""

from __future__ import annotations

from fastapi import APIRouter

from querybase.api.routing import MetabaseRoute

router = APIRouter(route_class=MetabaseRoute, tags=["native-query-snippet"])
