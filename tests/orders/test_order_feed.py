"""The order feed's resume points, and the index it keeps current."""

from __future__ import annotations

import asyncio

import pytest

from edge.orders.feed import OrderFeed
from edge.orders.index import OrderIndex, OrderQuery
from edge.orders.log import Actor
from edge.orders.status import Status
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book

CASHIER = Actor("cashier")


async def test_each_durable_update_names_the_orders_it_changed(book, replica):
    feed = OrderFeed(replica, store_id=book.store_id)
    heard = []
    unsubscribe = feed.subscribe(heard.append)
    first = await book.open_order(CASHIER)
    await book.add_line(CASHIER, first.id, sku="SODA")
    second = await book.open_order(CASHIER)
    await book.import_catalog({"settings": {"currency": "USD"}})
    unsubscribe()
    await book.fire(CASHIER, first.id)
    assert [(c.order_ids, c.catalog) for c in heard] == [
        ((first.id,), False),
        ((first.id,), False),
        ((second.id,), False),
        ((), True),
    ]
    cursors = [c.cursor for c in heard]
    assert cursors == sorted(cursors) and cursors[-1] < feed.cursor
    assert [c.order_ids for c in feed.since(cursors[1])] == [(second.id,), (), (first.id,)]
    assert feed.since(feed.cursor) == []


async def test_a_feed_forgets_old_changes_and_says_so(book, replica):
    feed = OrderFeed(replica, store_id=book.store_id, history=3)
    start = feed.cursor
    assert feed.since(start) == [] and feed.since(start - 1) is None
    orders = [await book.open_order(CASHIER) for _ in range(5)]
    assert feed.since(start) is None  # two changes were forgotten
    remembered = feed.since(feed.floor)
    assert [c.order_ids for c in remembered] == [(o.id,) for o in orders[2:]]
    assert feed.since(feed.cursor + 1) is None  # a cursor this store never gave out


async def test_the_feed_follows_a_document_reloaded_after_a_failed_write(book, replica):
    feed = OrderFeed(replica, store_id=book.store_id)
    heard = []
    feed.subscribe(heard.append)
    order = await book.open_order(CASHIER)
    replica.unload(book.day_guid(book.business_date()))
    await book.add_line(CASHIER, order.id, sku="COOKIE")
    assert [c.order_ids for c in heard] == [(order.id,), (order.id,)]


async def test_the_index_is_built_in_slices_and_kept_current_meanwhile(book, replica, monkeypatch):
    for _ in range(450):
        await book.open_order(CASHIER)
    feed = OrderFeed(replica, store_id=book.store_id)
    index = OrderIndex(book, feed)
    monkeypatch.setattr("edge.orders.index.BUILD_SLICE", 100)
    day = book.business_date()
    building = asyncio.ensure_future(index.day(day))
    await asyncio.sleep(0)  # the build has read the day and derived its first slice
    assert not building.done()  # and lets others run before the next
    late = await book.open_order(CASHIER, table="T1")  # while the build goes on
    page, _ = await index.search(day, OrderQuery(limit=500))
    await building
    assert len(page) == 451 and page[-1].id == late.id
    await book.void_order(CASHIER, late.id, "test")
    open_count = index.open_count(day)
    assert open_count == 450
    voided, _ = await index.search(day, OrderQuery(statuses=frozenset({Status.VOID})))
    assert [s.id for s in voided] == [late.id]


@pytest.mark.parametrize("token", ["%%%", "bm90IGEgdG9rZW4"])
async def test_a_page_token_from_nowhere_is_invalid_input(book, replica, token):
    from edge.runtime.errors import InvalidInput

    index = OrderIndex(book, OrderFeed(replica, store_id=book.store_id))
    await book.open_order(CASHIER)
    with pytest.raises(InvalidInput, match="/after"):
        await index.search(book.business_date(), OrderQuery(after=token))


async def test_the_index_keeps_the_days_asked_about_most_recently(
    book, replica, clock, monkeypatch
):
    monkeypatch.setattr("edge.orders.index.KEPT_DAYS", 2)
    index = OrderIndex(book, OrderFeed(replica, store_id=book.store_id))
    days = []
    for _ in range(3):
        days.append(book.business_date())
        await book.open_order(CASHIER)
        await index.day(days[-1])
        clock.advance(days=1)
    assert index.open_count(days[0]) is None  # forgotten: the two later days were asked
    assert index.open_count(days[2]) == 1
    page, _ = await index.search(days[0], OrderQuery())
    assert len(page) == 1  # read again when asked


async def test_an_order_that_arrives_ahead_of_an_update_it_depends_on_is_named_once_in(
    book, replica, clock, tmp_path
):
    """A peer writes a print fact and then opens an order; a third node relays the order
    first. Yrs holds it pending, tells of it in an empty update, and tells nothing when the
    fact brings it in: the feed names it with the update that does."""
    feed = OrderFeed(replica, store_id=book.store_id)
    heard = []
    feed.subscribe(heard.append)
    peer_store = await DocStore.open(tmp_path / "peer.db")
    try:
        peer_replica = Replica(peer_store)
        peer = await make_book(peer_store, clock, letter="B", name="node-b", replica=peer_replica)
        guid = peer.day_guid(peer.business_date())
        sent: list[bytes] = []
        peer_replica.add_listener(lambda g, update, *_: sent.append(update) if g == guid else None)
        first = await peer.open_order(CASHIER)
        await peer.record_print_fact(first.id, "ticket-1", "printed", "kitchen")
        second = await peer.open_order(CASHIER)
        opened, fact, later = sent
        await replica.create(guid, "orders", {"business_date": peer.business_date().isoformat()})
        assert await replica.apply_update(guid, opened, "peer node-b")
        assert not await replica.apply_update(guid, later, "peer node-b")  # held pending
        assert replica.waiting(guid)
        assert await replica.apply_update(guid, fact, "peer node-b")
        assert not replica.waiting(guid)
        assert [c.order_ids for c in heard] == [(first.id,), (second.id,)]
        assert (await book.get(second.id)).number == second.number
    finally:
        await peer_store.close()
