"""The settings registry: each setting declared once with `defsetting()`, read and written through `Settings`.

A declaration gives Metabase's kebab-case key, the value type, the default, who may read it, its
description and whether it is sensitive. The environment variable is derived from the key
(`site-name` → `MB_SITE_NAME`), never typed by hand; when it is set it wins over the stored value and the
setting becomes read-only through the API.

Values live in the `setting` table as text, as in Metabase. There is no process-wide cache: a `Settings`
object reads the whole table once, on first use, and lives for one request (or one job). So several
server processes sharing an app database always see each other's changes on their next request, at
the price of one small SELECT per request that reads settings.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from querybase.errors import BadRequest
from querybase.models.setting import Setting


class Visibility(enum.StrEnum):
    """Who may read a setting (Metabase's `:visibility`), from most to least open."""

    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    SETTINGS_MANAGER = "settings-manager"
    ADMIN = "admin"
    INTERNAL = "internal"


class Kind(enum.StrEnum):
    """How a value is stored as text and parsed back (Metabase's setting `:type`)."""

    STRING = "string"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    DOUBLE = "double"
    JSON = "json"
    KEYWORD = "keyword"
    TIMESTAMP = "timestamp"
    CSV = "csv"


Getter = Callable[["Settings"], Any]
Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class SettingDef:
    key: str
    kind: Kind
    default: Any
    visibility: Visibility
    description: str | None
    sensitive: bool = False
    # Computed settings (`version`, `has-user-setup`, ...) have a getter and cannot be written.
    getter: Getter | None = None
    writable: bool = True
    # User-local settings are stored per user (core_user.settings) and any user may write their own.
    user_local: bool = False
    # Checks (and may normalise) a new value; raises ValueError with the message for the 400.
    validate: Validator | None = None

    @property
    def env_name(self) -> str:
        return "MB_" + self.key.replace("-", "_").rstrip("?").upper()

    def env_value(self, environ: Mapping[str, str] | None = None) -> str | None:
        raw = (os.environ if environ is None else environ).get(self.env_name)
        return raw if raw not in (None, "") else None


REGISTRY: dict[str, SettingDef] = {}


def defsetting(
    key: str,
    kind: Kind,
    *,
    default: Any = None,
    visibility: Visibility = Visibility.ADMIN,
    description: str | None = None,
    sensitive: bool = False,
    getter: Getter | None = None,
    writable: bool | None = None,
    user_local: bool = False,
    validate: Validator | None = None,
) -> SettingDef:
    """Declare a setting. Declaring the same key twice is a programming error."""
    if key in REGISTRY:
        raise ValueError(f"setting {key!r} is declared twice")
    definition = SettingDef(
        key=key,
        kind=kind,
        default=default,
        visibility=visibility,
        description=description,
        sensitive=sensitive,
        getter=getter,
        writable=getter is None if writable is None else writable,
        user_local=user_local,
        validate=validate,
    )
    REGISTRY[key] = definition
    return definition


def resolve_key(key: str) -> SettingDef | None:
    """The declaration for `key`; clients may spell keys in snake_case, as Metabase accepts."""
    return REGISTRY.get(key) or REGISTRY.get(key.replace("_", "-"))


def definition_of(key: str) -> SettingDef:
    """The declaration for `key`, or Metabase's "Unknown setting" error."""
    definition = resolve_key(key)
    if definition is None:
        raise BadRequest(f"Unknown setting: :{key}")
    return definition


def parse(kind: Kind, raw: str) -> Any:
    """A stored or environment string → its typed value."""
    if kind is Kind.BOOLEAN:
        lowered = raw.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError('Invalid value for string: must be either "true" or "false" (case-insensitive).')
    if kind is Kind.INTEGER:
        return int(raw)
    if kind is Kind.DOUBLE:
        return float(raw)
    if kind is Kind.JSON:
        return orjson.loads(raw)
    if kind is Kind.CSV:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def coerce(kind: Kind, value: Any) -> Any:
    """A value sent through the API → its typed value, or ValueError with the reason."""
    if value is None or kind in (Kind.JSON,):
        return value
    if kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return parse(kind, value)
        raise ValueError(f"Invalid value for boolean: {value!r}")
    if kind is Kind.INTEGER:
        if isinstance(value, bool):
            raise ValueError(f"Invalid value for integer: {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError(f"Invalid value for integer: {value!r}")
    if kind is Kind.DOUBLE:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Invalid value for double: {value!r}") from exc
    if kind is Kind.CSV and isinstance(value, list):
        return [str(v) for v in value]
    if not isinstance(value, str):
        raise ValueError(f"Invalid value for {kind.value}: {value!r}")
    return value


def serialize(kind: Kind, value: Any) -> str:
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.JSON:
        return orjson.dumps(value).decode()
    if kind is Kind.CSV:
        return ",".join(value)
    return str(value)


OBFUSCATED = re.compile(r"\*{10}.{2}")


def obfuscate(value: Any) -> Any:
    """Sensitive values leave the server as Metabase shows them: ten stars and the last two characters."""
    if value is None or value == "":
        return value
    text = str(value)
    return "**********" + text[-2:]


class Settings:
    """Setting values for one request: environment first, then the `setting` table, then the default."""

    def __init__(self, db: Session, environ: Mapping[str, str] | None = None) -> None:
        self.db = db
        self.environ = os.environ if environ is None else environ
        self._stored: dict[str, str] | None = None

    def _rows(self) -> dict[str, str]:
        if self._stored is None:
            self._stored = dict(self.db.execute(select(Setting.key, Setting.value)).tuples().all())
        return self._stored

    def get(self, key: str) -> Any:
        definition = definition_of(key)
        if definition.getter is not None:
            return definition.getter(self)
        raw = definition.env_value(self.environ)
        if raw is None:
            raw = self._rows().get(definition.key)
        if raw is None:
            return definition.default
        try:
            return parse(definition.kind, raw)
        except ValueError:
            return definition.default

    def stored(self, key: str) -> str | None:
        """The raw stored text, ignoring the environment and the default."""
        return self._rows().get(definition_of(key).key)

    def is_env_setting(self, key: str) -> bool:
        return definition_of(key).env_value(self.environ) is not None

    def set(self, key: str, value: Any) -> None:
        """Store a new value (None resets to the default). Raises BadRequest when it cannot be set."""
        definition = definition_of(key)
        if not definition.writable:
            raise BadRequest(f"You cannot set {definition.key}; it is a read-only setting.")
        # Metabase quietly stores the value and lets the environment keep winning; querybase refuses, so
        # that a script learns its change has no effect.
        if self.is_env_setting(definition.key):
            raise BadRequest(
                f"You cannot set {definition.key}; its value is set by the environment variable "
                f"{definition.env_name}."
            )
        # Clients send back the obfuscated value they were shown; Metabase reads that as "unchanged".
        if definition.sensitive and isinstance(value, str) and OBFUSCATED.fullmatch(value):
            return
        try:
            value = coerce(definition.kind, value)
            if definition.validate is not None and value is not None:
                value = definition.validate(value)
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        self.write(definition.key, value)

    def write(self, key: str, value: Any) -> None:
        """Store a value without the API's checks: for the server's own bookkeeping (setup token, ...)."""
        definition = definition_of(key)
        rows = self._rows()
        self.db.execute(delete(Setting).where(Setting.key == definition.key))
        if value is None:
            rows.pop(definition.key, None)
            return
        text = serialize(definition.kind, value)
        self.db.add(Setting(key=definition.key, value=text))
        self.db.flush()
        rows[definition.key] = text
