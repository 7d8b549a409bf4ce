"""The HTML of subscription and alert emails, and their CSV/XLSX attachments.

A card's part is rendered from its JSON answer (what `POST /api/card/:id/query` returns): a title linking
to the question, then its first rows as a table. Attachments are written from the same answer by the
download writers (`query_processor/streaming`), as Metabase streams its `:api` results to attachments.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any

from querybase.models.card import Card
from querybase.query_processor import streaming
from querybase.query_processor.streaming.api import export_filename_timestamp

# How many rows of a result the email shows; the attachments hold them all.
ROW_LIMIT = 20
_STYLE = {
    "body": "font-family: Lato, 'Helvetica Neue', Helvetica, Arial, sans-serif; color: #4C5773; margin: 0;",
    "page": "max-width: 800px; margin: 0 auto; padding: 24px;",
    "card": "margin: 24px 0;",
    "table": "border-collapse: collapse; width: 100%; font-size: 12px;",
    "th": "text-align: left; padding: 6px 8px; border-bottom: 1px solid #EDF2F5; color: #949AAB;",
    "td": "padding: 6px 8px; border-bottom: 1px solid #EDF2F5;",
    "scalar": "font-size: 32px; font-weight: 700; color: #4C5773; margin: 8px 0;",
    "note": "font-size: 12px; color: #949AAB;",
    "footer": "margin-top: 32px; font-size: 12px; color: #949AAB;",
}
NO_RESULTS = "No results"
QUERY_FAILED = "There was a problem with this question."


@dataclass
class CardPart:
    """A card of a subscription or alert with its answer, and which attachments it asked for."""

    card: Card
    answer: dict[str, Any]
    include_csv: bool = False
    include_xls: bool = False
    format_rows: bool = True

    @property
    def completed(self) -> bool:
        return self.answer.get("status") == "completed"

    @property
    def empty(self) -> bool:
        """No rows, or the single row of nulls an aggregation of nothing gives (Metabase's rule)."""
        rows = (self.answer.get("data") or {}).get("rows") or []
        return not self.completed or not rows or rows == [[None]]


@dataclass
class TextPart:
    """A text or heading card of a dashboard, or a tab's title."""

    text: str
    heading: bool = False


Part = CardPart | TextPart


@dataclass
class Page:
    title: str
    title_url: str
    parts: list[Part] = field(default_factory=list)
    # Shown under the title: the filter values a dashboard subscription runs with.
    filters: list[tuple[str, str]] = field(default_factory=list)
    intro: str | None = None


def _style(name: str) -> str:
    return f' style="{_STYLE[name]}"'


def format_value(value: Any, col: dict[str, Any]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if col.get("semantic_type") in ("type/PK", "type/FK"):
            return str(value)
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return f"{int(value):,}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _table(answer: dict[str, Any]) -> str:
    data = answer.get("data") or {}
    cols = data.get("cols") or []
    rows = data.get("rows") or []
    header = "".join(
        f"<th{_style('th')}>{html.escape(str(c.get('display_name') or c.get('name')))}</th>" for c in cols
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{_style('td')}>{html.escape(format_value(value, col))}</td>"
            for value, col in zip(row, cols, strict=False)
        )
        + "</tr>"
        for row in rows[:ROW_LIMIT]
    )
    table = f"<table{_style('table')}><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    if len(rows) > ROW_LIMIT:
        table += f"<p{_style('note')}>Showing first {ROW_LIMIT} of {len(rows):,} rows.</p>"
    return table


def card_html(part: CardPart, site_url: str) -> str:
    card = part.card
    title = f'<h3><a href="{html.escape(card_url(site_url, card.id))}">{html.escape(card.name)}</a></h3>'
    data = part.answer.get("data") or {}
    rows = data.get("rows") or []
    if not part.completed:
        content = f"<p>{QUERY_FAILED}</p>"
    elif part.empty:
        content = f"<p{_style('note')}>{NO_RESULTS}</p>"
    elif card.display == "scalar" and len(rows) == 1 and len(rows[0]) == 1:
        content = f"<p{_style('scalar')}>{html.escape(format_value(rows[0][0], data['cols'][0]))}</p>"
    else:
        content = _table(part.answer)
    if (part.include_csv or part.include_xls) and not part.empty:
        content += f"<p{_style('note')}>More results have been included as a file attachment.</p>"
    return f"<div{_style('card')}>{title}{content}</div>"


def part_html(part: Part, site_url: str) -> str:
    if isinstance(part, CardPart):
        return card_html(part, site_url)
    tag = "h2" if part.heading else "p"
    return f"<{tag}>{html.escape(part.text)}</{tag}>"


def page_html(page: Page, site_url: str, management: tuple[str, str | None]) -> str:
    """The whole email; `management` is the footer link's text and address (none for a test send)."""
    text, url = management
    filters = "".join(
        f"<p{_style('note')}>{html.escape(name)}: {html.escape(value)}</p>" for name, value in page.filters
    )
    intro = f"<p>{html.escape(page.intro)}</p>" if page.intro else ""
    footer = f'<p{_style("footer")}><a href="{html.escape(url)}">{html.escape(text)}</a></p>' if url else ""
    parts = "".join(part_html(p, site_url) for p in page.parts)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body{_style("body")}>'
        f"<div{_style('page')}>"
        f'<h1><a href="{html.escape(page.title_url)}">{html.escape(page.title)}</a></h1>'
        f"{intro}{filters}{parts}{footer}</div></body></html>"
    )


def attachments(part: CardPart) -> list[tuple[str, bytes, str]]:
    """The part's CSV and XLSX files (named after the card, as Metabase names them), when asked for and
    there are rows."""
    if part.empty:
        return []
    data = part.answer["data"]
    settings = (
        part.card.visualization_settings if isinstance(part.card.visualization_settings, dict) else None
    )
    files = []
    for wanted, export_format in ((part.include_csv, "csv"), (part.include_xls, "xlsx")):
        if not wanted:
            continue
        content = b"".join(
            streaming.stream(
                export_format,
                data["cols"],
                [data["rows"]],
                format_rows=part.format_rows,
                visualization_settings=settings,
            )
        )
        name = f"{part.card.name}_{export_filename_timestamp()}.{export_format}"
        files.append((name, content, streaming.media_type(export_format).split(";")[0]))
    return files


def site_root(site_url: str | None) -> str:
    return (site_url or "").rstrip("/")


def card_url(site_url: str, card_id: int) -> str:
    return f"{site_url}/question/{card_id}"


def dashboard_url(site_url: str, dashboard_id: int) -> str:
    return f"{site_url}/dashboard/{dashboard_id}"
