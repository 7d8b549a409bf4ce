"""Integers as Metabase reads them (Java longs), and the ranges of the app database's integer columns.

Metabase's integer schemas take a long, and it reads numbers out of strings (query string values, JSON
object keys, `card__N`) with Java's `Long/parseLong`, which refuses anything past 64 bits. Python's `int()`
takes any size, but refuses a string of more than 4300 digits with a ValueError; these helpers never call
it on more than 20 significant digits.
"""

from __future__ import annotations

import unicodedata
from typing import Any

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
# The app database's SMALLINT and INTEGER columns (ids are INTEGER on every app database).
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def is_long(value: Any) -> bool:
    """An integer Metabase can read as a Java long."""
    return isinstance(value, int) and not isinstance(value, bool) and LONG_MIN <= value <= LONG_MAX


def parse_integer(text: str) -> int | None:
    """The integer `text` (a path segment, a query string value) spells in ASCII digits, a minus first
    allowed; None for anything else. One of more than 20 significant digits, past any long, stands as
    LONG_MAX + 1 (or LONG_MIN - 1): `int()` refuses thousands of digits, and no id is that long anyway."""
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    significant = digits.lstrip("0") or "0"
    value = int(significant) if len(significant) <= 20 else LONG_MAX + 1
    return -value if negative else value


def parse_long(text: str) -> int | None:
    """Java's `Long.parseLong`: a sign (`-` or `+`) allowed first, then decimal digits of any script
    (`٣` is 3; `²` is no digit); None unless the whole text is such a number and it fits a long. It is
    what Clojure's `parse-long` and malli's string transformer use."""
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits.isdecimal():
        return None
    if not digits.isascii():
        digits = "".join(str(unicodedata.decimal(c)) for c in digits)
    significant = digits.lstrip("0") or "0"
    if len(significant) > 19:
        return None
    value = -int(significant) if text[0] == "-" else int(significant)
    return value if LONG_MIN <= value <= LONG_MAX else None
