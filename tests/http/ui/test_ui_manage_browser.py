"""The management pages in a real headless Chromium (Debian's, driven by Playwright) against
a real daemon: a printer added with a bad address (the error shows next to the field) and a
good one (its test page arrives at the emulator), a pairing code made in the UI pairing a
terminal, a technician who cannot open the drawer, every page fitting a phone's width;
screenshots of every page at desktop and phone sizes saved to test-artifacts/ui/ for people
to look at."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Browser, Page

from edge.http.ui.app import ui_routes
from edge.orders.log import Actor
from tests.support.browser import WAIT, chromium
from tests.support.managed_node import PASSWORD, ManagedNode, start_managed_node
from tests.support.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "ui"
SIZES = ((1280, 800), (390, 844))  # a desktop, a phone
PHONE = {"width": 390, "height": 844}  # the phone of SIZES
# The UI's GET routes that are not pages of their own.
NOT_PAGES = {
    "/",
    "/ui",
    "/ui/assets/{name}",
    "/ui/dashboard/live",
    "/ui/devices/status",
    "/ui/orders/{order_id}/receipt.png",
    "/ui/store-ca.pem",
}
# What is wrong with the page at this width: wider than the screen, or a table's cell cut
# off by the edge of the box it scrolls in (or the page's).
CUT_OFF = """() => {
  const page = document.documentElement;
  const wrong = page.scrollWidth > innerWidth ? [`the page is ${page.scrollWidth} px wide`] : [];
  for (const cell of document.querySelectorAll("td, th")) {
    const box = cell.getBoundingClientRect();
    const frame = (cell.closest(".scroll") || page).getBoundingClientRect();
    if (box.width && (box.left < frame.left || box.right > frame.right)) {
      wrong.push(`${cell.closest("table").id || "a table"}: ${cell.textContent.trim()}`);
    }
  }
  return wrong;
}"""


async def signed_in(browser: Browser, node: ManagedNode, name: str) -> Page:
    """A browser of its own (its own cookies), signed in as `name` through the form."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(WAIT)
    await page.goto(f"{node.url}/ui/signin")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{node.url}/ui/")
    return page


async def shoot(page: Page, name: str) -> None:
    """Screenshots of the page as it is, at each size, into test-artifacts/ui/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await page.screenshot(path=ARTIFACTS / f"{name}-{width}x{height}.png", full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 800})


async def test_a_printer_with_a_bad_address_is_refused_and_a_good_one_prints(tmp_path):
    node = await start_managed_node(tmp_path, spare_printers=1)
    spare = node.printers["spare-0"]
    try:
        async with chromium() as browser:
            page = await signed_in(browser, node, "ann")
            await page.goto(f"{node.url}/ui/devices")
            await page.click("text=Add printer")
            await page.fill("#f-id", "bar")
            await page.fill("#f-name", "Bar printer")
            await page.fill("#f-url", "tcp//10.0.0.32:9100")
            await page.check("input[name=stations][value=bar]")
            await page.click("button[type=submit].primary")
            error = page.locator("#e-url")
            await error.wait_for()
            assert "not scheme://address" in await error.inner_text()
            assert await page.get_attribute("#f-url", "aria-invalid") == "true"
            await shoot(page, "device-form-error")

            await page.fill("#f-url", f"tcp://127.0.0.1:{spare.port}")
            await page.click("button[type=submit].primary")
            await page.wait_for_url(f"{node.url}/ui/devices")
            said = await page.locator(".flash-ok").inner_text()
            assert said.startswith("Added printer ‘Bar printer’ at tcp://127.0.0.1:")
            [paper] = await spare.wait_for_papers(1, timeout=15)
            assert "TEST PRINT" in paper.text and "Bar printer" in paper.text
            # the page's poll shows the new printer's state in words
            await page.wait_for_selector('[data-state-of="bar"].state-ok')
            await page.wait_for_selector('[data-state-of="front"].state-ok')
            await shoot(page, "devices")
            await page.goto(f"{node.url}/ui/devices/new?kind=drawer")
            await shoot(page, "device-form-drawer")
    finally:
        await node.close()


async def test_a_pairing_code_made_in_the_ui_pairs_a_terminal(tmp_path):
    node = await start_managed_node(tmp_path, member=True)
    try:
        async with chromium() as browser:
            page = await signed_in(browser, node, "tom")
            await page.goto(f"{node.url}/ui/terminals")
            await shoot(page, "terminals-empty")
            await page.fill("#f-name", "Counter 2")
            await page.select_option("#f-role", "terminal")
            await page.click("text=Make a pairing code")
            code = await page.locator("#code").inner_text()
            assert "cashier ‘Counter 2’" in await page.inner_text("main")
            await shoot(page, "pairing-code")
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{node.url}/api/v1/pair", json={"code": code}) as reply:
                    assert reply.status == 201, await reply.text()
                    token = (await reply.json())["token"]
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(f"{node.url}/api/v1/orders", headers=headers) as reply:
                    assert reply.status == 200
            await page.goto(f"{node.url}/ui/terminals")
            assert "Counter 2" in await page.inner_text("table")
            await page.click("text=Make a join code")
            assert await page.locator("#code").inner_text()
            await page.goto(f"{node.url}/ui/terminals")
            await shoot(page, "terminals")
    finally:
        await node.close()


async def test_a_technician_cannot_open_the_drawer_and_a_manager_can(tmp_path):
    node = await start_managed_node(tmp_path)
    try:
        async with chromium() as browser:
            tech = await signed_in(browser, node, "tom")
            await tech.goto(f"{node.url}/ui/devices")
            assert await tech.locator("text=Open drawer").count() == 0
            # the form a manager sees, posted by hand with the technician's own token
            status = await tech.evaluate(
                """async () => {
                    const body = new URLSearchParams({
                        csrf_token: document.querySelector("[name=csrf_token]").value,
                        reason: "change"});
                    const reply = await fetch("/ui/drawers/till/open", {method: "POST", body});
                    return reply.status;
                }"""
            )
            assert status == 403
            await tech.goto(f"{node.url}/ui/menu")
            assert "Your role does not allow this" in await tech.inner_text("main")

            manager = await signed_in(browser, node, "ann")
            await manager.goto(f"{node.url}/ui/devices")
            await manager.fill("#device-till #f-reason", "change for the float")
            await manager.click("#device-till button.danger")
            said = await manager.locator(".flash-ok").inner_text()
            assert (
                said == "Opened ‘Till’ (no sale: change for the float); recorded in the order log"
            )
    finally:
        await node.close()


async def test_screenshots_of_the_menu_and_settings(tmp_path):
    node = await start_managed_node(tmp_path)
    try:
        async with chromium() as browser:
            page = await signed_in(browser, node, "ann")
            await page.goto(f"{node.url}/ui/menu")
            assert "Classic Burger" in await page.inner_text("table")
            await shoot(page, "menu")
            await page.goto(f"{node.url}/ui/menu/items/BURGER/edit")
            await page.fill("#f-price", "12.999")
            await page.click("button[type=submit].primary")
            assert "USD has 2 digits" in await page.locator("#e-price").inner_text()
            await shoot(page, "menu-item-error")
            await page.goto(f"{node.url}/ui/settings")
            await page.fill("[name='kds.late_after']", "2")
            await page.click("text=Save settings")
            error = page.locator("[id='e-kds.late_after']")
            assert "must be more than kds.warn_after" in await error.inner_text()
            await page.fill("[name='kds.late_after']", "12")
            await page.fill("[name='store.rollover_hour']", "5")
            await page.click("text=Save settings")
            said = await page.locator(".flash-ok").inner_text()
            assert "applied now: kitchen tickets turn red after" in said
            assert "after a restart of posedge: business day ends at" in said
            await shoot(page, "settings")
    finally:
        await node.close()


async def test_no_page_is_wider_than_a_phone_nor_cuts_off_a_column_of_a_table(tmp_path):
    node = await start_managed_node(tmp_path, member=True)
    try:
        book, till = node.daemon.book, Actor("Counter 1")
        for channel, table, qty in (("dine_in", "Terrace12", 99), ("drive_thru", None, 12)):
            order = await book.open_order(till, channel=channel, table=table)
            note = "no onions, sauce on the side"
            await book.add_line(
                till, order.id, sku="BURGER", qty=qty, modifiers=["BACON"], note=note
            )
            await book.fire(till, order.id)
        pages = {  # each page of the UI, by its route: where a manager opens it
            "/ui/signin": [],  # signed out, below
            "/ui/": ["/ui/"],
            "/ui/orders": ["/ui/orders"],  # a big party's total, a long table name
            "/ui/orders/{order_id}": [
                f"/ui/orders/{order.id}",
                "/ui/orders/20260101-0a1b2c3d4e5f",  # no such order: the error page
            ],
            "/ui/devices": ["/ui/devices"],
            "/ui/devices/new": [
                f"/ui/devices/new?kind={kind}"
                for kind in ("printer", "drawer", "display", "bump_bar")
            ],
            "/ui/devices/{device_id}/edit": ["/ui/devices/front/edit"],
            "/ui/terminals": ["/ui/terminals"],
            "/ui/staff": ["/ui/staff"],
            "/ui/menu": ["/ui/menu"],
            "/ui/menu/items/new": ["/ui/menu/items/new"],
            "/ui/menu/items/{sku}/edit": ["/ui/menu/items/BURGER/edit"],
            "/ui/settings": ["/ui/settings"],
            "/ui/store-ca": ["/ui/store-ca"],
        }
        served = {route.path for route in ui_routes() if route.method == "GET"} - NOT_PAGES
        assert served == set(pages)  # a new page is to be added above
        async with chromium() as browser:
            page = await signed_in(browser, node, "ann")
            await page.set_viewport_size(PHONE)
            for url in [url for urls in pages.values() for url in urls]:
                await page.goto(f"{node.url}{url}")
                assert await page.evaluate(CUT_OFF) == [], url
            for button in ("Make a pairing code", "Make a join code"):  # a code, shown once
                await page.goto(f"{node.url}/ui/terminals")
                await page.fill("#f-name", "Counter 2")
                await page.click(f"text={button}")
                await page.locator("#code").wait_for()
                assert await page.evaluate(CUT_OFF) == [], button
            await page.context.clear_cookies()
            await page.goto(f"{node.url}/ui/signin")
            assert await page.evaluate(CUT_OFF) == [], "/ui/signin"
    finally:
        await node.close()
