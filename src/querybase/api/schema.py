"""Metabase's API value types (its `ms/NonBlankString`, `ms/Email`, ...) as pydantic annotations that
also carry Metabase's error texts.

When a request fails validation Metabase answers 400 with two maps: `errors`, what each field must be
(`"value must be a non-blank string."`), and `specific-errors`, what was wrong with what was sent
(`["non-blank string, received: \\"\\""]`). Each type here declares both through an `MbType` marker,
which `api/routing.py` reads when it turns pydantic's errors into that body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, TypeAdapter, ValidationError, WithJsonSchema

from querybase.auth.passwords import is_valid_password
from querybase.longs import INT16_MAX, INT32_MAX, LONG_MAX, LONG_MIN, is_long, parse_integer, parse_long

Explain = Callable[[Any], list[str]]


def pr_str(value: Any) -> str:
    """A value as Clojure prints it in Metabase's `received: ...` texts."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f":{k} {pr_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + " ".join(pr_str(v) for v in value) + "]"
    return str(value)


def received(message: str, value: Any) -> str:
    return f"{message}, received: {pr_str(value)}"


MISSING = "missing required key"


@dataclass(frozen=True)
class MbType:
    """Metabase's description of a type, and how to explain a value that does not fit it."""

    description: str
    explain: Explain


def _explain_non_blank(value: Any) -> list[str]:
    if not isinstance(value, str):
        return [received("should be a string", value), received("non-blank string", value)]
    if value == "":
        return [received("should be at least 1 character", value), received("non-blank string", value)]
    return [received("non-blank string", value)]


def _explain_with(check: str) -> Explain:
    def explain(value: Any) -> list[str]:
        if not isinstance(value, str):
            return [received("should be a string", value), received(check, value)]
        return [received(check, value)]

    return explain


def _explain_simple(message: str) -> Explain:
    return lambda value: [received(message, value)]


def non_blank(value: str) -> str:
    """The check behind NonBlankString, for types that add to it (the setup token)."""
    if not value.strip():
        raise ValueError("non-blank string")
    return value


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not EMAIL_RE.match(value):
        raise ValueError("valid email address")
    return value


def _password(value: str) -> str:
    if not is_valid_password(value):
        raise ValueError("valid password that is not too common")
    return value


# Metabase's integer schemas (`int?`, `pos-int?`, `:int`) take a Java long: a JSON integer past 64 bits is
# read as a BigInteger, which none of them accepts, so such an id is a 400 like any other invalid value.
# (Ids within 64 bits that no row has are the app database's to not find: see `db/engine.py`.)
def long_int(value: int) -> int:
    """The bound every integer type of a request has (an `AfterValidator`)."""
    if not LONG_MIN <= value <= LONG_MAX:
        raise ValueError("integer")
    return value


def _positive(value: int) -> int:
    if not 0 < value <= LONG_MAX:
        raise ValueError("value must be an integer greater than zero.")
    return value


def _non_negative(value: int) -> int:
    if not 0 <= value <= LONG_MAX:
        raise ValueError("integer greater than or equal to zero")
    return value


def _boolean_value(value: Any) -> Any:
    """Metabase's BooleanValue accepts true/false and the strings "true"/"false"."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("integer")
    return value


NON_BLANK = MbType("value must be a non-blank string.", _explain_non_blank)
EMAIL = MbType("value must be a valid email address.", _explain_with("valid email address"))
PASSWORD = MbType("password is too common.", _explain_with("valid password that is not too common"))
POSITIVE_INT = MbType(
    "value must be an integer greater than zero.",
    _explain_simple("value must be an integer greater than zero."),
)
# Metabase's IntGreaterThanOrEqualToZero, with its own words.
NON_NEGATIVE_INT = MbType(
    "value must be an integer greater or equal to than zero.",
    _explain_simple("value must be an integer greater or equal to than zero."),
)
BOOLEAN_VALUE = MbType(
    "value must be a valid boolean string ('true' or 'false').",
    _explain_simple("value must be a valid boolean string ('true' or 'false')"),
)
BOOLEAN = MbType("boolean", _explain_simple("should be a boolean"))
STRING = MbType("string", _explain_simple("should be a string"))
INT = MbType("value must be an integer.", _explain_simple("should be an integer"))
# A bare `int?`/`:int` schema, which has no message of its own.
INTEGER = MbType("integer", _explain_simple("should be an integer"))
MAP = MbType("Value must be a map.", _explain_simple("Value must be a map."))

NonBlankString = Annotated[
    str,
    AfterValidator(non_blank),
    NON_BLANK,
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"\S"}),
]
Email = Annotated[str, AfterValidator(_email), EMAIL]
Password = Annotated[str, AfterValidator(_password), PASSWORD]
PositiveInt = Annotated[
    int,
    BeforeValidator(_strict_int),
    AfterValidator(_positive),
    POSITIVE_INT,
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": LONG_MAX}),
]
NonNegativeInt = Annotated[int, BeforeValidator(_strict_int), AfterValidator(_non_negative), NON_NEGATIVE_INT]
BooleanValue = Annotated[bool, BeforeValidator(_boolean_value), BOOLEAN_VALUE]
Boolean = Annotated[bool, BOOLEAN]
String = Annotated[str, STRING]
Int = Annotated[int, BeforeValidator(_strict_int), AfterValidator(long_int), INT]
Integer = Annotated[int, BeforeValidator(_strict_int), AfterValidator(long_int), INTEGER]
Map = Annotated[dict[str, Any], MAP]


# Positions, sizes and cache durations are `ms/PositiveInt` or `ms/IntGreaterThanOrEqualToZero` in
# Metabase's schemas: any long. Metabase then writes the value to a 32-bit INTEGER column (a 16-bit SMALLINT
# for `collection_position`), and PostgreSQL or MySQL refuses one past it: a 500 from Metabase. These types
# carry the column's bound as well, so such a value is refused before anything is written, as a 400 like
# any other invalid value: Metabase's description of the type in `errors`, and malli's explanation of a
# maximum ("should be at most 2147483647") in `specific-errors`. Values that are no long at all keep
# Metabase's own explanation.


def _at_most(maximum: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value > maximum:
            raise ValueError(f"should be at most {maximum}")
        return value

    return check


def _bounded(mb_type: MbType, maximum: int) -> MbType:
    """`mb_type`, explaining a long past `maximum` as malli explains a maximum."""

    def explain(value: Any) -> list[str]:
        if is_long(value) and value > maximum:
            return [received(f"should be at most {maximum}", value)]
        return mb_type.explain(value)

    return MbType(mb_type.description, explain)


def _column_int(minimum: int, maximum: int) -> Any:
    """A whole number from `minimum` (1 or 0) to a column's `maximum`, refused with Metabase's texts."""
    lower, mb_type = (_positive, POSITIVE_INT) if minimum == 1 else (_non_negative, NON_NEGATIVE_INT)
    return Annotated[
        int,
        BeforeValidator(_strict_int),
        AfterValidator(lower),
        AfterValidator(_at_most(maximum)),
        _bounded(mb_type, maximum),
        WithJsonSchema({"type": "integer", "minimum": minimum, "maximum": maximum}),
    ]


PositiveInt32 = _column_int(1, INT32_MAX)
PositiveInt16 = _column_int(1, INT16_MAX)
NonNegativeInt32 = _column_int(0, INT32_MAX)


def _page_value(value: Any) -> Any:
    """A `limit` or `offset` as Metabase's offset-paging middleware reads it: with `parse-long`, so that
    one that is no long (`abc`, `1.5`, 2**63) is as if not sent. A negative one would reach the app
    database's LIMIT, which refuses it (Metabase's 500): refused here instead."""
    number = parse_long(value) if isinstance(value, str) else value
    if isinstance(number, int) and number < 0:
        raise ValueError(NON_NEGATIVE_INT.description)
    return number


# `limit` and `offset` of a paged list. (Both absent, or neither a long: the whole list, and both null in
# the answer; one absent: a limit of 50, an offset of 0.)
PageValue = Annotated[
    int | None,
    BeforeValidator(_page_value),
    NON_NEGATIVE_INT,
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0, "maximum": LONG_MAX}, {"type": "null"}]}),
]


def _locale(value: str) -> str:
    if not re.fullmatch(r"[a-zA-Z]{2}([-_][a-zA-Z]{2})?", value):
        raise ValueError("valid locale")
    language, _, country = value.replace("-", "_").partition("_")
    return language.lower() + ("_" + country.upper() if country else "")


LOCALE = MbType(
    "String must be a valid two-letter ISO language or language-country code e.g. 'en' or 'en_US'.",
    _explain_simple("valid locale"),
)
Locale = Annotated[str, AfterValidator(_locale), LOCALE]


def query_vector_of(item: Any) -> Any:
    """Metabase's `ms/QueryVectorOf`: a repeatable query parameter (`models=card&models=dashboard`), each
    value of type `item` (an annotation carrying its MbType). A bad value fails the whole parameter, which
    Metabase describes as "vector of <item>" and explains value by value, as malli does: a null for each
    good value before the last bad one."""
    adapter: TypeAdapter[Any] = TypeAdapter(item)
    item_type = next(m for m in getattr(item, "__metadata__", ()) if isinstance(m, MbType))
    integers = getattr(item, "__origin__", None) is int

    def problem(value: Any) -> list[str] | None:
        try:
            adapter.validate_python(value)
        except ValidationError:
            # Metabase decodes a number from the query string before checking it: `0` is received as 0
            # (and one past a long stays the string it was).
            number = parse_integer(value) if integers and isinstance(value, str) else None
            return item_type.explain(number if is_long(number) else value)
        return None

    def check(values: Any) -> Any:
        values = values if isinstance(values, list) else [values]
        if any(problem(value) is not None for value in values):
            raise ValueError(item_type.description)
        return [adapter.validate_python(value) for value in values]

    def explain(values: Any) -> list[Any]:
        problems = [problem(value) for value in (values if isinstance(values, list) else [values])]
        while problems and problems[-1] is None:
            problems.pop()
        return problems

    return Annotated[list[Any], BeforeValidator(check), MbType(f"vector of {item_type.description}", explain)]
