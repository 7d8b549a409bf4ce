"""Downloads of query results as CSV, JSON and XLSX, streamed as Metabase streams them.

`stream(...)` is what the HTTP layer wraps in a streaming response; `download_headers(...)` gives its headers.
The JSON body of `POST /api/dataset` (the `:api` format) is not built here.
"""

from querybase.query_processor.streaming.api import (
    EXPORT_FORMATS,
    card_filename_prefix,
    content_disposition,
    download_headers,
    media_type,
    order_cols,
    stream,
)

__all__ = [
    "EXPORT_FORMATS",
    "card_filename_prefix",
    "content_disposition",
    "download_headers",
    "media_type",
    "order_cols",
    "stream",
]
