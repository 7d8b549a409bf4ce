"""Warehouses connected through the API for query tests: one per engine, made on first use and deleted
when the owning fixture ends, with table and field ids read from `GET /api/database/:id/metadata`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.api.test_database import forget, unique, wait_for_sync
from tests.support.http import Api


@dataclass
class Connected:
    """A synced database: its id, engine, and ids by `table` / `table.field`."""

    id: int
    engine: str
    tables: dict[str, int]
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    def table(self, name: str) -> int:
        return self.tables[name]

    def field_id(self, path: str) -> int:
        return int(self.fields[path]["id"])

    def ref(self, path: str, **opts: Any) -> list[Any]:
        """`["field", id, opts]` with kebab-case option keys (`join_alias=` → `join-alias`)."""
        options = {key.replace("_", "-"): value for key, value in opts.items()}
        return ["field", self.field_id(path), options or None]


@contextmanager
def connect(admin: Api, engine: str, details: dict[str, Any]) -> Iterator[Connected]:
    """`details` added through `POST /api/database`, synced, and deleted through the API afterwards."""
    body = admin.post("/api/database", {"engine": engine, "name": unique(engine), "details": details})
    try:
        wait_for_sync(admin, body["id"])
        metadata = admin.get(f"/api/database/{body['id']}/metadata")
        tables = {t["name"]: t["id"] for t in metadata["tables"]}
        fields = {f"{t['name']}.{f['name']}": f for t in metadata["tables"] for f in t["fields"]}
        yield Connected(body["id"], engine, tables, fields)
    finally:
        forget(admin, body["id"])


class Warehouses:
    """Connected warehouses by engine, each made by `make(engine)` when first asked for."""

    def __init__(self, stack: ExitStack, make: Callable[[str], AbstractContextManager[Connected]]):
        self._stack = stack
        self._make = make
        self._connected: dict[str, Connected] = {}

    def __call__(self, engine: str) -> Connected:
        if engine not in self._connected:
            self._connected[engine] = self._stack.enter_context(self._make(engine))
        return self._connected[engine]
