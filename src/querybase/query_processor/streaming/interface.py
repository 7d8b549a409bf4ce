"""The writer protocol every download format implements: Metabase's `begin!` / `write-row!` / `finish!`
(`query_processor/streaming/interface.clj`), a batch of rows at a time, returning bytes instead of writing
to an output stream so the HTTP layer can hand them to a streaming response as they come."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol


class ResultsWriter(Protocol):
    """One download in progress. Built with the ordered result columns; then `begin`, one `write_rows` per
    batch of rows, `finish`; `close` always, last (also after an abandoned download) to release what the
    writer holds."""

    def begin(self) -> bytes:
        """What comes before the first row (a header, an opening bracket); may be empty."""
        ...

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """The bytes for a batch of rows, values aligned with the columns; may be empty for formats that
        only exist once complete (XLSX)."""
        ...

    def finish(self) -> Iterator[bytes]:
        """The rest of the file, possibly in several chunks."""
        ...

    def close(self) -> None:
        """Release temporary files; safe to call more than once."""
        ...


class WriterFactory(Protocol):
    def __call__(
        self,
        cols: Sequence[Mapping[str, Any]],
        *,
        format_rows: bool,
        visualization_settings: Mapping[str, Any] | None,
    ) -> ResultsWriter: ...
