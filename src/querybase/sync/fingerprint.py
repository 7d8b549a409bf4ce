"""Fingerprints: per-field statistics from a sample of rows, and the semantic types and value lists
they suggest (Metabase's `analyze` step: fingerprinters, then the text, category and list classifiers).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from typing import Any

from sqlalchemy import Connection, column, select, table

from querybase.drivers import types as t
from querybase.models.base import utcnow
from querybase.models.database import Field, Table
from querybase.sync.context import SyncContext

FINGERPRINT_VERSION = 5
SAMPLE_ROWS = 10_000
# Metabase's thresholds: at most this many distinct values makes an untyped text field a Category,
CATEGORY_CARDINALITY = 30
# and below this many distinct values a field's values are listed in filter widgets.
LIST_CARDINALITY = 1000

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(https?://|www\.)[^\s]+$", re.IGNORECASE)
_US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC".split()
)


def _sample(conn: Connection, tbl: Table, fields: list[Field]) -> list[tuple[Any, ...]]:
    source = table(tbl.name, *[column(f.name) for f in fields], schema=tbl.schema)
    query = select(*[source.c[f.name] for f in fields]).select_from(source).limit(SAMPLE_ROWS)
    return list(conn.execute(query).tuples())


def _number_fingerprint(values: list[Any]) -> dict[str, Any]:
    numbers = sorted(float(v) for v in values if isinstance(v, (int, float)) or _is_decimal(v))
    if not numbers:
        return {"min": None, "q1": None, "q3": None, "max": None, "sd": None, "avg": None}
    quartiles = statistics.quantiles(numbers, n=4) if len(numbers) > 1 else [numbers[0]] * 3
    return {
        "min": numbers[0],
        "q1": quartiles[0],
        "q3": quartiles[2],
        "max": numbers[-1],
        "sd": statistics.pstdev(numbers) if len(numbers) > 1 else 0.0,
        "avg": statistics.fmean(numbers),
    }


def _is_decimal(value: Any) -> bool:
    return type(value).__name__ == "Decimal"


def _share(values: list[str], check: Any) -> float:
    return sum(1 for v in values if check(v)) / len(values) if values else 0.0


def _text_fingerprint(values: list[Any]) -> dict[str, Any]:
    texts = [str(v) for v in values]  # Metabase stringifies whatever the column holds
    return {
        "percent-json": _share(texts, lambda v: v[:1] in "{[" and v[-1:] in "}]"),
        "percent-url": _share(texts, lambda v: bool(_URL.match(v))),
        "percent-email": _share(texts, lambda v: bool(_EMAIL.match(v))),
        "percent-state": _share(texts, lambda v: v.upper() in _US_STATES),
        "average-length": statistics.fmean(len(v) for v in texts) if texts else 0.0,
    }


def _temporal_fingerprint(values: list[Any]) -> dict[str, Any]:
    stamps = sorted(str(v.isoformat() if isinstance(v, (dt.date, dt.time)) else v) for v in values)
    return {"earliest": stamps[0] if stamps else None, "latest": stamps[-1] if stamps else None}


def fingerprint(field: Field, values: list[Any]) -> dict[str, Any] | None:
    """Metabase's fingerprint (version 5): none for PKs, only the global part for FKs and non-number,
    non-text, non-temporal fields."""
    if field.semantic_type == t.PK:
        return None
    present = [v for v in values if v is not None]
    result: dict[str, Any] = {
        "global": {
            "distinct-count": len({repr(v) for v in present}),
            "nil%": (len(values) - len(present)) / len(values) if values else 0.0,
        }
    }
    if field.semantic_type == t.FK:
        return result
    if field.base_type in t.NUMBER_TYPES:
        result["type"] = {"type/Number": _number_fingerprint(present)}
    elif field.base_type in t.TEXT_TYPES:
        result["type"] = {"type/Text": _text_fingerprint(present)}
    elif field.base_type in t.TEMPORAL_TYPES:
        result["type"] = {"type/DateTime": _temporal_fingerprint(present)}
    return result


def classify(field: Field, print_: dict[str, Any] | None) -> None:
    """Metabase's classifiers after fingerprinting, in its order: category (and auto-list), no preview
    display, text fingerprint. Each only fills what is still unset."""
    if print_ is None:
        return
    distinct = print_["global"]["distinct-count"]
    eligible = (
        field.base_type not in t.TEMPORAL_TYPES
        and field.base_type not in (t.FLOAT, t.DECIMAL, t.ARRAY, t.JSON, t.DICTIONARY)
        and field.semantic_type not in (t.PK, t.FK)
    )
    if eligible:
        has_values = print_["global"]["nil%"] < 1 or field.base_type == t.BOOLEAN
        if field.semantic_type is None and has_values and distinct <= CATEGORY_CARDINALITY:
            field.semantic_type = t.CATEGORY
        if field.has_field_values is None and distinct <= LIST_CARDINALITY:
            field.has_field_values = "auto-list"
    text_print = (print_.get("type") or {}).get("type/Text")
    if text_print is None or field.base_type not in t.TEXT_TYPES:
        return
    if field.semantic_type in (None, t.SERIALIZED_JSON) and text_print["average-length"] > 50:
        field.preview_display = False
    if field.semantic_type is None:
        for key, threshold, semantic_type in (
            ("percent-json", 0.95, t.SERIALIZED_JSON),
            ("percent-url", 0.95, t.URL),
            ("percent-email", 0.95, t.EMAIL),
            ("percent-state", 0.7, t.STATE),
        ):
            if text_print[key] >= threshold:
                field.semantic_type = semantic_type
                break


def fingerprint_fields(ctx: SyncContext) -> str:
    """Fingerprint every active field not fingerprinted at the current version yet."""
    done = 0
    now = utcnow()
    tables = ctx.db.scalars(select(Table).where(Table.db_id == ctx.database_id, Table.active.is_(True)))
    for tbl in tables:
        fields = list(
            ctx.db.scalars(
                select(Field)
                .where(Field.table_id == tbl.id, Field.active.is_(True))
                .order_by(Field.database_position)
            )
        )
        pending = [f for f in fields if f.fingerprint_version < FINGERPRINT_VERSION]
        if not pending:
            continue
        rows = _sample(ctx.conn, tbl, pending)
        for index, field in enumerate(pending):
            print_ = fingerprint(field, [row[index] for row in rows])
            field.fingerprint = print_
            field.fingerprint_version = FINGERPRINT_VERSION
            field.last_analyzed = now
            classify(field, print_)
            done += 1
    ctx.db.flush()
    return f"{done} fields fingerprinted"
