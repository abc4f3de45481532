"""The Menu page against a real daemon: an item 86'd with its toggle (in a real Chromium, and
as a posted form) is refused by the next line and shown on the page until it is available
again, even when the hub manages the menu; modifier groups, categories and an open-priced
item are made with the page's forms, and one that breaks a rule is refused naming it."""

from __future__ import annotations

import html
import re

import pytest

from edge.orders.log import Actor
from edge.runtime.errors import ItemUnavailable
from tests.support.browser import WAIT, chromium
from tests.support.managed_node import PASSWORD, Browser, start_managed_node

FLASH = re.compile(r'class="flash flash-(ok|error)"[^>]*>([^<]*)<')
FIELD_ERROR = re.compile(r'class="field-error" id="e-([^"]+)">([^<]*)<')
TILL = Actor("Counter 1 (t-00000001)")


def flashes(page: str) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text)) for kind, text in FLASH.findall(page)]


@pytest.fixture
async def node(tmp_path):
    node = await start_managed_node(tmp_path)
    yield node
    await node.close()


@pytest.fixture
async def ann(node):
    browser = await Browser(node).sign_in("ann")
    yield browser
    await browser.close()


async def test_an_item_86d_in_a_browser_is_refused_at_the_till_until_it_is_back(node):
    book = node.daemon.book
    order = await book.open_order(TILL)
    async with chromium() as browser:
        page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
        page.set_default_timeout(WAIT)
        await page.goto(f"{node.url}/ui/signin")
        await page.fill("input[name=name]", "ann")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{node.url}/ui/")
        await page.goto(f"{node.url}/ui/menu")
        row = page.locator("#item-FRIES")
        await row.locator("input[name=reason]").fill("fryer down")
        await row.locator("button", has_text="86").click()
        await page.wait_for_url(f"{node.url}/ui/menu#item-FRIES")
        said = await page.locator(".flash-ok").inner_text()
        assert "‘Fries’ is unavailable (86) on every node of the store: fryer down" in said
        assert "86: fryer down" in await page.locator("#item-FRIES").inner_text()
        assert book.availability.now().items["FRIES"].by == "ann (web UI)"
        with pytest.raises(ItemUnavailable):
            await book.add_line(TILL, order.id, sku="FRIES")

        await page.locator("#item-FRIES button", has_text="Available again").click()
        await page.wait_for_url(f"{node.url}/ui/menu#item-FRIES")
        assert "is available again" in await page.locator(".flash-ok").inner_text()
        assert "FRIES" not in book.availability.now().items
        await book.add_line(TILL, order.id, sku="FRIES")

        modifier = page.locator("#modifier-BACON")
        await modifier.locator("button", has_text="86").click()
        await page.wait_for_url(f"{node.url}/ui/menu#modifier-BACON")
        assert "BACON" in book.availability.now().modifiers
        assert await page.locator("#modifier-BACON.unavailable").count() == 1


async def test_86_stays_the_stores_own_when_the_hub_manages_the_menu(tmp_path):
    hub = '\n[upstream]\nurl = "ws://127.0.0.1:9"\ntoken = "ph_' + "t" * 30 + '"\n'
    node = await start_managed_node(tmp_path, (), extra=hub)
    browser = await Browser(node).sign_in("ann")
    try:
        page = await browser.get("/ui/menu")
        assert "The hub manages this store's menu" in page and 'name="reason"' in page
        page = await browser.post(
            "/ui/menu/availability", {"kind": "item", "code": "SODA", "reason": "no CO2"}
        )
        said = "‘Fountain Soda’ is unavailable (86) on every node of the store: no CO2"
        assert flashes(page) == [("ok", said)]
        assert node.daemon.book.availability.now().items["SODA"].reason == "no CO2"
        page = await browser.post(
            "/ui/menu/availability", {"kind": "item", "code": "SODA", "available": "yes"}
        )
        assert node.daemon.book.availability.now().items == {}
        page = await browser.post("/ui/menu/availability", {"kind": "item", "code": "PIZZA"})
        assert page.status == 404
    finally:
        await browser.close()
        await node.close()


async def test_a_group_a_category_and_an_open_priced_item_are_made_on_the_page(node, ann):
    group = {"id": "cuts", "name": "Cut", "min": "1", "max": "1", "max_each": "1",
             "modifiers": "HALF | Cut in half | 0\nQUARTER | In quarters | 0.25"}  # fmt: skip
    page = await ann.post("/ui/menu/modifier_groups/save", group)
    assert flashes(page) == [("ok", "Saved modifier group ‘Cut’")]
    page = await ann.post(
        "/ui/menu/categories/save", {"id": "pies", "name": "Pies", "position": "7"}
    )
    assert flashes(page) == [("ok", "Saved category ‘Pies’")]
    item = [("sku", "PIE"), ("name", "Pot pie"), ("price", ""), ("open_min", "4"),
            ("open_max", "9.50"), ("tax", "food"), ("station", "grill"), ("category", "pies"),
            ("modifier_groups", "cuts"), ("modifier_groups", "sauces")]  # fmt: skip
    page = await ann.post("/ui/menu/items/save", item)
    said = "Added ‘Pot pie’ at an open price, 4.00 to 9.50 USD; every node of the store has it now"
    assert flashes(page) == [("ok", said)]
    catalog = await node.daemon.book.catalog()
    pie = catalog.items["PIE"]
    assert (pie.category, pie.group_ids) == ("pies", ["cuts", "sauces"])
    assert (pie.open_price.min, pie.open_price.max) == (400, 950)
    assert list(catalog.groups["cuts"].modifiers) == ["HALF", "QUARTER"]  # in the lines' order
    page = await ann.get("/ui/menu")
    assert "required, choose 1" in page and "open, 4.00–9.50" in page
    edit = await ann.get("/ui/menu/items/PIE/edit")
    assert re.search(r'value="cuts" checked>.*value="sauces" checked>', edit, re.S)
    order = await node.daemon.book.open_order(TILL)
    view, _ = await node.daemon.book.add_line(
        TILL, order.id, sku="PIE", price=725, modifiers=["QUARTER"]
    )
    assert view.lines[0].gross == 750


async def test_a_group_or_item_that_breaks_a_rule_is_refused_naming_it(node, ann):
    bad = {"id": "cuts", "name": "Cut", "min": "3", "max": "2", "modifiers": "HALF | Half | 0"}
    page = await ann.post("/ui/menu/modifier_groups/save", bad)
    [(kind, said)] = flashes(page)
    assert kind == "error" and "max: at least the minimum (3)" in said
    dup = {"id": "extras", "name": "Extras", "modifiers": "CHEESE | More cheese | 1"}
    page = await ann.post("/ui/menu/modifier_groups/save", dup)
    [(kind, said)] = flashes(page)
    assert (
        kind == "error" and "modifier_groups.extras: modifier CHEESE is in group 'toppings'" in said
    )
    assert "extras" not in (await node.daemon.book.catalog()).groups
    page = await ann.post("/ui/menu/modifier_groups/doneness/remove", {})
    [(kind, said)] = flashes(page)
    assert kind == "error" and "items.ANGUS: modifier group 'doneness'" in said
    page = await ann.post(
        "/ui/menu/items/save",
        {"sku": "PIE", "name": "Pie", "price": "4", "open_min": "9", "open_max": "2",
         "tax": "food"},
    )  # fmt: skip
    assert page.status == 400
    assert dict(FIELD_ERROR.findall(page)) == {
        "price": "leave the price empty: an open-priced item&#39;s price is typed at the till",
        "open_max": "the highest price is below the lowest",
    }
