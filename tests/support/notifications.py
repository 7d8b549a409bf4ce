"""Helpers for the subscription, alert and scheduler tests: cards on the Sample Database, a dashboard of
them, mail set up against a real SMTP server, and running the scheduler's due jobs at a chosen time."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from querybase.scheduler import run_due_jobs
from tests.support.http import Api
from tests.support.smtp import SmtpServer, smtp_server

CATEGORY_SQL = "SELECT CATEGORY, COUNT(*) AS N FROM PRODUCTS GROUP BY CATEGORY ORDER BY CATEGORY"
EMPTY_SQL = "SELECT CATEGORY FROM PRODUCTS WHERE 1 = 0"


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def sample_db_id(api: Api) -> int:
    return next(d["id"] for d in api.as_("crowberto").get("/api/database")["data"] if d["is_sample"])


def native_card(api: Api, sql: str, **extra: Any) -> dict[str, Any]:
    query = {"database": sample_db_id(api), "type": "native", "native": {"query": sql}}
    body = {"name": unique("Card"), "display": "table", "visualization_settings": {}, "dataset_query": query}
    return api.post("/api/card", {**body, **extra})


def rows_of(api: Api, card: dict[str, Any]) -> list[list[Any]]:
    return api.post(f"/api/card/{card['id']}/query", expect=202)["data"]["rows"]


def dashboard_of(api: Api, cards: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A new dashboard showing `cards` one under the other; returns it with its `dashcards`."""
    dashboard = api.post("/api/dashboard", {"name": unique("Dash"), **extra})
    dashcards = [
        {"id": -(i + 1), "card_id": card["id"], "row": 4 * i, "col": 0, "size_x": 6, "size_y": 4}
        for i, card in enumerate(cards)
    ]
    return api.put(f"/api/dashboard/{dashboard['id']}", {"dashcards": dashcards})


@contextmanager
def mail(admin: Api) -> Iterator[SmtpServer]:
    """A real SMTP server, set up as the instance's mail server for the block (then forgotten again:
    the test server is shared)."""
    with smtp_server() as smtp:
        admin.put("/api/email", {"email-smtp-host": smtp.host, "email-smtp-port": smtp.port})
        try:
            yield smtp
        finally:
            admin.delete("/api/email", expect=204)


def next_hour(after: dt.datetime | None = None) -> dt.datetime:
    """The top of the hour after `after` (default: now), in UTC."""
    now = after or dt.datetime.now(dt.UTC)
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def run_jobs(server: Any, at: dt.datetime, *keys: str) -> list[str]:
    """Run the scheduler's due jobs among `keys` as if the clock said `at`; the jobs that ran."""
    app = server.client.app
    claims = run_due_jobs(app.state.appdb, server.config, at, lambda key: key in keys)
    return [claim.job for claim in claims]


def link_query(html: str, marker: str = "/unsubscribe?") -> dict[str, str]:
    """The query parameters of the first link to `marker` in an email's HTML."""
    start = html.index(marker)
    url = html[html.rindex('"', 0, start) + 1 : html.index('"', start)].replace("&amp;", "&")
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
