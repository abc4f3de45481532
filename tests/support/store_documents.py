"""The store document over a real store file, for tests of what it holds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from edge.config.store_document import StoreDocument
from edge.orders.clock import HybridClock
from sync.replica import Replica
from sync.store import DocStore


@contextlib.asynccontextmanager
async def open_document(
    directory: Path,
    *,
    store: str = "s1",
    node: str = "node-a",
    wall_ms=lambda: 1_790_000_000_000,
) -> AsyncIterator[StoreDocument]:
    """Store `store`'s document in `directory`/orders.db, written as node `node`."""
    docs = await DocStore.open(directory / "orders.db")
    try:
        document = StoreDocument(Replica(docs), f"{store}/store", HybridClock(node, wall_ms))
        await document.open()
        try:
            yield document
        finally:
            document.close()
    finally:
        await docs.close()
