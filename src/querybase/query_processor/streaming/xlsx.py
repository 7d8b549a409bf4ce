"""XLSX downloads as Metabase writes them (`streaming/xlsx.clj`): one sheet named "Query result", a header row
of column titles with an auto-filter and frozen below it, typed cells (numbers, booleans, Excel dates with a
date format, text) and columns sized to the header and first 100 rows.

An XLSX file is a zip archive whose central directory is written last, so no byte of it can be sent before the
last row is in. xlsxwriter's `constant_memory` mode writes each row to a temporary file as it arrives (memory
stays flat for a million rows); `finish` then assembles the workbook into a temporary directory and streams it
out in chunks. Everything lives in that directory, which `close` removes, so an abandoned download leaves
nothing behind.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from querybase.query_processor.streaming.common import (
    VizSettings,
    cell_formatter,
    clj_str,
    col_type,
    column_titles,
    currency_code,
    currency_identifier,
    decimal_places,
    format_coordinate,
    is_coordinate,
    isa,
    java_double_str,
    parse_temporal,
    temporal_kind,
)

SHEET_NAME = "Query result"
MAX_CELL_CHARS = 32767  # Excel's limit for one cell
AUTOSIZE_ROWS = 100  # Metabase sizes columns from the header and this many rows, then stops measuring
EXTRA_WIDTH = 4  # characters added after sizing, room for the filter button
MAX_WIDTH = 255
CHUNK_SIZE = 64 * 1024

# Formats for cells whose column has no format of its own (`default-format-strings`).
_TYPED_FORMATS = {
    "datetime": "mmmm d, yyyy, h:mm am/pm",
    "date": "mmmm d, yyyy",
    "time": "h:mm am/pm",
    "integer": "#,##0",
    "float": "#,##0.##",
}

_NUMBER_KEYS = frozenset(
    {"number_style", "number_separators", "currency", "currency_style", "currency_in_header"}
    | {"decimals", "scale", "prefix", "suffix"}
)
_DATETIME_KEYS = frozenset({"date_style", "date_separator", "date_abbreviate", "time_enabled", "time_style"})
_TIME_UNITS = frozenset(
    {
        "default",
        "millisecond",
        "second",
        "minute",
        "hour",
        "second-of-minute",
        "minute-of-hour",
        "hour-of-day",
    }
)
_PLAIN_NUMBER_KEYS = frozenset({"number_style", "number_separators", "scale", "prefix", "suffix"})
_CENTS = decimal.Decimal("0.01")


def _time_format(settings: Mapping[str, Any]) -> str | None:
    base = {"minutes": "h:mm", "seconds": "h:mm:ss", "milliseconds": "h:mm:ss.000"}.get(
        settings.get("time_enabled", "minutes")  # type: ignore[arg-type]
    )
    if base is None:
        return None
    style = settings.get("time_style", "h:mm A")
    if style in ("HH:mm", "k:mm"):
        return "h" + base
    if style == "h:mm A":
        return base + " am/pm"
    if style == "h A":
        return "h am/pm"
    return None


def _datetime_format(settings: Mapping[str, Any], unit: str | None) -> str:
    """Excel's version of the column's date style and time precision (`datetime-format-string`)."""
    date_style = settings.get("date_style")
    base = ("mmmm d, yyyy" if date_style is None else date_style).lower()
    if unit == "month":
        date = {"m/d/yyyy": "m/yyyy", "yyyy/m/d": "yyyy/m"}.get(base, "mmmm, yyyy")
    elif unit == "year":
        date = "yyyy"
    else:
        date = base
    if settings.get("date_abbreviate"):
        date = date.replace("mmmm", "mmm").replace("dddd", "ddd")
    separator = settings.get("date_separator")
    date = date.replace("/", "/" if separator is None else separator)
    time = _time_format(settings) if unit is None or unit in _TIME_UNITS else None
    if time is None:
        return date
    return f"{date}, {time}" if date else time


def _currency_format(base: str, settings: Mapping[str, Any]) -> str:
    identifier = currency_identifier(settings)
    style = settings.get("currency_style") or "symbol"
    if style == "name":
        return f'{base}" {identifier}"'
    if style == "symbol" and identifier != currency_code(settings):
        return f"[${identifier}]{base}"
    return f"[${identifier}] {base}"


def _number_formats(settings: Mapping[str, Any]) -> list[str]:
    """[format for values that round to integers, format for the others] (`number-format-strings`)."""
    number_style = settings.get("number_style")
    base = "###0" if settings.get("number_separators") == "." else "#,##0"
    decimals = decimal_places(settings)
    decimals = 2 if decimals is None else decimals
    plain = number_style in ("decimal", "currency", None) and not (set(settings) - _PLAIN_NUMBER_KEYS)
    formats = [base, base + ".##"] if plain else [base + ("." + "0" * decimals if decimals > 0 else "")] * 2
    if number_style == "percent":
        formats = [f + "%" for f in formats]
    elif number_style == "scientific":
        formats = [f + "E+0" for f in formats]
    elif number_style == "currency" and settings.get("currency_in_header") is False:
        formats = [_currency_format(f, settings) for f in formats]
    prefix = f'"{settings["prefix"]}"' if settings.get("prefix") else ""
    suffix = f'"{settings["suffix"]}"' if settings.get("suffix") else ""
    return [prefix + f + suffix for f in formats]


def _column_formats(col: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """The column's own number formats (`format-settings->format-strings`); [] means the typed defaults."""
    semantic_type = col.get("semantic_type")
    if isa(col_type(col), "Relation/*"):
        return ["0"]
    if isa(semantic_type, "type/Coordinate"):
        return []
    if (_DATETIME_KEYS & set(settings) or isa(semantic_type, "type/Temporal")) and temporal_kind(col):
        return [_datetime_format(settings, col.get("unit"))]
    if _NUMBER_KEYS & set(settings) or isa(col_type(col), "type/Currency"):
        return _number_formats(settings)
    return []


def _rounds_to_int(value: float) -> bool:
    """Whether the value shows as an integer at two decimals (`rounds-to-int?`)."""
    if value.is_integer():
        return True
    rounded = decimal.Decimal(repr(value)).quantize(_CENTS, rounding=decimal.ROUND_HALF_UP)
    return rounded == rounded.to_integral_value()


class _Column:
    """Everything needed to write one column's cells, decided once."""

    def __init__(self, col: Mapping[str, Any], viz: VizSettings, styles: list[Format]) -> None:
        settings = viz.for_col(col)
        self.kind = temporal_kind(col)
        self.coordinate = col.get("semantic_type") if is_coordinate(col) else None
        self.scale = settings.get("scale")
        self.styles = styles
        self.display = cell_formatter(col, viz, format_rows=True)
        self.width = 0

    def measure(self, value: Any) -> None:
        self.width = max(self.width, len(clj_str(self.display(value))))


class XlsxResultsWriter:
    """Rows go to xlsxwriter's row file as they arrive; the workbook is assembled and streamed in `finish`."""

    def __init__(
        self,
        cols: Sequence[Mapping[str, Any]],
        *,
        format_rows: bool,
        visualization_settings: Mapping[str, Any] | None,
    ) -> None:
        viz = VizSettings(visualization_settings)
        self._dir = tempfile.TemporaryDirectory(prefix="querybase-xlsx-")
        self._path = Path(self._dir.name) / "export.xlsx"
        self._workbook = xlsxwriter.Workbook(
            str(self._path), {"constant_memory": True, "tmpdir": self._dir.name}
        )
        self._sheet: Worksheet = self._workbook.add_worksheet(SHEET_NAME)
        self._typed = {
            name: self._workbook.add_format({"num_format": fmt}) for name, fmt in _TYPED_FORMATS.items()
        }
        self._titles = column_titles(cols, viz, format_rows=True)  # Metabase always titles XLSX as formatted
        self._columns = [
            _Column(col, viz, self._formats(_column_formats(col, viz.for_col(col)) if format_rows else []))
            for col in cols
        ]
        self._row = 0
        self._sized = False

    def _formats(self, num_formats: list[str]) -> list[Format]:
        return [self._workbook.add_format({"num_format": fmt}) for fmt in num_formats]

    def begin(self) -> bytes:
        for index, (title, column) in enumerate(zip(self._titles, self._columns, strict=True)):
            self._sheet.write_string(0, index, title)
            column.width = len(title)
        if self._columns:
            self._sheet.autofilter(0, 0, 0, len(self._columns) - 1)
            self._sheet.freeze_panes(1, 0)
        return b""

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        for row in rows:
            self._write_row(row)
        return b""

    def _write_row(self, row: Sequence[Any]) -> None:
        self._row += 1
        measuring = self._row <= AUTOSIZE_ROWS
        for index, (column, value) in enumerate(zip(self._columns, row, strict=True)):
            self._write_cell(index, column, value)
            if measuring:
                column.measure(value)
        if self._row == AUTOSIZE_ROWS:
            self._size_columns()

    def _write_cell(self, index: int, column: _Column, value: Any) -> None:
        sheet, row = self._sheet, self._row
        if column.coordinate is not None:
            sheet.write_string(row, index, format_coordinate(column.coordinate, value))
            return
        if column.kind is not None and isinstance(value, str):
            parsed = parse_temporal(value)
            if parsed is not None:
                self._write_temporal(index, column, parsed)
                return
        if value is None:
            return
        if isinstance(value, bool):
            sheet.write_boolean(row, index, value)
        elif isinstance(value, (int, float)):
            self._write_number(index, column, value)
        elif isinstance(value, str):
            sheet.write_string(row, index, value[:MAX_CELL_CHARS])
        elif isinstance(value, (dict, list)):
            sheet.write_string(row, index, orjson.dumps(value).decode()[:MAX_CELL_CHARS])
        else:
            sheet.write_string(row, index, str(value)[:MAX_CELL_CHARS])

    def _write_temporal(self, index: int, column: _Column, value: dt.date | dt.time) -> None:
        # A DATE column holds dates even though the query processor sends them as midnight date-times.
        if column.kind == "date" and isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.datetime):
            typed = self._typed["datetime"]
        elif isinstance(value, dt.date):
            typed = self._typed["date"]
        else:
            typed = self._typed["time"]
        self._sheet.write_datetime(self._row, index, value, column.styles[0] if column.styles else typed)

    def _write_number(self, index: int, column: _Column, value: float) -> None:
        if column.scale is not None:
            value = value * column.scale
        if isinstance(value, float) and not math.isfinite(value):
            self._sheet.write_string(self._row, index, java_double_str(value))
            return
        styles = column.styles
        if isinstance(value, int) or _rounds_to_int(value):
            style = styles[0] if styles else self._typed["integer"]
        else:
            style = styles[1] if len(styles) > 1 else self._typed["float"]
        self._sheet.write_number(self._row, index, value, style)

    def _size_columns(self) -> None:
        for index, column in enumerate(self._columns):
            self._sheet.set_column(index, index, min(MAX_WIDTH, column.width + EXTRA_WIDTH))
        self._sized = True

    def finish(self) -> Iterator[bytes]:
        if not self._sized:
            self._size_columns()
        self._workbook.close()
        with self._path.open("rb") as file:
            while chunk := file.read(CHUNK_SIZE):
                yield chunk

    def close(self) -> None:
        self._dir.cleanup()
