"""Child process of the crash test: writes orders through the real order domain, flat out.

    python crash_writer.py STORE_PATH WRITERS COMPACT_AFTER MAX_SECONDS

Opens the store (DocStore → Replica → OrderBook, sample catalog), prints `{"ready": ...}`,
then runs WRITERS concurrent writers, each looping: open an order, add lines, pay cash,
close. After each operation has returned (its update is durable), it prints one JSON line
naming what was acknowledged, flushed at once. The parent kills this process with SIGKILL at
a random moment and checks that every acknowledged operation survived. MAX_SECONDS bounds
the run should the parent never kill it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.orders.book import OrderBook
from edge.orders.catalog import sample_catalog
from edge.orders.log import Actor, NodeIdentity
from sync.replica import Replica
from sync.store import DocStore

STORE_ID = "crash"
ZONE = ZoneInfo("America/New_York")
ROLLOVER_HOUR = 4
# Every run lands on the same business day (2026-11-20), so each one continues its log.
DAY_START = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
CASHIER = Actor("crash-cashier")


def make_book(replica: Replica, clock: object) -> OrderBook:
    """The order book both the child and the checking parent use."""
    return OrderBook(
        replica,
        store_id=STORE_ID,
        node=NodeIdentity("crash-node", "C"),
        zone=ZONE,
        rollover_hour=ROLLOVER_HOUR,
        now=clock,  # type: ignore[arg-type]
    )


async def count_orders(book: OrderBook) -> int:
    """How many orders the day's document holds (without deriving each one)."""
    return await book.order_count(book.business_date())


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


async def write_orders(book: OrderBook, skus: list[str], writer: int, deadline: float) -> None:
    turn = 0
    while time.monotonic() < deadline:
        view = await book.open_order(CASHIER)
        emit({"op": "open", "order": view.id})
        for index in range(1 + (writer + turn) % 3):
            sku = skus[(writer + turn + index) % len(skus)]
            view, line_id = await book.add_line(CASHIER, view.id, sku=sku)
            emit({"op": "line", "order": view.id, "line": line_id})
        key = f"pay-{view.id}"
        view = await book.add_payment(
            CASHIER, view.id, key=key, tender="cash", amount=view.totals.balance_due
        )
        emit({"op": "pay", "order": view.id, "key": key})
        await book.close(CASHIER, view.id)
        emit({"op": "close", "order": view.id})
        turn += 1


async def main(path: Path, writers: int, compact_after: int, max_seconds: float) -> None:
    started = time.monotonic()

    def clock() -> dt.datetime:
        return DAY_START + dt.timedelta(seconds=time.monotonic() - started)

    store = await DocStore.open(path, compact_after=compact_after)
    try:
        book = make_book(Replica(store), clock)
        await book.start()
        catalog = await book.catalog()
        if not catalog.items:
            catalog = await book.import_catalog(sample_catalog())
        skus = sorted(  # what rings up bare: a set price, no modifier group to answer
            sku
            for sku, item in catalog.items.items()
            if item.price > 0 and not any(group.required for group in item.groups)
        )
        emit({"ready": True, "orders_before": await count_orders(book)})
        deadline = time.monotonic() + max_seconds
        async with asyncio.TaskGroup() as group:
            for writer in range(writers):
                group.create_task(write_orders(book, skus, writer, deadline))
    finally:
        await store.close()


if __name__ == "__main__":
    store_path, writer_count, compact_after, max_seconds = sys.argv[1:]
    asyncio.run(main(Path(store_path), int(writer_count), int(compact_after), float(max_seconds)))
