"""The query processor's permission step: may the user behind the query run it? (The rules live in
`permissions/query.py`.) Endpoints say what is being run through `ctx.info`: `"card-id"`, the saved
question (its collection decides rather than ad-hoc data permissions), or `"filter-values"`, the values
of a dashboard filter (only blocked tables are refused)."""

from __future__ import annotations

from typing import Any

from querybase.permissions.query import check_query_permissions
from querybase.query_processor.context import QueryContext

CARD_ID = "card-id"
FILTER_VALUES = "filter-values"


def check(ctx: QueryContext, query: dict[str, Any]) -> None:
    """Raise `MissingPermissions` unless `ctx.user` may run the normalized `query`."""
    check_query_permissions(
        ctx.db,
        ctx.user,
        query,
        database_id=ctx.database.id,
        card_id=ctx.info.get(CARD_ID),
        filter_values=bool(ctx.info.get(FILTER_VALUES)),
    )
