"""JSON downloads as Metabase writes them (`streaming/json.clj`): an array of one object per row keyed by
column title, written as `[\n`, rows separated by `,\n`, then `\n]`. With `format_rows` every value is the
display text (a missing number stays null); without it, the plain values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from querybase.jsonutil import dumps
from querybase.query_processor.streaming.common import VizSettings, cell_formatter, column_titles


class JsonResultsWriter:
    """Encodes each row object on arrival (orjson), so only one row is ever held."""

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

    def write_row(self, row: Sequence[Any]) -> bytes:
        values = (fmt(value) for fmt, value in zip(self._formatters, row, strict=True))
        encoded = self._separator + dumps(dict(zip(self._keys, values, strict=True)))
        self._separator = b",\n"
        return encoded

    def finish(self) -> Iterator[bytes]:
        return iter((b"\n]",))

    def close(self) -> None:
        """Nothing to release."""
