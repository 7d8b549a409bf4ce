"""Entry points for the HTTP layer: turn a query result (columns plus lazy batches of rows) into a download.

`stream` yields the file in chunks of at least 64 KiB (or a batch) as rows arrive (XLSX: once complete),
for a Starlette `StreamingResponse`; `download_headers` gives the headers Metabase sends with it. Which
columns a download has, and in what order, follows the card's `table.columns` setting as in
Metabase's `streaming.clj`.

The response must carry `media_type(...)` verbatim: pass the headers explicitly, because Starlette appends
"; charset=utf-8" to a `text/*` media type, and Metabase's CSV is plain `text/csv`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from querybase.query_processor.streaming.csv import CsvResultsWriter
from querybase.query_processor.streaming.interface import ResultsWriter, WriterFactory
from querybase.query_processor.streaming.json import JsonResultsWriter
from querybase.query_processor.streaming.xlsx import XlsxResultsWriter

EXPORT_FORMATS = ("csv", "json", "xlsx")
CHUNK_SIZE = 64 * 1024

_WRITERS: dict[str, WriterFactory] = {
    "csv": CsvResultsWriter,
    "json": JsonResultsWriter,
    "xlsx": XlsxResultsWriter,
}
_MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Sent with every streamed download so no proxy or browser caches or buffers it.
_STREAMING_HEADERS = {
    "Cache-Control": "max-age=0, no-cache, must-revalidate, proxy-revalidate",
    "Expires": "Tue, 03 Jul 2001 06:00:00 GMT",
    "X-Accel-Buffering": "no",
}


def _check_format(export_format: str) -> None:
    if export_format not in _WRITERS:
        raise ValueError(f"Unknown export format: {export_format!r}")


def media_type(export_format: str) -> str:
    """The Content-Type Metabase sends for a download."""
    _check_format(export_format)
    return _MEDIA_TYPES[export_format]


def export_filename_timestamp(now: dt.datetime | None = None) -> str:
    """The current time as Java's ISO_OFFSET_DATE_TIME prints it (`2024-05-03T12:34:56.789Z`): seconds
    always, the fraction only as long as needed, `Z` for UTC. Metabase uses the report timezone; `now`
    defaults to UTC."""
    now = now or dt.datetime.now(dt.UTC)
    offset = now.utcoffset() or dt.timedelta(0)
    fraction = f".{now.microsecond:06d}".rstrip("0") if now.microsecond else ""
    if not offset:
        zone = "Z"
    else:
        seconds = int(offset.total_seconds())
        sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
        zone = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}" + (
            f":{seconds % 60:02d}" if seconds % 60 else ""
        )
    return now.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone


def content_disposition(
    export_format: str, filename_prefix: str | None = None, *, now: dt.datetime | None = None
) -> str:
    """`attachment; filename="query_result_2024-05-03T12:34:56.789Z.csv"`; cards pass
    `card_filename_prefix(name)`."""
    _check_format(export_format)
    prefix = filename_prefix or "query_result"
    return f'attachment; filename="{prefix}_{export_filename_timestamp(now)}.{export_format}"'


def download_headers(
    export_format: str, filename_prefix: str | None = None, *, now: dt.datetime | None = None
) -> dict[str, str]:
    """Every header of a Metabase download response."""
    return {
        "Content-Type": media_type(export_format),
        "Content-Disposition": content_disposition(export_format, filename_prefix, now=now),
        **_STREAMING_HEADERS,
    }


_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def slugify(name: str, max_length: int | None = None) -> str:
    """Metabase's `u/slugify`: lower-case, accents stripped, other ASCII outside [a-z0-9_] as `_`, non-ASCII
    percent-encoded as UTF-8, cut to `max_length` characters."""
    stripped = re.sub("[\u0300-\u036f]+", "", unicodedata.normalize("NFD", name.lower()))
    slug = "".join(
        (char if char in _SLUG_CHARS else "_")
        if ord(char) < 128
        else "".join(f"%{b:02X}" for b in char.encode())
        for char in stripped
    )
    return slug if max_length is None else slug[:max_length]


def card_filename_prefix(card_name: str | None) -> str:
    """A saved question's download name (`safe-filename-prefix`): its slugified name, at most 200 characters,
    or "question" when the name is blank."""
    name = (card_name or "").strip()
    return slugify(name, 200) if name else "question"


# --- Column order (`order-cols` in Metabase's streaming.clj).


def _ref_key(field_ref: Any) -> bytes | None:
    return orjson.dumps(field_ref, option=orjson.OPT_SORT_KEYS) if field_ref is not None else None


def _deduplicate_names(cols: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Columns with unique names (`X`, `X_2`, ...); the original name becomes the display name if none."""
    used: set[str] = set()
    result = []
    for col in cols:
        name = str(col.get("name"))
        unique, n = name, 1
        while unique in used:
            n += 1
            unique = f"{name}_{n}"
        used.add(unique)
        display_name = col.get("name") if col.get("display_name") is None else col["display_name"]
        result.append({**col, "display_name": display_name, "name": unique})
    return result


def _table_columns(
    cols: list[dict[str, Any]], visualization_settings: Mapping[str, Any]
) -> list[tuple[Any, Any]]:
    """(field ref, name) of each exported column in order: the card's enabled `table.columns`, then columns it
    doesn't mention; all columns when it names one the result lacks (Metabase #19465) or is absent."""
    table = [
        entry
        for entry in visualization_settings.get("table.columns") or []
        if isinstance(entry, Mapping) and ("fieldRef" in entry or "name" in entry)
    ]
    refs = {_ref_key(col.get("field_ref")) for col in cols if col.get("field_ref") is not None}
    names = {col.get("name") for col in cols}
    if table and all(_ref_key(t.get("fieldRef")) in refs or t.get("name") in names for t in table):
        mentioned_refs = {_ref_key(t.get("fieldRef")) for t in table if t.get("fieldRef") is not None}
        mentioned_names = {t.get("name") for t in table}
        enabled = [(t.get("fieldRef"), t.get("name")) for t in table if t.get("enabled")]
        rest = [
            col
            for col in cols
            if col["name"] not in mentioned_names and _ref_key(col.get("field_ref")) not in mentioned_refs
        ]
        return enabled + [(col.get("field_ref"), col["name"]) for col in rest]
    return [
        (col.get("field_ref") or ["field", col.get("id") or col["name"], None], col["name"]) for col in cols
    ]


def order_cols(
    cols: Sequence[Mapping[str, Any]], visualization_settings: Mapping[str, Any] | None
) -> tuple[list[dict[str, Any]], list[int]]:
    """The exported columns and, for each, its index in a result row. A remapped column (FK shown as the
    referenced name) takes its source's place, and the source is left out."""
    deduped = _deduplicate_names(cols)
    index: dict[Any, int] = {}
    for i, col in enumerate(deduped):
        index[col["name"]] = i
        if col.get("field_ref") is not None:
            index[_ref_key(col["field_ref"])] = i
    order = []
    for field_ref, name in _table_columns(deduped, visualization_settings or {}):
        i = index.get(_ref_key(field_ref)) if field_ref is not None else None
        i = index.get(name) if i is None else i
        if i is None:
            continue
        col = deduped[i]
        if col.get("remapped_to"):
            target = index.get(col["remapped_to"])
            if target is not None:
                order.append(target)
        elif not col.get("remapped_from"):
            order.append(i)
    return [deduped[i] for i in order], order


def stream(
    export_format: str,
    cols: Sequence[Mapping[str, Any]],
    batches: Iterable[Sequence[Sequence[Any]]],
    *,
    format_rows: bool,
    visualization_settings: Mapping[str, Any] | None = None,
) -> Iterator[bytes]:
    """The download as byte chunks, pulling batches of rows only as the consumer asks for more.

    The format is checked now (a bad one raises ValueError before any response starts); the writer is made
    on the first chunk and closed when the iterator ends or is closed (a client gone mid-download)."""
    _check_format(export_format)
    ordered, order = order_cols(cols, visualization_settings)
    identity = order == list(range(len(cols)))
    factory = _WRITERS[export_format]
    return _chunks(
        lambda: factory(ordered, format_rows=format_rows, visualization_settings=visualization_settings),
        batches,
        None if identity else order,
    )


def _chunks(
    make_writer: Callable[[], ResultsWriter],
    batches: Iterable[Sequence[Sequence[Any]]],
    order: list[int] | None,
) -> Iterator[bytes]:
    writer: ResultsWriter = make_writer()
    try:
        header = writer.begin()
        if header:
            yield header  # flushed at once, as Metabase does, so the download starts before the rows
        pending: list[bytes] = []
        size = 0
        for batch in batches:
            piece = writer.write_rows(batch if order is None else [[row[i] for i in order] for row in batch])
            if piece:
                pending.append(piece)
                size += len(piece)
                if size >= CHUNK_SIZE:
                    yield b"".join(pending)
                    pending, size = [], 0
        if pending:
            yield b"".join(pending)
        yield from writer.finish()
    finally:
        writer.close()
