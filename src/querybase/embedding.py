"""Public sharing and signed embedding: the settings that switch them on, the JWT checks of `/api/embed`,
and the rules for which parameters an embedding app and its viewers may set (Metabase's
`public_sharing/validation.clj`, `embedding/jwt.clj` and `embedding/api/common.clj`).

A token is the embedding app's signed promise: `{"resource": {"question": id} | {"dashboard": id},
"params": {slug: value, ...}, "exp": ...}`, signed HS256 with the `embedding-secret-key` (the 64-character
hex text itself is the HMAC key, as Metabase uses it). Each card and dashboard says per parameter slug whether
it is `enabled` (the token or the viewer may set it), `locked` (only the token sets it) or `disabled` (nobody
does). Everything here runs before the warehouse is queried, so a refused token or parameter never reaches it.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from querybase.errors import BadRequest
from querybase.models.card import Card
from querybase.models.dashboard import Dashboard
from querybase.settings.registry import Settings

# Clock skew allowed on `exp`, `nbf` and `iat`, as Metabase allows it.
LEEWAY_SECONDS = 60
CORRUPT = "Message seems corrupt or manipulated"

# The query errors whose message an anonymous viewer may see (Metabase's `show-in-embeds?` error types);
# any other failure reads "An error occurred while running the query.".
SHOWN_IN_EMBEDS = frozenset({"missing-required-parameter", "invalid-parameter", "unsupported-feature"})
GENERIC_QUERY_ERROR = "An error occurred while running the query."

_SIGNATURE_ONLY: Any = {
    "verify_signature": True,
    **{f"verify_{name}": False for name in ("exp", "nbf", "iat", "aud", "iss", "sub", "jti")},
}
_RESOURCES = {"question": (Card, "Card"), "dashboard": (Dashboard, "Dashboard")}
_NANO_ID_LENGTH = 21


class EmbedError(BadRequest):
    """A refused token or parameter: Metabase answers 400 with the message as plain text."""


# --- Settings -----------------------------------------------------------------------------------------------


def check_public_sharing(settings: Settings) -> None:
    if not settings.get("enable-public-sharing"):
        raise BadRequest("Public sharing is not enabled.")


def share_publicly(db: Session, obj: Card | Dashboard, admin_id: int) -> str:
    """The card's or dashboard's public UUID, made on the first request. Set only where none is set
    yet, so two admins sharing at once get the same link."""
    model = type(obj)
    db.execute(
        update(model)
        .where(model.id == obj.id, model.public_uuid.is_(None))
        .values(public_uuid=str(uuid.uuid4()), made_public_by_id=admin_id)
    )
    db.refresh(obj)
    return str(obj.public_uuid)


def embedding_enabled(settings: Settings) -> bool:
    """Static embedding is on: `enable-embedding-static`, or the older `enable-embedding` that clients
    written for Metabase before 0.51 set (Metabase copies it into the newer setting at startup)."""
    return bool(settings.get("enable-embedding-static") or settings.get("enable-embedding"))


def check_embedding(settings: Settings) -> None:
    if not embedding_enabled(settings):
        raise BadRequest("Embedding is not enabled.")


# --- Tokens -------------------------------------------------------------------------------------------------


def unsign(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a token signed with the embedding secret key; 400 with Metabase's message when the
    token is unsigned (`alg: none`), wrongly signed, tampered with, expired or not yet valid."""
    header = _header(token)
    if not isinstance(header, dict) or not header.get("alg"):
        raise EmbedError("JWT is missing `alg`.")
    if header["alg"] == "none":
        raise EmbedError("JWT `alg` cannot be `none`.")
    key = settings.get("embedding-secret-key")
    if not key:
        raise EmbedError("The embedding secret key has not been set.")
    try:
        # Only the signature here: the time claims are checked below, with Metabase's messages.
        claims = jwt.decode(token, key, algorithms=["HS256"], options=_SIGNATURE_ONLY)
    except jwt.PyJWTError:
        raise EmbedError(CORRUPT) from None
    _check_times(claims)
    return claims


def _header(token: str) -> Any:
    segment = token.split(".", 1)[0]
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        raise EmbedError(CORRUPT) from None


def _check_times(claims: dict[str, Any]) -> None:
    now = time.time()
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for value in (exp, nbf, iat):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise EmbedError(CORRUPT)
    if exp is not None and now > exp + LEEWAY_SECONDS:
        raise EmbedError(f"Token is expired ({_number(exp)})")
    for start in (nbf, iat):
        if start is not None and start > now + LEEWAY_SECONDS:
            raise EmbedError(f"Token is not yet valid ({_number(start)})")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def claim(claims: dict[str, Any], *path: str) -> Any:
    """The value at `path` in the claims; Metabase's 400 when it is missing (null and false count as
    missing; an empty map does not)."""
    value: Any = claims
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None or value is False:
        keypath = " ".join(f":{key}" for key in path)
        raise EmbedError(f"Token is missing value for keypath [{keypath}]")
    return value


def resource_id(db: Session, claims: dict[str, Any], kind: str) -> int:
    """The id of the token's `question` or `dashboard` (a 21-character entity id is looked up)."""
    model, name = _RESOURCES[kind]
    value = claim(claims, "resource", kind)
    if isinstance(value, str) and len(value) == _NANO_ID_LENGTH and not value.isdigit():
        found = db.scalar(select(model.id).where(model.entity_id == value))
        if found is None:
            raise EmbedError("Not found.")
        return found
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EmbedError(f"{name} id should be a positive integer.")
    return value


def token_params(claims: dict[str, Any]) -> dict[str, Any]:
    params = claim(claims, "params")
    if not isinstance(params, dict):
        raise EmbedError("Token params must be a map.")
    return params


# --- Parameters ---------------------------------------------------------------------------------------------


def query_string_params(items: list[tuple[str, str]], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A viewer's parameter values from the URL: a JSON object in `parameters` (Metabase 0.51 and later),
    else one query parameter per slug (a repeated one is a list); an empty value means "no value"."""
    values: dict[str, Any] = {}
    for key, value in items:
        if key in drop:
            continue
        if key in values:
            previous = values[key]
            values[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[key] = value
    encoded = values.get("parameters")
    if isinstance(encoded, str):
        try:
            decoded = json.loads(encoded)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            values = decoded
    return {str(key): (None if value == "" else value) for key, value in values.items()}


def _has_value(value: Any) -> bool:
    """Metabase ignores blank strings when checking who set what."""
    return not (isinstance(value, str) and not value.strip())


def merge_params(
    embedding_params: Any, from_token: dict[str, Any], from_viewer: dict[str, Any]
) -> dict[str, Any]:
    """The parameter values to apply, keyed by slug, once the object's `embedding_params` allow them:
    locked ones only from the token, enabled ones from the token or the viewer (not both), disabled and
    unknown ones from nobody. Token values win; blank strings and empty lists mean no value."""
    allowed: dict[str, Any] = embedding_params if isinstance(embedding_params, dict) else {}
    token = {k: v for k, v in from_token.items() if _has_value(v)}
    viewer = {k: v for k, v in from_viewer.items() if _has_value(v)}
    given = {**token, **viewer}
    for slug, status in allowed.items():
        if status == "disabled":
            if slug in given:
                raise EmbedError(f"You're not allowed to specify a value for :{slug}.")
        elif status == "enabled":
            if slug in token and slug in viewer:
                raise EmbedError(f"You can't specify a value for :{slug} if it's already set in the JWT.")
        elif status == "locked":
            if slug not in token:
                raise EmbedError(f"You must specify a value for :{slug} in the JWT.")
            if slug in viewer:
                raise EmbedError(f"You can only specify a value for :{slug} in the JWT.")
        else:
            raise EmbedError(f"No matching clause: {status}")
    for slug in given:
        if slug not in allowed:
            raise EmbedError(f"Unknown parameter :{slug}.")
    # Only values that passed the checks: a blank one counts as not given, so it cannot slip past them.
    merged = {**viewer, **token}
    return {k: None if isinstance(v, list | dict) and not v else v for k, v in merged.items()}


def pr_str(value: Any) -> str:
    """A value as Clojure's `pr-str` shows it in Metabase's messages (`nil`, `"text"`)."""
    return "nil" if value is None else json.dumps(value, ensure_ascii=False)


def _is_operator(parameter_type: Any) -> bool:
    return isinstance(parameter_type, str) and parameter_type.startswith(("number/", "string/"))


def card_parameter_values(parameters: list[dict[str, Any]], by_slug: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's parameters that have a value (null included: it clears a default), with that value;
    operator parameters take a list."""
    applied = []
    for parameter in parameters:
        slug = parameter.get("slug")
        if slug not in by_slug:
            continue
        value = by_slug[slug]
        if value is not None and _is_operator(parameter.get("type")) and not isinstance(value, list):
            value = [value]
        applied.append(
            {"type": parameter.get("type"), "target": parameter.get("target"), "slug": slug, "value": value}
        )
    return applied


def dashboard_parameter_values(dashboard: Dashboard, by_slug: dict[str, Any]) -> list[dict[str, Any]]:
    """Slug-keyed values as the `{id, value}` parameters a dashboard card runs with."""
    slug_to_id = {p.get("slug"): p.get("id") for p in dashboard.parameters or [] if isinstance(p, dict)}
    sent = []
    for slug, value in by_slug.items():
        if slug not in slug_to_id:
            found = " ".join(pr_str(s) for s in slug_to_id)
            raise EmbedError(f"No matching parameter with slug {pr_str(slug)}. Found: ({found})")
        sent.append({"id": slug_to_id[slug], "slug": slug, "value": value})
    return sent


def visible_parameters(
    parameters: list[dict[str, Any]], embedding_params: Any, from_token: dict[str, Any]
) -> list[dict[str, Any]]:
    """The parameters a viewer gets a widget for: enabled ones the token does not set."""
    allowed = embedding_params if isinstance(embedding_params, dict) else {}
    return [
        p for p in parameters if allowed.get(p.get("slug")) == "enabled" and p.get("slug") not in from_token
    ]
