"""Order books over real stores, for tests that need the order domain."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from edge.orders.book import OrderBook
from edge.orders.catalog import sample_catalog
from edge.orders.log import NodeIdentity
from sync.replica import Replica
from sync.store import DocStore
from tests.support.clocks import SettableClock


async def make_book(
    store: DocStore,
    clock: SettableClock,
    *,
    letter: str = "A",
    name: str = "node-a",
    replica: Replica | None = None,
) -> OrderBook:
    """An order book over `store` (through `replica`, made here unless given) for store `s1`
    in New York, with the sample catalog."""
    book = OrderBook(
        replica or Replica(store),
        store_id="s1",
        node=NodeIdentity(name, letter),
        zone=ZoneInfo("America/New_York"),
        rollover_hour=4,
        now=clock,
    )
    await book.start()
    if not (await book.catalog()).items:
        await book.import_catalog(sample_catalog())
    return book
