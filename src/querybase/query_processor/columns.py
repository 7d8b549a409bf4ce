"""Metabase's metadata for result columns (`data.cols`): names, display names, types, refs and sources.

Built while compiling (each output column knows where it comes from), so that results can be annotated
without a round trip, and native queries get theirs from the cursor and the first rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Sequence
from typing import Any

from querybase.drivers import types as t
from querybase.longs import INT32_MAX
from querybase.models.database import Field

UNIT_NAMES = {
    "default": None,
    "millisecond": "Millisecond",
    "second": "Second",
    "minute": "Minute",
    "hour": "Hour",
    "day": "Day",
    "week": "Week",
    "month": "Month",
    "quarter": "Quarter",
    "year": "Year",
    "second-of-minute": "Second of minute",
    "minute-of-hour": "Minute of hour",
    "hour-of-day": "Hour of day",
    "day-of-week": "Day of week",
    "day-of-month": "Day of month",
    "day-of-year": "Day of year",
    "week-of-year": "Week of year",
    "month-of-year": "Month of year",
    "quarter-of-year": "Quarter of year",
    "year-of-era": "Year",
}

# Keys every column carries, in the order Metabase sends them (missing ones are null).
FIELD_KEYS = (
    "description",
    "semantic_type",
    "table_id",
    "coercion_strategy",
    "name",
    "settings",
    "fk_target_field_id",
    "field_ref",
    "effective_type",
    "nfc_path",
    "parent_id",
    "id",
    "position",
    "visibility_type",
    "display_name",
    "fingerprint",
    "base_type",
    "database_type",
)


def field_column(field: Field, field_ref: list[Any], source: str) -> dict[str, Any]:
    """A column that is a synced field (possibly bucketed or binned)."""
    return {
        "description": field.description,
        "semantic_type": field.semantic_type,
        "table_id": field.table_id,
        "coercion_strategy": field.coercion_strategy,
        "name": field.name,
        "settings": field.settings,
        "fk_target_field_id": field.fk_target_field_id,
        "field_ref": field_ref,
        "effective_type": field.effective_type or field.base_type,
        "nfc_path": field.nfc_path,
        "parent_id": field.parent_id,
        "id": field.id,
        "position": field.position,
        "visibility_type": field.visibility_type,
        "display_name": field.display_name or field.name,
        "fingerprint": field.fingerprint,
        "base_type": field.base_type,
        "database_type": field.database_type,
        "source": source,
    }


def computed_column(
    name: str,
    display_name: str,
    base_type: str,
    field_ref: list[Any],
    source: str,
    semantic_type: str | None = None,
) -> dict[str, Any]:
    """A column with no field behind it: an aggregation, an expression, a native query's column."""
    return {
        "name": name,
        "display_name": display_name,
        "base_type": base_type,
        "effective_type": base_type,
        "semantic_type": semantic_type,
        "field_ref": field_ref,
        "source": source,
    }


def with_unit(column: dict[str, Any], unit: str | None) -> dict[str, Any]:
    """A bucketed column: `unit`, "Created At: Month", and integer type for extractions."""
    if not unit or unit == "default":
        return {**column, "unit": "default"} if column.get("base_type") in t.TEMPORAL_TYPES else column
    label = UNIT_NAMES.get(unit)
    result = {
        **column,
        "unit": unit,
        "display_name": f"{column['display_name']}: {label}" if label else column["display_name"],
    }
    if (
        unit.endswith("-of-minute")
        or unit.endswith("-of-hour")
        or unit.endswith("-of-day")
        or unit.endswith(("-of-week", "-of-month", "-of-year", "-of-era"))
    ):
        result.update(base_type=t.INTEGER, effective_type=t.INTEGER, semantic_type=None, fingerprint=None)
    return result


def dedupe_names(columns: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Unique `name`s, as Metabase makes them: the second `count` is `count_2`."""
    seen: dict[str, int] = {}
    out = []
    for column in columns:
        name = column["name"]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            seen[candidate] = 1
            column = {**column, "name": candidate}
        out.append(column)
    return out


def base_type_of_value(value: Any) -> str | None:
    """Metabase's base type for a native query's value (`driver/common.clj` class->base-type)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return t.BOOLEAN
    if isinstance(value, int):
        return t.BIG_INTEGER if abs(value) > INT32_MAX else t.INTEGER
    if isinstance(value, float):
        return t.FLOAT
    if isinstance(value, decimal.Decimal):
        return t.DECIMAL
    if isinstance(value, str):
        return t.TEXT
    if isinstance(value, dt.datetime):
        return t.DATETIME_TZ if value.tzinfo else t.DATETIME
    if isinstance(value, dt.date):
        return t.DATE
    if isinstance(value, dt.time):
        return t.TIME
    if isinstance(value, uuid.UUID):
        return t.UUID
    if isinstance(value, dict):
        return t.DICTIONARY
    if isinstance(value, list):
        return t.ARRAY
    return t.UNKNOWN


def native_columns(names: Sequence[str], sample: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Columns of a native query: types from the most common value class in the first rows."""
    columns = []
    for index, name in enumerate(names):
        counts: dict[str, int] = {}
        for row in sample:
            base = base_type_of_value(row[index])
            if base is not None:
                counts[base] = counts.get(base, 0) + 1
        base_type = max(counts, key=lambda k: counts[k]) if counts else t.UNKNOWN
        columns.append(
            computed_column(name, name, base_type, ["field", name, {"base-type": base_type}], "native")
        )
    return dedupe_names(columns)
