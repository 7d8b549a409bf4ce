"""`/api/setting`: read and change settings (admins; anyone may change their own user-local settings)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from querybase.api import shapes
from querybase.api.deps import CurrentUser, SettingsDep, SuperUser
from querybase.api.routing import MetabaseRoute
from querybase.api.schema import MbType
from querybase.errors import check_403
from querybase.models.user import User
from querybase.settings.registry import (
    REGISTRY,
    SettingDef,
    Settings,
    Visibility,
    definition_of,
    obfuscate,
    resolve_key,
)

router = APIRouter(route_class=MetabaseRoute, tags=["setting"])


# Metabase's `[:value :any]`: the key is required (null is a value: it resets the setting).
ANYTHING = MbType("anything", lambda _value: [])


class SettingValueBody(BaseModel):
    value: Annotated[Any, ANYTHING]


def user_facing_value(settings: Settings, definition: SettingDef) -> Any:
    """What the API shows: null when set by the environment or equal to the default, obfuscated when
    sensitive (Metabase's rules)."""
    if settings.is_env_setting(definition.key):
        return None
    value = settings.get(definition.key)
    # Clojure's `=`: a computed value equal to the default shows as null too, but 1 is not true.
    if value == definition.default and type(value) is type(definition.default):
        return None
    return obfuscate(value) if definition.sensitive else value


def _listed(definition: SettingDef) -> bool:
    return definition.visibility is not Visibility.INTERNAL


@router.get("", responses=shapes.ok(list[shapes.SettingEntry]))
def list_settings(admin: SuperUser, settings: SettingsDep) -> list[dict[str, Any]]:
    """Every setting an admin can change, sorted by key, with its value, default and environment variable."""
    items = []
    for key, definition in sorted(REGISTRY.items()):
        if not _listed(definition):
            continue
        env_set = settings.is_env_setting(key)
        items.append(
            {
                "key": key,
                "value": user_facing_value(settings, definition),
                "is_env_setting": env_set,
                "env_name": definition.env_name,
                "description": definition.description,
                "default": f"Using value of env var ${definition.env_name}"
                if env_set
                else definition.default,
            }
        )
    return items


def _writable_definition(key: str, user: User) -> SettingDef:
    """The declaration behind `key` if `user` may write it; otherwise 403 (unknown keys too, for
    non-admins, so they learn nothing). Internal settings are the server's own: nobody writes them here."""
    if not user.is_superuser:
        definition = resolve_key(key)
        check_403(definition is not None and definition.user_local)
    definition = definition_of(key)
    check_403(_listed(definition))
    return definition


@router.get(
    "/{key}",
    responses={
        **shapes.ok(shapes.SettingValue),
        204: {"description": "The setting is at its default, or set by the environment."},
    },
)
def get_setting(key: str, admin: SuperUser, settings: SettingsDep) -> Any:
    """One setting's value (bare JSON); no content when it is at its default or set by the environment."""
    definition = definition_of(key)
    check_403(_listed(definition))
    value = user_facing_value(settings, definition)
    return Response(status_code=204) if value is None else value


@router.put("/{key}", status_code=204)
def put_setting(key: str, body: SettingValueBody, user: CurrentUser, settings: SettingsDep) -> Response:
    """Set one setting; `null` resets it to its default."""
    definition = _writable_definition(key, user)
    settings.set(definition.key, body.value)
    return Response(status_code=204)


@router.put("", status_code=204)
def put_settings(body: dict[str, Any], user: CurrentUser, settings: SettingsDep) -> Response:
    """Set several settings at once, all or nothing: the request's transaction is rolled back when any
    value is refused."""
    definitions = [_writable_definition(key, user) for key in body]
    for definition, value in zip(definitions, body.values(), strict=True):
        settings.set(definition.key, value)
    return Response(status_code=204)
