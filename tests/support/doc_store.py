"""The document store's test helpers: an author of Yjs updates, what updates add up to, a
look at the store's file from a connection of its own, and a store opened for one test."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from pycrdt import Doc, Map

from sync.store import DocStore

GUID = "s1/orders/2026-11-20"
OTHER = "s1/orders/2026-11-21"


class Author:
    """A Yjs doc that keeps the update of each change, as a node writing orders would."""

    def __init__(self) -> None:
        self.doc = Doc()
        self.map = self.doc.get("orders", type=Map)
        self.updates: list[bytes] = []
        self.doc.observe(lambda event: self.updates.append(event.update))

    def put(self, key: str, value: object) -> bytes:
        """Set one key in one transaction; return that transaction's update."""
        self.map[key] = value
        return self.updates[-1]


def content(updates: list[bytes]) -> dict:
    """What a fresh doc holds after applying `updates` in order."""
    doc = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc.get("orders", type=Map).to_py()


def query(path: Path, sql: str) -> list[tuple]:
    """Run `sql` on the store's file through a separate sqlite3 connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def opened(path: Path, **options):
    store = await DocStore.open(path, **options)
    try:
        yield store
    finally:
        await store.close()


async def settings_of(store: DocStore) -> dict[str, object]:
    """The durability settings in force on the store's own connection."""
    [(journal_mode,)] = await store._conn.execute_fetchall("PRAGMA journal_mode")
    [(synchronous,)] = await store._conn.execute_fetchall("PRAGMA synchronous")
    levels = {0: "off", 1: "normal", 2: "full", 3: "extra"}
    return {"journal_mode": journal_mode, "synchronous": levels.get(synchronous, synchronous)}
