"""The settings registry: each setting declared once with `defsetting()`, read and written through `Settings`.

A declaration gives Metabase's kebab-case key, the value type, the default, who may read it, its
description and whether it is sensitive. The environment variable is derived from the key
(`site-name` → `MB_SITE_NAME`), never typed by hand; when it is set it wins over the stored value and the
setting becomes read-only through the API.

Values live in the `setting` table as text, as in Metabase. There is no process-wide cache: a `Settings`
object reads the whole table once per transaction of its session, so several server processes sharing
an app database see each other's committed changes on their next transaction, at the price of one
small SELECT per transaction that reads settings.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import functools
import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from querybase import jsonutil
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
# Runs after a write through the API changed the value, with the new value (Metabase's custom setters do
# such side effects, e.g. turning embedding on creates the embedding secret key).
OnChange = Callable[["Settings", Any], None]


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
    # Metabase's `can-read-from-env?`: false for values only the server may produce (the setup token).
    read_from_env: bool = True
    on_change: OnChange | None = None

    @functools.cached_property
    def env_name(self) -> str:
        """Metabase's rule: drop every character outside [a-zA-Z0-9_-], then `-` → `_`, upper-cased."""
        return "MB_" + re.sub(r"[^a-zA-Z0-9_-]", "", self.key).replace("-", "_").upper()

    def env_value(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The environment's value; an empty variable counts as unset, as in Metabase."""
        if not self.read_from_env:
            return None
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
    read_from_env: bool = True,
    on_change: OnChange | None = None,
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
        read_from_env=read_from_env,
        on_change=on_change,
    )
    if any(d.env_name == definition.env_name for d in REGISTRY.values()):
        raise ValueError(f"setting {key!r} has the same environment variable as another setting")
    REGISTRY[key] = definition
    return definition


def resolve_key(key: str) -> SettingDef | None:
    """The declaration for `key`; clients may spell keys in snake_case, as Metabase accepts."""
    return REGISTRY.get(key) or REGISTRY.get(key.replace("_", "-"))


def definition_of(key: str) -> SettingDef:
    """The declaration for `key`, or Metabase's "Unknown setting" error (naming the kebab-case key, the
    keyword Metabase looked up)."""
    definition = resolve_key(key)
    if definition is None:
        raise BadRequest(f"Unknown setting: :{key.replace('_', '-')}")
    return definition


_INTEGER = re.compile(r"[+-]?[0-9]+")
_API_INTEGER = re.compile(r"-?[0-9]+")
_DOUBLE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Kinds whose empty string means "no value", as Metabase's string setter treats "".
_BLANK_IS_NONE = (Kind.STRING, Kind.KEYWORD, Kind.TIMESTAMP, Kind.CSV)


def parse(kind: Kind, raw: str) -> Any:
    """A stored or environment string → its typed value, or ValueError. Strict like Metabase's parsers:
    booleans are true/false in any case (not yes/1/on), integers as Java's Long.parseLong reads them."""
    if kind is Kind.BOOLEAN:
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError('Invalid value for string: must be either "true" or "false" (case-insensitive).')
    if kind is Kind.INTEGER:
        if not _INTEGER.fullmatch(raw):
            raise ValueError(f"Invalid value for integer: {_shown(raw)}")
        return int(raw)
    if kind is Kind.DOUBLE:
        if not _DOUBLE.fullmatch(raw.strip()):
            raise ValueError(f"Invalid value for double: {_shown(raw)}")
        return float(raw)
    if kind is Kind.JSON:
        return jsonutil.decode(raw)
    if kind is Kind.CSV:
        return next(csv.reader(io.StringIO(raw)), [])
    return raw


def _shown(value: Any) -> str:
    """A rejected value as the client sent it (JSON), for error messages."""
    try:
        return jsonutil.encode(value).decode()
    except TypeError:
        return repr(value)


def coerce(kind: Kind, value: Any) -> Any:
    """A value sent through the API → its typed value, or ValueError with the reason."""
    if value is None or kind is Kind.JSON:
        return value
    if value == "" and kind in _BLANK_IS_NONE:
        return None
    if kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return parse(kind, value)
    elif kind is Kind.INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _API_INTEGER.fullmatch(value):
            with contextlib.suppress(ValueError):  # thousands of digits, more than `int()` reads: refused
                return int(value)
    elif kind is Kind.DOUBLE:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _DOUBLE.fullmatch(value):
            return float(value)
    elif kind is Kind.CSV:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if isinstance(value, str):
            return parse(kind, value)
    elif isinstance(value, str):
        return value
    raise ValueError(f"Invalid value for {kind.value}: {_shown(value)}")


def serialize(kind: Kind, value: Any) -> str:
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    if kind is Kind.JSON:
        return jsonutil.encode(value).decode()
    if kind is Kind.CSV:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(value)
        return out.getvalue()
    return str(value)


OBFUSCATED = re.compile(r"\*{10}.{2}")


def obfuscate(value: Any) -> Any:
    """Sensitive values leave the server as Metabase shows them: ten stars and the last two characters."""
    if value is None or value == "":
        return value
    text = str(value)
    return "**********" + text[-2:]


# Built once: SQLAlchemy memoizes a statement's cache key, and this one runs in most requests. Of the
# table, not the ORM class: a Core statement skips the ORM's execution steps (it then does not flush the
# session first, and need not: settings are only ever written with statements, which run at once).
_STORED = select(Setting.__table__.c.key, Setting.__table__.c.value)


class Settings:
    """Setting values through one app-DB session (a request, or a job): environment first, then the
    `setting` table as the session's current transaction sees it, then the default."""

    def __init__(self, db: Session, environ: Mapping[str, str] | None = None) -> None:
        self.db = db
        self.environ = os.environ if environ is None else environ
        self._stored: dict[str, str] = {}
        self._read_in: SessionTransaction | None = None

    def _rows(self) -> dict[str, str]:
        """The stored values as this transaction sees them: read again in each new transaction of the
        session, so a long-lived object never serves another process's overwritten value."""
        transaction = self.db.get_transaction()
        if transaction is None or transaction is not self._read_in:
            rows = self.db.execute(_STORED).tuples().all()
            # Metabase treats an empty stored string as no value.
            self._stored = {key: value for key, value in rows if value != ""}
            self._read_in = self.db.get_transaction()
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
        if definition.on_change is None:
            self.write(definition.key, value)
            return
        before = self.get(definition.key)
        self.write(definition.key, value)
        after = self.get(definition.key)
        if after != before:
            definition.on_change(self, after)

    def write(self, key: str, value: Any) -> None:
        """Store a value without the API's checks: for the server's own bookkeeping (setup token, ...)."""
        definition = definition_of(key)
        rows = self._rows()
        if value is None:
            self.db.execute(delete(Setting).where(Setting.key == definition.key))
            rows.pop(definition.key, None)
            return
        text = serialize(definition.kind, value)
        self._upsert(definition.key, text)
        rows[definition.key] = text

    def _upsert(self, key: str, text: str) -> None:
        """Update the row, or insert it; when another process inserts the same key first (its insert
        wins the unique index), update the row it committed instead of failing the request."""
        change = update(Setting).where(Setting.key == key).values(value=text)
        if self.db.execute(change).rowcount:
            return
        try:
            with self.db.begin_nested():
                self.db.execute(insert(Setting).values(key=key, value=text))
        except IntegrityError:
            self.db.execute(change)
