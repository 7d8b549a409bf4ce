"""The value of each template tag: from the query's `parameters` (matched by tag name or id), else the tag's
default, typed by the tag's type, as Metabase's `parameters/values.clj` decides it.

* `text` and `boolean` tags keep their value; `number` tags parse strings (`"30"` → 30, `"1,2"` → [1, 2]);
  `date` tags parse ISO dates and datetimes. A list stands for several values.
* `dimension` tags (field filters) resolve their field and keep every parameter aimed at them, to become
  a condition on the field's column.
* `card` tags become the referenced card's compiled query (`CardQuery`), `snippet` tags the snippet's
  parsed content (`SnippetContent`); both are read from the app DB (`query_processor/saved.py`).

A tag without a value is `NO_VALUE`; one that is `required` has to have a value or a default.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from querybase.drivers import types as t
from querybase.models.card import Card
from querybase.models.database import Field, Table
from querybase.query_processor import saved
from querybase.query_processor.context import QueryContext
from querybase.query_processor.errors import MissingRequiredParameter, QueryError, UnsupportedFeature
from querybase.query_processor.parameters import InvalidParameter
from querybase.query_processor.parameters.dates import parse_temporal
from querybase.query_processor.parameters.parse import Part, parse


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()

DATE_TYPES = frozenset(
    {
        "date",
        "date/single",
        "date/range",
        "date/month-year",
        "date/quarter-year",
        "date/relative",
        "date/all-options",
    }
)
# Only the substring operators take the tag's `case-sensitive` option.
_STRING_MATCH_TYPES = frozenset(
    {"string/contains", "string/does-not-contain", "string/starts-with", "string/ends-with"}
)
_LONG = re.compile(r"[+-]?\d+")
_DOUBLE = re.compile(r"[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?")

RawValue = str | int | float | bool | dt.date | None


@dataclass(frozen=True)
class FieldFilter:
    """A `dimension` tag: its field and the parameter values aimed at it (each `{type, value, options}`)."""

    field: Field
    table: Table
    values: list[dict[str, Any]] | _NoValue
    alias: str | None


def resolve(ctx: QueryContext, tags: Mapping[str, Any], parameters: list[Any]) -> dict[str, Any]:
    """Every tag's value by tag name: a raw value (or list), a `FieldFilter`, or `NO_VALUE`.

    All tags are resolved, used in the SQL or not, so a required tag without a value always fails.
    """
    params = [p for p in parameters if isinstance(p, Mapping)]
    return {name: _tag_value(ctx, tag, params) for name, tag in tags.items()}


@dataclass(frozen=True)
class CardQuery:
    """A `card` tag: the SQL pieces (text and bound values) of the referenced card's compiled query."""

    card_id: int
    pieces: tuple[Any, ...]


@dataclass(frozen=True)
class SnippetContent:
    """A `snippet` tag: the snippet's SQL, parsed (its own `{{tags}}` take the query's values)."""

    parts: tuple[Part, ...]


def _card_query(ctx: QueryContext, tag: Mapping[str, Any]) -> CardQuery:
    """The referenced card compiled like Metabase's ReferencedCardQuery: no row limit, its own parameters
    none; a failure names the card."""
    # Imported here: compiling native queries is what imports this module.
    from querybase.query_processor.compile.mbql import compile_query
    from querybase.query_processor.compile.native import compile_native

    card_id = tag.get("card-id")
    if card_id is None:
        raise InvalidParameter("Invalid :card parameter: missing `:card-id`")
    card = ctx.db.get(Card, card_id) if isinstance(card_id, int) and not isinstance(card_id, bool) else None
    if card is None or card.database_id != ctx.database.id:
        raise InvalidParameter(f"Card {card_id} not found.")
    compiling: set[int] = ctx.info.setdefault("referenced-cards", set())
    if card.id in compiling:
        raise InvalidParameter(f"Card {card_id} refers to itself.")
    compiling.add(card.id)
    try:
        query = saved.card_query(card)
        if query["type"] == "native":
            query = {**query, "parameters": []}
            pieces: tuple[Any, ...] = tuple(compile_native(ctx, query).statement.pieces)
        else:
            pieces = (compile_query(ctx, saved.expand(ctx, query)).select,)
    except QueryError as error:
        raise InvalidParameter(
            f"The sub-query from referenced question #{card_id} failed with the following error: "
            f"{json.dumps(error.message)}"
        ) from error
    finally:
        compiling.discard(card.id)
    return CardQuery(card_id, pieces)


def value_to_number(value: Any) -> int | float | list[int | float]:
    """A `number` value: numbers pass; strings may hold several, comma-separated (an old Metabase habit)."""
    if isinstance(value, bool):
        raise InvalidParameter(f"Invalid number: {value!r}")
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        numbers: list[int | float] = []
        for item in value:
            parsed = value_to_number(item)
            numbers += parsed if isinstance(parsed, list) else [parsed]
        return _many_or_one(numbers)
    if isinstance(value, str):
        return _many_or_one([_parse_number(part) for part in value.split(",")])
    raise InvalidParameter(f"Invalid number: {value!r}")


def _parse_number(text: str) -> int | float:
    """Java's parsing, as Metabase does it: a `.` makes a double; anything else must be an integer."""
    if "." in text and _DOUBLE.fullmatch(text.strip()):
        return float(text.strip().rstrip("dDfF"))
    if _LONG.fullmatch(text):
        with contextlib.suppress(ValueError):  # thousands of digits, more than `int()` reads: refused
            return int(text)
    raise InvalidParameter(f'For input string: "{text}"')


def _many_or_one(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _has_value(value: Any) -> bool:
    return value is not None and value != []


def _matches(tag: Mapping[str, Any], target: Any) -> bool:
    """Metabase's targets: `[kind, ["template-tag", name-or-{"id": id}], {"stage-number": 0}?]`, where the
    kind is `dimension` for field filters and `variable` for the other tags."""
    kind = "dimension" if tag.get("type") in ("dimension", "temporal-unit") else "variable"
    if not (isinstance(target, list) and len(target) >= 2 and target[0] == kind):
        return False
    ref = target[1]
    if not (isinstance(ref, list) and len(ref) == 2 and ref[0] == "template-tag"):
        return False
    options = target[2] if len(target) > 2 and isinstance(target[2], Mapping) else {}
    if options.get("stage-number", 0) != 0:
        return False
    if isinstance(ref[1], Mapping):
        return ref[1].get("id") is not None and ref[1].get("id") == tag.get("id")
    return ref[1] == tag.get("name")


def _missing(tag: Mapping[str, Any]) -> MissingRequiredParameter:
    return MissingRequiredParameter(
        f"You'll need to pick a value for '{tag.get('display-name')}' before this query can run."
    )


def _tag_value(ctx: QueryContext, tag: Mapping[str, Any], params: list[Mapping[str, Any]]) -> Any:
    tag_type = tag.get("type")
    matching = [p for p in params if _matches(tag, p.get("target"))]
    if tag_type == "dimension":
        return _field_filter(ctx, tag, matching)
    if tag_type == "card":
        return _card_query(ctx, tag)
    if tag_type == "snippet":
        return SnippetContent(tuple(parse(saved.snippet(ctx, dict(tag)).content)))
    if tag_type == "temporal-unit":
        raise UnsupportedFeature("Template tags of type temporal-unit are not supported yet.")
    if tag_type not in ("text", "number", "date", "boolean"):
        raise InvalidParameter(f"Don't know how to parse parameter of type {_keyword(tag_type)}")
    value = _raw_value(tag, matching)
    return value if value is NO_VALUE else _typed(tag_type, value, tag)


def _keyword(value: Any) -> str:
    """How Metabase prints a tag type in messages (a Clojure keyword)."""
    return f":{value}" if isinstance(value, str) else "nil"


def _raw_value(tag: Mapping[str, Any], matching: list[Mapping[str, Any]]) -> Any:
    """An explicit null clears the tag unless it is required; then come the tag's and the parameter's
    defaults (the tag's wins)."""
    if len(matching) > 1:
        raise InvalidParameter(
            "Error: multiple values specified for parameter; "
            "non-Field Filter parameters can only have one value."
        )
    param = matching[0] if matching else None
    value = param.get("value") if param is not None else None
    if _has_value(value):
        return value
    if param is not None and not tag.get("required"):
        return NO_VALUE
    for default in (tag.get("default"), param.get("default") if param is not None else None):
        if _has_value(default):
            return default
    if tag.get("required"):
        raise _missing(tag)
    return NO_VALUE


def _typed(tag_type: str, value: Any, tag: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping) or (
        isinstance(value, list) and any(isinstance(v, list | Mapping) for v in value)
    ):
        raise InvalidParameter(f"Invalid value for parameter {tag.get('name')!r}: {value!r}")
    if tag_type == "number":
        return value_to_number(value)
    if tag_type == "date":
        return [_date(v) for v in value] if isinstance(value, list) else _date(value)
    return value


def _date(value: Any) -> RawValue:
    if not isinstance(value, str):
        raise InvalidParameter(f"Don't know how to parse {value!r} as a temporal literal")
    return parse_temporal(value)


def _field_filter(
    ctx: QueryContext, tag: Mapping[str, Any], matching: list[Mapping[str, Any]]
) -> FieldFilter:
    field, table = _field(ctx, tag.get("dimension"))
    values = _field_filter_values(tag, matching)
    if not isinstance(values, _NoValue):
        values = [_parse_for_field(field, v) for v in values]
    alias = tag.get("alias")
    return FieldFilter(field, table, values, alias if isinstance(alias, str) and alias.strip() else None)


def _field(ctx: QueryContext, dimension: Any) -> tuple[Field, Table]:
    field_id = dimension[1] if isinstance(dimension, list) and len(dimension) > 1 else dimension
    field = (
        ctx.metadata.field(field_id) if isinstance(field_id, int) and not isinstance(field_id, bool) else None
    )
    table = ctx.metadata.table(field.table_id) if field is not None else None
    if field is None or table is None or table.db_id != ctx.database.id:
        raise InvalidParameter(f"Can't find field with ID: {field_id}")
    return field, table


def _field_filter_values(
    tag: Mapping[str, Any], matching: list[Mapping[str, Any]]
) -> list[dict[str, Any]] | _NoValue:
    """The parameters with a value; an explicit null clears an optional filter, even one with a default."""
    tag_options = tag.get("options") if isinstance(tag.get("options"), Mapping) else {}
    with_value = [p for p in matching if _has_value(p.get("value"))]
    if with_value:
        return [_param_value(p, p["value"], tag_options) for p in with_value]
    if matching and not tag.get("required"):
        return NO_VALUE
    if _has_value(tag.get("default")):
        # The widget type is the type of the default value.
        return [{"type": tag.get("widget-type"), "value": tag["default"], "options": tag_options}]
    if tag.get("required"):
        raise _missing(tag)
    return NO_VALUE


def _param_value(param: Mapping[str, Any], value: Any, tag_options: Mapping[str, Any]) -> dict[str, Any]:
    param_type = param.get("type")
    options = dict(tag_options)
    if param_type not in _STRING_MATCH_TYPES:
        options.pop("case-sensitive", None)
    return {"type": param_type, "value": value, "options": options}


def _parse_for_field(field: Field, param: dict[str, Any]) -> dict[str, Any]:
    """Numbers for `number` parameters and for text values aimed at numeric columns (so `"1 OR 1=1"` is
    refused rather than compared)."""
    value, param_type = param["value"], param["type"]
    numeric = (field.effective_type or field.base_type) in t.NUMBER_TYPES
    texts = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    if param_type == "number" or (numeric and texts and param_type not in DATE_TYPES):
        return {**param, "value": value_to_number(value)}
    return param
