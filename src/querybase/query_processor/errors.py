"""Query errors: each carries Metabase's `error_type`, which decides how the failure is reported
(`{"status": "failed", "error": ..., "error_type": ...}`) and whether an embedded viewer sees the message."""

from __future__ import annotations

from typing import ClassVar


class QueryError(Exception):
    """A query that cannot run. `error_type` values are Metabase's (`query_processor/error_type.clj`)."""

    error_type: ClassVar[str] = "qp"
    # Client errors are the user's to fix and safe to show in embeds; server errors are not.
    show_in_embeds: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidQuery(QueryError):
    error_type = "invalid-query"
    show_in_embeds = True


class MissingRequiredParameter(QueryError):
    error_type = "missing-required-parameter"
    show_in_embeds = True


class MissingPermissions(QueryError):
    error_type = "missing-required-permissions"
    show_in_embeds = True


class UnsupportedFeature(QueryError):
    error_type = "unsupported-feature"
    show_in_embeds = True


class DatabaseError(QueryError):
    """The warehouse refused or failed the query."""

    error_type = "db"


class QueryTimeout(QueryError):
    error_type = "timed-out"
