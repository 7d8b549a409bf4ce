"""The driver interface: what every engine declares (connection form, features, type mapping) and
what it can do for sync (connect, list tables, describe columns and keys).

Engines inherit from `SQLDriver` (`drivers/sql.py`) and override only what differs, as Metabase's
drivers do. Query compilation hooks arrive with the query processor.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar


class Feature(enum.StrEnum):
    """Capabilities, with Metabase's names (they appear in a database's `features`)."""

    BASIC_AGGREGATIONS = "basic-aggregations"
    STANDARD_DEVIATION = "standard-deviation-aggregations"
    EXPRESSIONS = "expressions"
    EXPRESSION_AGGREGATIONS = "expression-aggregations"
    NATIVE_PARAMETERS = "native-parameters"
    NESTED_QUERIES = "nested-queries"
    BINNING = "binning"
    CASE_SENSITIVITY = "case-sensitivity-string-filter-options"
    LEFT_JOIN = "left-join"
    RIGHT_JOIN = "right-join"
    INNER_JOIN = "inner-join"
    FULL_JOIN = "full-join"
    REGEX = "regex"
    PERCENTILE = "percentile-aggregations"
    ADVANCED_MATH = "advanced-math-expressions"
    DATETIME_DIFF = "datetime-diff"
    NOW = "now"
    CONVERT_TIMEZONE = "convert-timezone"
    SET_TIMEZONE = "set-timezone"
    SCHEMAS = "schemas"
    TEMPORAL_EXTRACT = "temporal-extract"
    DATE_ARITHMETICS = "date-arithmetics"
    WINDOW_FUNCTIONS_CUMULATIVE = "window-functions/cumulative"
    WINDOW_FUNCTIONS_OFFSET = "window-functions/offset"
    DISTINCT_WHERE = "distinct-where"
    SAVED_QUESTION_SANDBOXING = "saved-question-sandboxing"
    NESTED_FIELD_COLUMNS = "nested-field-columns"
    KEY_CONSTRAINTS = "metadata/key-constraints"


@dataclass(frozen=True)
class ConnectionProperty:
    """One field of the admin's connection form (Metabase's `details-fields`)."""

    name: str
    display_name: str
    type: str = "string"
    default: Any = None
    placeholder: Any = None
    required: bool = False
    helper_text: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "display-name": self.display_name}
        if self.type != "string":
            data["type"] = self.type
        for key, value in (
            ("default", self.default),
            ("placeholder", self.placeholder),
            ("helper-text", self.helper_text),
        ):
            if value is not None:
                data[key] = value
        if self.required:
            data["required"] = True
        return data


HOST = ConnectionProperty("host", "Host", default="localhost", placeholder="name.database.com")
DBNAME = ConnectionProperty("dbname", "Database name", placeholder="birds_of_the_world", required=True)
USER = ConnectionProperty("user", "Username", placeholder="username", required=True)
PASSWORD = ConnectionProperty("password", "Password", type="password", placeholder="••••••••")
SSL = ConnectionProperty("ssl", "Use a secure connection (SSL)", type="boolean", default=False)
ADDITIONAL_OPTIONS = ConnectionProperty(
    "additional-options", "Additional JDBC connection string options", placeholder="prepareThreshold=0"
)


def port(default: int) -> ConnectionProperty:
    return ConnectionProperty("port", "Port", type="integer", placeholder=default)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    database_type: str
    base_type: str
    position: int
    pk: bool = False
    required: bool = False
    auto_increment: bool = False
    description: str | None = None


@dataclass(frozen=True)
class TableInfo:
    schema: str | None
    name: str
    description: str | None = None


@dataclass(frozen=True)
class ForeignKeyInfo:
    column: str
    target_schema: str | None
    target_table: str
    target_column: str


@dataclass(frozen=True)
class ConnectionFailure(Exception):
    """A connection test failed: Metabase's message for the admin, and the form fields to point at."""

    message: str
    errors: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors} if self.errors else {"message": self.message}


# Metabase's connection error messages (driver/util.clj), keyed by what went wrong.
CANNOT_CONNECT = ConnectionFailure(
    "Hmm, we couldn't connect to the database. Make sure your Host and Port settings are correct",
    {"host": "check your host settings", "port": "check your port settings"},
)
INVALID_HOSTNAME = ConnectionFailure(
    "It looks like your Host is invalid. Please double-check it and try again.",
    {"host": "check your host settings"},
)
DATABASE_NAME_INCORRECT = ConnectionFailure(
    "Looks like the Database name is incorrect.", {"dbname": "check your database name settings"}
)
PASSWORD_INCORRECT = ConnectionFailure(
    "Looks like your Password is incorrect.", {"password": "check your password"}
)
USERNAME_INCORRECT = ConnectionFailure(
    "Looks like your Username is incorrect.", {"user": "check your username"}
)
USERNAME_OR_PASSWORD_INCORRECT = ConnectionFailure(
    "Looks like the Username or Password is incorrect.",
    {"user": "check your username", "password": "check your password"},
)
DB_FILE_NOT_FOUND = ConnectionFailure("Database cannot be found.", {"db": "check your connection string"})
PASSWORD_REQUIRED = ConnectionFailure(
    "Looks like you forgot to enter your Password.", {"password": "check your password"}
)
REQUIRES_SSL = ConnectionFailure(
    "Server appears to require SSL - please enable SSL below", {"ssl": "please enable SSL"}
)


class Driver:
    """An engine. Class attributes declare it; methods answer sync's questions about one database."""

    engine: ClassVar[str]
    display_name: ClassVar[str]
    connection_properties: ClassVar[tuple[ConnectionProperty, ...]] = ()
    features: ClassVar[frozenset[Feature]] = frozenset()
    # Connection-property names whose values are secrets, redacted in every answer.
    secret_properties: ClassVar[frozenset[str]] = frozenset({"password"})
    # (regex on the native type, lower-cased) -> base type; first match wins.
    type_map: ClassVar[tuple[tuple[str, str], ...]] = ()
    # (regex on the driver's error text) -> the message shown to the admin.
    error_messages: ClassVar[tuple[tuple[str, ConnectionFailure], ...]] = ()

    def base_type(self, database_type: str) -> str:
        native = database_type.lower()
        for pattern, base_type in self.type_map:
            if re.search(pattern, native):
                return base_type
        return "type/*"

    def humanize_error(self, error: BaseException) -> ConnectionFailure:
        """A driver error as the short message Metabase shows for it."""
        if isinstance(error, ConnectionFailure):
            return error
        text = str(getattr(error, "orig", None) or error)
        for pattern, failure in self.error_messages:
            if re.search(pattern, text, re.IGNORECASE | re.DOTALL):
                return failure
        first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return ConnectionFailure(first_line[:500])

    def engine_json(self) -> dict[str, Any]:
        """The entry in `/api/session/properties` `engines`."""
        return {
            "driver-name": self.display_name,
            "details-fields": [p.to_json() for p in self.connection_properties],
            "superseded-by": None,
            "source": {"type": "official", "contact": None},
            "extra-info": None,
        }
