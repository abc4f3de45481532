"""A kitchen screen's 86 panel in a real headless Chromium: it lists the station's items and
their modifiers, a tap marks one unavailable on every till (refused at the next line) and a
second tap brings it back, a mark made at a till shows on the panel, and expo has none."""

from __future__ import annotations

import datetime as dt

from tests.support.api_node import Terminal, start_node
from tests.support.browser import WAIT, chromium
from tests.support.clocks import LiveClock
from tests.support.kds_screens import open_screen


def code_for(node, name: str) -> str:
    return node.context.terminals.codes.create_code(
        name, "kds", ttl=dt.timedelta(minutes=5), now=node.clock()
    ).code


async def test_a_screen_86s_an_item_of_its_station_and_brings_it_back(tmp_path):
    node = await start_node(tmp_path / "node", LiveClock())
    try:
        till = Terminal(node, await node.pair())
        order = (await till.post("/orders"))["order"]
        lines = f"/orders/{order['id']}/lines"
        async with chromium() as browser:
            page = await open_screen(browser, f"{node.url}/kds/fryer", code_for(node, "Fryer"))
            await page.click("#eighty-six-open")
            fries = page.locator('#eighty-six-items button[data-code="FRIES"]')
            await fries.wait_for(timeout=WAIT)
            shown = await page.locator("#eighty-six-items button .name").all_inner_texts()
            assert shown == ["Crispy Chicken Sandwich", "Fries", "Onion Rings"]
            assert await page.locator('#eighty-six-modifiers [data-code="CAJUN"]').count() == 1

            await fries.click()
            await page.wait_for_selector('#eighty-six-items button.unavailable[data-code="FRIES"]')
            mark = node.book.availability.now().items["FRIES"]
            assert mark.by.startswith("Fryer (t-") and "Fryer" in mark.reason
            status, problem, _ = await till.call("POST", lines, {"sku": "FRIES"})
            assert (status, problem["pointer"]) == (409, "/sku")

            await page.click('#eighty-six-items button[data-code="FRIES"]')
            await page.wait_for_selector('#eighty-six-items button.available[data-code="FRIES"]')
            assert "FRIES" not in node.book.availability.now().items
            await till.post(lines, {"sku": "FRIES"})

            # A mark made at a till shows on the open panel by itself.
            await till.call("PUT", "/catalog/modifiers/CAJUN/availability", {"reason": "out"})
            await page.wait_for_selector(
                '#eighty-six-modifiers button.unavailable[data-code="CAJUN"]', timeout=WAIT
            )
            await page.click("#eighty-six-close")
            assert await page.locator("#eighty-six").is_hidden()

            expo = await open_screen(browser, f"{node.url}/kds/expo", code_for(node, "Expo"))
            assert await expo.locator("#eighty-six-open").is_hidden()
    finally:
        await node.close()
