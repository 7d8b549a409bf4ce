"""The search index (`search_token`): one row per word of each card's, dashboard's and collection's
searchable text, so that `/api/search` finds matches with index range scans instead of reading every row.

A word is a run of letters and digits, lower-cased (`Orders_by-Month` has the words `orders`, `by`,
`month`), cut to 100 characters. Each row says which text the word comes from (`field`): the name (`n`),
the description (`d`) or, for native cards, the SQL (`q`, searched only with `search_native_query`).
A search word matches a row when it is a prefix of the row's word: `token >= word AND token < word'`,
where `word'` is `word` with its last character incremented — a range on the `(model, token)` index. The
column compares code points (binary collation) on every app database, so that range holds exactly the
words that start with `word`. The `(model, model_id, token)` index checks an item's other words.

Rows are kept under the search model (`card`, `dataset` and `metric` apart, by card type), so that a
search of one kind reads that kind's rows only.

Cards, dashboards and collections keep their rows current themselves (`index_item` from their models'
flush events); `rebuild` fills the table from scratch (the migration that creates it, and bulk loads).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Index, Integer, String, TypeDecorator, delete, insert, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from querybase.models.base import Base

TOKEN_LENGTH = 100
NAME, DESCRIPTION, NATIVE_QUERY = "n", "d", "q"
# The search model of each card type.
CARD_MODELS = {"question": "card", "model": "dataset", "metric": "metric"}
_WORD = re.compile(r"[^\W_]+")


class Word(TypeDecorator[str]):
    """A word compared code point by code point (PostgreSQL's "C" collation, MySQL's utf8mb4_bin, SQLite's
    default BINARY), so that prefix ranges are exact."""

    impl = String(TOKEN_LENGTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(String(TOKEN_LENGTH, collation="C"))
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import VARCHAR

            return dialect.type_descriptor(VARCHAR(TOKEN_LENGTH, charset="utf8mb4", collation="utf8mb4_bin"))
        return dialect.type_descriptor(String(TOKEN_LENGTH))


class SearchToken(Base):
    __tablename__ = "search_token"
    __table_args__ = (
        Index("ix_search_token_lookup", "model", "token", "field", "model_id"),
        Index("ix_search_token_item", "model", "model_id", "token", "field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "card", "dataset", "metric" (by card type), "dashboard" or "collection".
    model: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(1))
    token: Mapped[str] = mapped_column(Word())


def words(text: str | None) -> list[str]:
    """The distinct words of `text`, in order, as the index keeps them."""
    if not text:
        return []
    return list(dict.fromkeys(word[:TOKEN_LENGTH] for word in _WORD.findall(text.lower())))


def word_range(word: str) -> tuple[str, str]:
    """The half-open range of indexed words that start with `word`."""
    return word, word[:-1] + chr(ord(word[-1]) + 1)


def matches(search_words: list[str], texts: Iterable[str | None]) -> bool:
    """Whether every search word starts a word of `texts` (the index's rule, for rows checked in Python)."""
    found = {token for text in texts for token in words(text)}
    return all(any(token.startswith(word) for token in found) for word in search_words)


def native_sql(dataset_query: Any) -> str | None:
    """The SQL of a native query, in the legacy (`native.query`) or MBQL 5 (`stages[0].native`) form."""
    if not isinstance(dataset_query, dict):
        return None
    native = dataset_query.get("native")
    if isinstance(native, dict) and isinstance(native.get("query"), str):
        return native["query"]
    stages = dataset_query.get("stages")
    if isinstance(stages, list) and stages and isinstance(stages[0], dict):
        sql = stages[0].get("native")
        return sql if isinstance(sql, str) else None
    return None


def _rows(model: str, model_id: int, texts: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [
        {"model": model, "model_id": model_id, "field": field, "token": token}
        for field, text in texts.items()
        for token in words(text)
    ]


def index_item(connection: Connection, model: str, model_id: int, texts: Mapping[str, str | None]) -> None:
    """Replace an item's rows with the words of `texts` (field → text)."""
    unindex_item(connection, model, model_id)
    rows = _rows(model, model_id, texts)
    if rows:
        connection.execute(insert(SearchToken), rows)


def unindex_item(connection: Connection, model: str, model_id: int) -> None:
    """Drop an item's rows (a card's under whichever card model it was indexed as)."""
    models = list(CARD_MODELS.values()) if model in CARD_MODELS.values() else [model]
    connection.execute(
        delete(SearchToken).where(SearchToken.model.in_(models), SearchToken.model_id == model_id)
    )


def changed(instance: Any, attributes: Iterable[str]) -> bool:
    """Whether a flush is changing any of `attributes` of `instance` (for `after_update` events)."""
    state = inspect(instance)
    return any(state.attrs[name].history.has_changes() for name in attributes)


def card_texts(name: str | None, description: str | None, dataset_query: Any) -> dict[str, str | None]:
    return {NAME: name, DESCRIPTION: description, NATIVE_QUERY: native_sql(dataset_query)}


def rebuild(connection: Connection, batch: int = 5000) -> None:
    """Index every card, dashboard and collection anew (reading only the columns the index needs)."""
    from querybase.models.card import Card
    from querybase.models.collection import Collection
    from querybase.models.dashboard import Dashboard

    connection.execute(delete(SearchToken))
    sources: list[tuple[str, Any, Any]] = [
        (
            "card",
            select(Card.id, Card.name, Card.description, Card.dataset_query, Card.type),
            lambda row: card_texts(row[1], row[2], row[3]),
        ),
        (
            "dashboard",
            select(Dashboard.id, Dashboard.name, Dashboard.description),
            lambda row: {NAME: row[1], DESCRIPTION: row[2]},
        ),
        ("collection", select(Collection.id, Collection.name), lambda row: {NAME: row[1]}),
    ]
    for model, statement, texts in sources:
        rows: list[dict[str, Any]] = []
        for row in connection.execute(statement):
            rows += _rows(CARD_MODELS.get(row[4], "card") if model == "card" else model, row[0], texts(row))
            if len(rows) >= batch:
                connection.execute(insert(SearchToken), rows)
                rows = []
        if rows:
            connection.execute(insert(SearchToken), rows)
