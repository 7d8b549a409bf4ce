"""JSON downloads as Metabase writes them (`streaming/json.clj`): an array of one object per row keyed by
column title, written as `[\n`, rows separated by `,\n`, then `\n]`. With `format_rows` every value is the
display text (a missing number stays null); without it, the plain values."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from querybase.jsonutil import dumps_joined
from querybase.query_processor.streaming.common import (
    VizSettings,
    cell_formatter,
    column_titles,
    formatted_columns,
    identity,
)

# Rows are encoded and joined this many at a time: each orjson result holds a few KiB of spare capacity
# while it lives, so a whole batch at once would hold megabytes.
_ROWS_PER_JOIN = 64


class JsonResultsWriter:
    """Encodes each batch of row objects on arrival (orjson), so only one batch is ever held."""

    def __init__(
        self,
        cols: Sequence[Mapping[str, Any]],
        *,
        format_rows: bool,
        visualization_settings: Mapping[str, Any] | None,
    ) -> None:
        viz = VizSettings(visualization_settings)
        # Duplicate titles collapse into one key holding the last value, as Clojure's `zipmap` does.
        self._keys = column_titles(cols, viz, format_rows=format_rows)
        self._formatters = [cell_formatter(col, viz, format_rows=format_rows) for col in cols]
        self._reformat = any(formatter is not identity for formatter in self._formatters)
        self._separator = b""

    def begin(self) -> bytes:
        return b"[\n"

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self._reformat:
            rows = list(zip(*formatted_columns(rows, self._formatters), strict=True))
        as_object = functools.partial(zip, self._keys, strict=True)
        encoded = bytearray()
        for start in range(0, len(rows), _ROWS_PER_JOIN):
            encoded += self._separator
            encoded += dumps_joined(
                list(map(dict, map(as_object, rows[start : start + _ROWS_PER_JOIN]))), b",\n"
            )
            self._separator = b",\n"
        return bytes(encoded)

    def finish(self) -> Iterator[bytes]:
        return iter((b"\n]",))

    def close(self) -> None:
        """Nothing to release."""
