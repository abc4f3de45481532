"""What is unavailable store-wide ("86"), kept as registers of the store document over a
real store: marked and cleared, heard by listeners, read back after a restart, and refused
by the order book's line check."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.app import open_store_document
from edge.orders.availability import ITEM_KIND, MODIFIER_KIND, Availability
from edge.orders.log import Actor
from edge.orders.menu_rules import Mark
from edge.runtime.errors import ItemUnavailable
from sync.replica import Replica
from sync.store import DocStore

CASHIER = Actor("till-1")
NOW = dt.datetime(2026, 11, 20, 18, 5, 7, 250_000, tzinfo=dt.UTC)


@pytest.fixture
async def availability(book, replica):
    document = await open_store_document(replica, book.store_id, book.node.name)
    book.availability = Availability(document)
    yield book.availability
    document.close()


async def test_a_mark_is_kept_in_the_store_document_and_cleared_again(availability, book):
    heard = []
    availability.subscribe(heard.append)
    mark = await availability.mark(
        ITEM_KIND, "ANGUS", reason="out of patties", by="Grill (t-1)", now=NOW
    )
    assert mark == Mark("out of patties", "Grill (t-1)", "2026-11-20T18:05:07+00:00")
    await availability.mark(MODIFIER_KIND, "BACON", reason="", by="Ann (web UI)", now=NOW)
    now = availability.now()
    assert now.items == {"ANGUS": mark} and set(now.modifiers) == {"BACON"}
    assert heard[-1] == now and len(heard) == 2
    assert await availability.clear(ITEM_KIND, "ANGUS") is True
    assert await availability.clear(ITEM_KIND, "ANGUS") is False  # nothing to clear: no write
    assert availability.now().items == {} and len(heard) == 3


async def test_the_book_refuses_what_is_unavailable_and_sells_it_once_it_is_back(
    availability, book
):
    order = await book.open_order(CASHIER)
    await availability.mark(ITEM_KIND, "FRIES", reason="fryer down", by="x", now=NOW)
    await availability.mark(MODIFIER_KIND, "CHEESE", reason="", by="x", now=NOW)
    with pytest.raises(ItemUnavailable, match="Fries is unavailable for now: fryer down") as no:
        await book.add_line(CASHIER, order.id, sku="FRIES")
    assert no.value.field == "/sku"
    with pytest.raises(ItemUnavailable) as no:  # CHEESE of an item's own table is 86'd too
        await book.add_line(CASHIER, order.id, sku="BURGER", modifiers=["BACON", "CHEESE"])
    assert no.value.field == "/modifiers/1"
    assert (await book.get(order.id)).lines == ()
    await availability.clear(ITEM_KIND, "FRIES")
    view, _ = await book.add_line(CASHIER, order.id, sku="FRIES")
    assert [line.sku for line in view.lines] == ["FRIES"]


async def test_marks_outlive_a_restart_and_a_bad_value_still_counts_as_unavailable(tmp_path):
    store = await DocStore.open(tmp_path / "orders.db")
    try:
        document = await open_store_document(Replica(store), "s1", "node-a")
        await Availability(document).mark(ITEM_KIND, "SODA", reason="no CO2", by="x", now=NOW)
        await document.write({"unavailable:modifier:LARGE": "yes"})  # a bad peer's value
        document.close()
    finally:
        await store.close()
    store = await DocStore.open(tmp_path / "orders.db")
    try:
        replica = Replica(store)
        document = await open_store_document(replica, "s1", "node-a")
        now = Availability(document).now()
        assert now.items["SODA"].reason == "no CO2"
        assert now.modifiers == {"LARGE": Mark("", "", "")}
        document.close()
    finally:
        await store.close()
