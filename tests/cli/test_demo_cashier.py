"""The demo's cashier rings up orders from the catalog: it answers every required modifier
group, keeps to every group's rules, prices open-priced items within their range, and sells
nothing that is unavailable."""

from __future__ import annotations

import datetime as dt
import random

from edge.app import open_store_document
from edge.cli.demo.cashier import choose_modifiers, ring_up_one
from edge.orders.availability import ITEM_KIND, MODIFIER_KIND, Availability
from edge.orders.menu_rules import Unavailable, chosen_modifiers

NOW = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)


async def test_what_the_cashier_chooses_always_meets_the_items_groups(book):
    catalog = await book.catalog()
    rng = random.Random(7)
    for _ in range(200):
        for item in catalog.items.values():
            modifiers = choose_modifiers(item, rng, Unavailable())
            chosen_modifiers(catalog, item, modifiers, Unavailable())  # raises if it broke one


async def test_the_cashier_rings_up_orders_and_sells_nothing_unavailable(book, replica):
    document = await open_store_document(replica, book.store_id, book.node.name)
    book.availability = Availability(document)
    try:
        for code in ("RARE", "MED-RARE", "MEDIUM", "MED-WELL", "WELL"):  # no Angus can be had
            await book.availability.mark(MODIFIER_KIND, code, reason="", by="test", now=NOW)
        await book.availability.mark(ITEM_KIND, "FRIES", reason="", by="test", now=NOW)
        rng = random.Random(11)
        sold = set()
        for _ in range(40):
            summary = await ring_up_one(book, rng)
            assert "-> closed" in summary or "-> void" in summary, summary
        for view in await book.list_orders(book.business_date()):
            sold |= {line.sku for line in view.lines}
            for line in view.lines:
                if line.sku == "SPECIAL":
                    assert 500 <= line.unit_price <= 5000
        assert sold and not sold & {"ANGUS", "FRIES"}
        assert "SPECIAL" in sold
    finally:
        document.close()
