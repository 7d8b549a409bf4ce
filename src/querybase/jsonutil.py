"""JSON encoding as Metabase does it: UTC timestamps with a `Z`, decimals as numbers, fast (orjson).

Integers of any size. A JSON document a client sends (a query, parameters, visualization settings) may hold
an integer past 64 bits; Metabase's parser reads it as a BigInteger, which it stores and answers as sent
(only its schemas for ids, limits and the like refuse one). orjson writes integers of 64 bits at most and
reads bigger ones as floats, so such a document goes through `encode` and `decode` below, which step aside
from orjson only then: the common case keeps its speed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# What orjson writes: a signed 64-bit integer, or an unsigned one.
_ORJSON_INT_MIN, _ORJSON_INT_MAX = -(2**63), 2**64 - 1
# A run of 20 digits: the only way a JSON text can hold an integer orjson would read as a float.
_LONG_DIGITS = re.compile("[0-9]{20}")
_LONG_DIGITS_BYTES = re.compile(b"[0-9]{20}")


def _fits(value: int) -> bool:
    return _ORJSON_INT_MIN <= value <= _ORJSON_INT_MAX


def _wide(value: Any) -> Any:
    """`value` with each integer orjson cannot write as an `orjson.Fragment` of its digits (keys too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _fits(value) else orjson.Fragment(str(value).encode())
    if isinstance(value, dict):
        return {(k if not isinstance(k, int) or _fits(k) else str(k)): _wide(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wide(v) for v in value]
    return value


def encode(value: Any, **options: Any) -> bytes:
    """`orjson.dumps(value, **options)`, integers past 64 bits included."""
    try:
        return orjson.dumps(value, **options)
    except TypeError:
        # orjson refuses an integer past 64 bits whatever `default` says; anything else fails again.
        return orjson.dumps(_wide(value), **options)


def decode(data: bytes | str) -> Any:
    """`orjson.loads(data)`, integers past 64 bits kept exact (orjson makes floats of them)."""
    digits = _LONG_DIGITS.search(data) if isinstance(data, str) else _LONG_DIGITS_BYTES.search(data)
    return orjson.loads(data) if digits is None else json.loads(data)


def dumps(value: Any) -> bytes:
    return encode(value, default=_default, option=_OPTIONS)


_ORJSON_DUMPS = functools.partial(orjson.dumps, default=_default, option=_OPTIONS)


def dumps_joined(values: Sequence[Any], separator: bytes) -> bytes:
    """`dumps` of each value, joined by `separator`: orjson called from C, without a Python call per value
    (what a download's rows are written with)."""
    try:
        return separator.join(map(_ORJSON_DUMPS, values))
    except TypeError:
        return separator.join(map(dumps, values))


def loads(data: bytes | str) -> Any:
    return decode(data)


class JSONResponse(Response):
    """The default response class: Metabase's `application/json; charset=utf-8`."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return dumps(content)
