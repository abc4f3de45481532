"""Archiving past business days on a real store file: once peers no longer sync a day and
none of its orders is open, it is closed, compacted and dropped from memory, and it stays
readable. (With a hub, a day also waits for the hub's acknowledgement: tests/hub/test_hub.py.)"""

from __future__ import annotations

import logging

import pytest

from edge.orders.book import OrderBook
from edge.orders.log import Actor
from edge.replication.archive import DayArchive
from edge.runtime.errors import BusinessDayClosed
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book

CASHIER = Actor("Counter (t-0001)")
PEERS_DAYS = 3


async def sell(book: OrderBook, count: int, *, leave_open: int = 0) -> list[str]:
    ids = []
    for n in range(count):
        order = await book.open_order(CASHIER, channel="counter")
        view, _ = await book.add_line(CASHIER, order.id, sku="BURGER")
        ids.append(order.id)
        if n >= count - leave_open:
            continue
        await book.add_payment(
            CASHIER, order.id, key=f"{order.id}-pay", tender="card", amount=view.totals.total
        )
        await book.close(CASHIER, order.id)
    return ids


@pytest.fixture
async def store(tmp_path):
    store = await DocStore.open(tmp_path / "store.db")
    try:
        yield store
    finally:
        await store.close()


async def test_a_day_peers_no_longer_sync_is_archived_and_stays_readable(store, clock):
    replica = Replica(store)
    book = await make_book(store, clock, replica=replica)
    archive = DayArchive(book, store, after_days=PEERS_DAYS)
    days, orders = [], {}
    for _ in range(PEERS_DAYS + 1):
        day = book.business_date()
        days.append(day)
        orders[day] = await sell(book, 5)
        clock.advance(days=1)
    oldest = days[0]
    guid = book.day_guid(oldest)
    assert await archive.sweep() == [oldest, days[1]]  # today is days[-1] + 1 now
    assert store.document(guid).closed and replica.loaded(guid) is None
    assert await store.updates_since(guid, 0) == []  # one compacted snapshot, no tail
    assert not store.document(book.day_guid(days[2])).closed  # peers still sync it

    view = await book.get(orders[oldest][2])  # readable: loaded again from the store
    assert view.status.label == "closed"
    assert [v.id for v in await book.list_orders(oldest)] == orders[oldest]
    with pytest.raises(BusinessDayClosed):
        await book.void_order(CASHIER, view.id, "too late")
    assert await archive.sweep() == []  # nothing new to archive ...
    assert replica.loaded(guid) is None  # ... and the day read since is dropped again


async def test_a_day_with_an_open_order_waits_until_it_is_closed(store, clock, caplog):
    replica = Replica(store)
    book = await make_book(store, clock, replica=replica)
    archive = DayArchive(book, store, after_days=PEERS_DAYS)
    day = book.business_date()
    open_id = (await sell(book, 3, leave_open=1))[-1]
    clock.advance(days=PEERS_DAYS)
    with caplog.at_level(logging.WARNING):
        assert await archive.sweep() == []
        assert await archive.sweep() == []
    warnings = [r.getMessage() for r in caplog.records if "archived once" in r.getMessage()]
    assert len(warnings) == 1 and "open orders" in warnings[0]  # logged once, not per sweep
    assert not store.document(book.day_guid(day)).closed

    await book.void_order(CASHIER, open_id, "walked out")
    assert await archive.sweep() == [day]
