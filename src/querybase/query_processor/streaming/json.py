"""JSON downloads as Metabase writes them (`streaming/json.clj`): an array of one object per row keyed by
column title, written as `[\n`, rows separated by `,\n`, then `\n]`. With `format_rows` every value is the
display text (a missing number stays null); without it, the plain values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from querybase.jsonutil import dumps
from querybase.query_processor.postprocess.format_rows import columns_of
from querybase.query_processor.streaming.common import (
    VizSettings,
    cell_formatter,
    column_titles,
    format_column,
    identity,
)


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
        self._separator = b""

    def begin(self) -> bytes:
        return b"[\n"

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        work = [(i, fmt) for i, fmt in enumerate(self._formatters) if fmt is not identity]
        if work:
            columns = columns_of(rows)
            iso_columns = getattr(rows, "iso_columns", frozenset())
            for index, fmt in work:
                columns[index] = format_column(fmt, columns[index], naive_iso=index in iso_columns)
            rows = list(zip(*columns, strict=True))
        keys, separator = self._keys, self._separator
        # Appended one by one: each orjson result holds a few KiB of spare capacity while it lives.
        encoded = bytearray()
        for row in rows:
            encoded += separator
            encoded += dumps(dict(zip(keys, row, strict=True)))
            separator = b",\n"
        self._separator = separator
        return bytes(encoded)

    def finish(self) -> Iterator[bytes]:
        return iter((b"\n]",))

    def close(self) -> None:
        """Nothing to release."""
