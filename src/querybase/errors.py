"""The API's errors, each carrying its HTTP status and the exact body Metabase sends.

Endpoints raise these; one exception handler (`app.py`) renders them. A string body is sent as
`text/plain` (Metabase's `Not found.`, `Unauthenticated`, ...), anything else as JSON. The check helpers
mirror Metabase's `api/common.clj` (`check-404`, `check-403`, `check-400`).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

NOT_FOUND = "Not found."
FORBIDDEN = "You don't have permissions to do that."
UNAUTHENTICATED = "Unauthenticated"
NO_SUCH_ENDPOINT = "API endpoint does not exist."


class ApiError(Exception):
    """An error answered with `status` and `body` (a plain string or a JSON-able value)."""

    status: int = 500

    def __init__(self, body: Any, status: int | None = None) -> None:
        super().__init__(body if isinstance(body, str) else repr(body))
        self.body = body
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400


class Unauthenticated(ApiError):
    status = 401

    def __init__(self, body: Any = UNAUTHENTICATED) -> None:
        super().__init__(body)


class Forbidden(ApiError):
    status = 403

    def __init__(self, body: Any = FORBIDDEN) -> None:
        super().__init__(body)


class NotFound(ApiError):
    status = 404

    def __init__(self, body: Any = NOT_FOUND) -> None:
        super().__init__(body)


class Conflict(ApiError):
    status = 409


class PaymentRequired(ApiError):
    """Metabase answers 402 for Enterprise-only features on its open-source edition."""

    status = 402


def field_errors(errors: dict[str, Any]) -> BadRequest:
    """A 400 with Metabase's manual-check body: `{"errors": {field: message}}`."""
    return BadRequest({"errors": errors})


def check_404(obj: T | None) -> T:
    if obj is None:
        raise NotFound()
    return obj


def check_403(allowed: bool) -> None:
    if not allowed:
        raise Forbidden()


def check_400(ok: bool, body: Any = "Invalid Request.") -> None:
    if not ok:
        raise BadRequest(body)
