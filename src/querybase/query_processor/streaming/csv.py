"""CSV downloads as Metabase writes them (`streaming/csv.clj`): UTF-8 without a BOM, a header row of column
titles, `\n` after every row (not RFC 4180's CRLF), and a field quoted only when it contains a comma, a double
quote, CR or LF (quotes doubled inside)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from querybase.query_processor.streaming.common import (
    VizSettings,
    cell_formatter,
    clj_str,
    column_titles,
    identity,
)

_NEEDS_QUOTES = re.compile(r'[,"\r\n]').search


def _field(text: str) -> str:
    if _NEEDS_QUOTES(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _line(fields: Iterator[str]) -> bytes:
    return (",".join(fields) + "\n").encode()


def _plain_cell(value: Any) -> str:
    """A value exported as it is: the common cases (text, integers) without a call per step."""
    if value.__class__ is str:
        return '"' + value.replace('"', '""') + '"' if _NEEDS_QUOTES(value) else value
    if value.__class__ is int:
        return str(value)
    return _field(clj_str(value))


def _cell(formatter: Any) -> Any:
    if formatter is identity:
        return _plain_cell
    return lambda value: _field(clj_str(formatter(value)))


class CsvResultsWriter:
    """Writes each row as one line as soon as it arrives."""

    def __init__(
        self,
        cols: Sequence[Mapping[str, Any]],
        *,
        format_rows: bool,
        visualization_settings: Mapping[str, Any] | None,
    ) -> None:
        viz = VizSettings(visualization_settings)
        self._titles = column_titles(cols, viz, format_rows=format_rows)
        self._cells = [_cell(cell_formatter(col, viz, format_rows=format_rows)) for col in cols]

    def begin(self) -> bytes:
        return _line(_field(title) for title in self._titles)

    def write_row(self, row: Sequence[Any]) -> bytes:
        return (",".join([cell(value) for cell, value in zip(self._cells, row, strict=True)]) + "\n").encode()

    def finish(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Nothing to release."""
