"""Search benchmark: `.venv/bin/python bench/search.py` prints `GET /api/search` latencies on 100,000 items.

A fresh SQLite app DB is set up through the API, then filled directly with 60,000 cards, 25,000 dashboards
and 15,000 collections (names of three words from a 5,000-word vocabulary, and a description), indexed as
the search-index migration indexes existing content. The server is restarted on it and each search is timed
over HTTP, best of 10, against one HTTP round trip (`GET /api/health`), with how many rows matched. For
scale, the time SQLite takes to find the same cards by scanning their names with `LIKE` is shown too (the
full scan the search index avoids).
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from run import EMAIL, PASSWORD, Server, best_of, free_port, request, set_up
from sqlalchemy import create_engine, insert

from querybase.models.base import new_entity_id, utcnow
from querybase.models.card import Card
from querybase.models.collection import Collection
from querybase.models.dashboard import Dashboard
from querybase.models.search_index import rebuild

CARDS, DASHBOARDS, COLLECTIONS = 60_000, 25_000, 15_000
VOCABULARY = 5_000
SYLLABLES = ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "bar", "den", "fol", "gri", "hun")


def vocabulary() -> list[str]:
    """Distinct made-up words, so that how often each is used is known."""
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(random.choice(SYLLABLES) for _ in range(random.randint(2, 4))))
    return sorted(words)


def fill(database: Path, user_id: int) -> dict[str, str]:
    """Insert the items and index them; answer the words to search for, by how common they are."""
    random.seed(7)
    words = vocabulary()
    # Word i is drawn with weight 1 / (i + 1): a few words are everywhere, most are rare.
    weights = [1 / (i + 1) for i in range(len(words))]

    def name() -> str:
        return " ".join(random.choices(words, weights, k=3)).capitalize()

    now = utcnow()
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        collections = [
            {
                "name": name(),
                "slug": f"c{i}",
                "location": "/",
                "entity_id": new_entity_id(),
                "created_at": now,
            }
            for i in range(COLLECTIONS)
        ]
        conn.execute(insert(Collection), collections)
        collection_ids = [
            row[0] for row in conn.exec_driver_sql("SELECT id FROM collection WHERE slug LIKE 'c%'")
        ]
        query = {"database": 1, "type": "native", "native": {"query": "SELECT 1"}}
        conn.execute(
            insert(Card),
            [
                {
                    "name": name(),
                    "description": f"About {name().lower()}",
                    "type": "question",
                    "display": "table",
                    "dataset_query": query,
                    "visualization_settings": {},
                    "query_type": "native",
                    "database_id": 1,
                    "creator_id": user_id,
                    "collection_id": random.choice(collection_ids),
                    "entity_id": new_entity_id(),
                    "created_at": now,
                    "updated_at": now,
                }
                for _ in range(CARDS)
            ],
        )
        conn.execute(
            insert(Dashboard),
            [
                {
                    "name": name(),
                    "description": None,
                    "parameters": [],
                    "creator_id": user_id,
                    "collection_id": random.choice(collection_ids),
                    "entity_id": new_entity_id(),
                    "created_at": now,
                    "updated_at": now,
                }
                for _ in range(DASHBOARDS)
            ],
        )
        rebuild(conn)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {"common word": words[0], "uncommon word": words[200], "rare word": words[-1]}


def scan_seconds(database: Path, word: str) -> float:
    """How long SQLite takes to find the cards whose name contains `word` by reading every name."""
    conn = sqlite3.connect(database)
    seconds = best_of(
        10,
        lambda: conn.execute(
            "SELECT id FROM report_card WHERE lower(name) LIKE ?", (f"%{word}%",)
        ).fetchall(),
    )
    conn.close()
    return seconds


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="qb-search-bench-"))
    results: list[tuple[str, str, str]] = []
    try:
        fresh = Server(folder, free_port())
        headers = set_up(fresh.base)
        user_id = json.loads(request("GET", fresh.base + "/api/user/current", headers=headers))["id"]
        fresh.stop()
        database = folder / "app.db"
        started = time.perf_counter()
        searched = fill(database, user_id)
        results.append(("fill and index 100,000 items", f"{time.perf_counter() - started:.1f} s", ""))

        server = Server(folder, free_port())
        credentials = {"username": EMAIL, "password": PASSWORD}
        session = json.loads(request("POST", server.base + "/api/session", credentials))["id"]
        headers = {"X-Metabase-Session": session}
        round_trip = best_of(20, lambda: request("GET", server.base + "/api/health"))
        results.append(("GET /api/health (one round trip)", f"{round_trip * 1000:.1f} ms", ""))
        queries = {f"q={label} ({word})": {"q": word} for label, word in searched.items()}
        words = list(searched.values())
        queries["q=two words"] = {"q": f"{words[0]} {words[1]}"}
        queries["q=unfinished word"] = {"q": words[2][:3]}
        queries["q=rare word, models=card"] = {"q": words[2], "models": "card"}
        queries["q=common word, created_at=thisyear"] = {"q": words[0], "created_at": "thisyear"}
        queries["q=common word, limit=50"] = {"q": words[0], "limit": "50"}
        for label, params in queries.items():
            url = f"{server.base}/api/search?{urllib.parse.urlencode(params)}"
            total = json.loads(request("GET", url, headers=headers))["total"]
            seconds = best_of(10, lambda url=url: request("GET", url, headers=headers))
            results.append((f"GET /api/search {label}", f"{seconds * 1000:.1f} ms", f"{total} results"))
        server.stop()
        for label, word in searched.items():
            seconds = scan_seconds(database, word)
            results.append(
                (f"(scale) SQLite LIKE scan of card names, {label}", f"{seconds * 1000:.1f} ms", "")
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    width = max(len(name) for name, _, _ in results)
    for name, figure, note in results:
        print(f"{name:<{width}}  {figure:<12} {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
