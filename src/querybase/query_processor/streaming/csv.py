"""CSV downloads as Metabase writes them (`streaming/csv.clj`): UTF-8 without a BOM, a header row of column
titles, `\n` after every row (not RFC 4180's CRLF), and a field quoted only when it contains a comma, a double
quote, CR or LF (quotes doubled inside)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from querybase.query_processor.postprocess.format_rows import FormattedBatch
from querybase.query_processor.streaming.common import (
    VizSettings,
    cell_formatter,
    clj_str,
    column_titles,
    formatted_columns,
    identity,
)

_NEEDS_QUOTES = re.compile(r'[,"\r\n]').search
_AS_THEY_ARE = frozenset({str, int, type(None)})
_NUMBERS = frozenset({float, int, type(None)})


def _field(text: str) -> str:
    if _NEEDS_QUOTES(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _line(fields: Iterator[str]) -> bytes:
    return (",".join(fields) + "\n").encode()


def _cell(formatter: Any) -> Any:
    if formatter is identity:
        return clj_str
    return lambda value: clj_str(formatter(value))


def _floats_print_as_python(values: Sequence[Any]) -> bool:
    """Whether Python's `str` prints these numbers as Java's `Double.toString` does: finite, and zero or
    between 10^-3 and 10^7 in size (outside that Java switches to "1.0E7"). Checked with C-speed builtins."""
    nonzero = list(filter(None, values))
    if not nonzero:
        return True
    if not math.isfinite(sum(nonzero)):
        return False
    sizes = list(map(abs, nonzero))
    return min(sizes) >= 1e-3 and max(sizes) < 1e7


class CsvResultsWriter:
    """Writes each batch of rows as soon as it arrives.

    The common case goes through the standard library's C `csv` writer, whose minimal quoting is
    Metabase's except for a lone CR, and which prints text, integers and ordinary floats as Clojure's
    `str` does; each column is checked a batch at a time (C-speed builtins over the column) and only
    columns that hold anything else are converted value by value. A batch with a CR, and single-column
    results (where `csv` would write `""` for an empty value), take the plain path."""

    def __init__(
        self,
        cols: Sequence[Mapping[str, Any]],
        *,
        format_rows: bool,
        visualization_settings: Mapping[str, Any] | None,
    ) -> None:
        viz = VizSettings(visualization_settings)
        self._titles = column_titles(cols, viz, format_rows=format_rows)
        self._formatters = [cell_formatter(col, viz, format_rows=format_rows) for col in cols]
        self._cells = [_cell(formatter) for formatter in self._formatters]
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._c_writer = len(cols) > 1
        self._reformat = any(formatter is not identity for formatter in self._formatters)

    def begin(self) -> bytes:
        return _line(_field(title) for title in self._titles)

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self._c_writer:
            text = self._c_written(rows)
            if "\r" not in text:
                return text.encode()
        return "".join(self._plain_line(row) for row in rows).encode()

    def _plain_line(self, row: Sequence[Any]) -> str:
        return ",".join([_field(cell(value)) for cell, value in zip(self._cells, row, strict=True)]) + "\n"

    def _c_written(self, rows: Sequence[Sequence[Any]]) -> str:
        columns = formatted_columns(rows, self._formatters)
        # Rows as they came when no value changed (columns of a `FormattedBatch` are all it holds).
        changed = self._reformat or isinstance(rows, FormattedBatch)
        for index, column in enumerate(columns):
            types = set(map(type, column))
            if not (types <= _AS_THEY_ARE or (types <= _NUMBERS and _floats_print_as_python(column))):
                columns[index] = list(map(clj_str, column))
                changed = True
        self._writer.writerows(zip(*columns, strict=True) if changed else rows)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text

    def finish(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Nothing to release."""
