"""The upstream backlog kept as changes become durable, over a real store file: changes
made while the process runs, changes from before it started, and the hub's acknowledgement
clearing them."""

from __future__ import annotations

import pytest

from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from edge.orders.log import Actor
from edge.replication.backlog import BacklogTracker
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book

CASHIER = Actor("Counter (t-0001)")
LINK = "hub"


async def sell(book: OrderBook, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        order = await book.open_order(CASHIER, channel="counter")
        await book.add_line(CASHIER, order.id, sku="BURGER")
        ids.append(order.id)
    return ids


async def acknowledge(book: OrderBook, replica: Replica) -> None:
    """What the link records when the hub shows it holds everything of today."""
    guid = book.day_guid(book.business_date())
    state = replica.loaded(guid).get_state()
    await replica.store.save_link_progress(LINK, guid, state, replica.store.last_seq)


@pytest.fixture
async def replica(tmp_path):
    store = await DocStore.open(tmp_path / "store.db")
    try:
        yield Replica(store)
    finally:
        await store.close()


@pytest.fixture
async def book(replica, clock):
    return await make_book(replica.store, clock, replica=replica)


def tracker(book: OrderBook, replica: Replica) -> BacklogTracker:
    return BacklogTracker(book, replica, OrderFeed(replica, store_id=book.store_id), LINK)


async def test_changes_made_while_running_count_until_the_hub_acknowledges_them(book, replica):
    backlog = tracker(book, replica)
    first = await sell(book, 10)
    figures = await backlog.backlog()
    assert (figures.documents, figures.orders) == (1, 10) and figures.bytes > 0
    assert figures.oldest_age is not None and figures.oldest_age >= 0
    await acknowledge(book, replica)
    assert (await backlog.backlog()).orders == 0
    await sell(book, 2)
    await book.add_line(CASHIER, first[0], sku="FRIES")  # an acknowledged order changes
    figures = await backlog.backlog()
    assert (figures.documents, figures.orders) == (1, 3)


async def test_changes_from_before_the_process_started_are_found_once(book, replica):
    await sell(book, 10)  # before the tracker, as before a restart
    backlog = tracker(book, replica)
    assert (await backlog.backlog()).orders == 10
    await sell(book, 4)
    figures = await backlog.backlog()
    assert (figures.documents, figures.orders) == (1, 14)
    await acknowledge(book, replica)
    figures = await backlog.backlog()
    assert (figures.documents, figures.orders, figures.bytes) == (0, 0, 0)
    assert figures.oldest_age is None
