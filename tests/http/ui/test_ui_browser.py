"""The manager UI in a real headless Chromium (Debian's, driven by Playwright) against a node
driving emulated printers: signing in, the rate limit, a form without its CSRF token, the
dashboard catching a printer out of paper, finding an order and reprinting it. Screenshots
at desktop and phone sizes go to test-artifacts/ui/ (kept after the run) for people to see."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from edge.cli.demo.cashier import ring_up_one
from tests.support.api_node import Terminal
from tests.support.browser import WAIT, chromium
from tests.support.clocks import LiveClock
from tests.support.paths import ROOT
from tests.support.printing_node import Store, running_store
from tests.support.ui_client import add_user

ARTIFACTS = ROOT / "test-artifacts" / "ui"
PAPER_WAIT = 15.0  # s an emulated printer may take to cut the paper asked for, at most
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STORE_ZONE = ZoneInfo("America/New_York")  # the test node's (tests/conftest.py make_book)
ROLLOVER = 4


def hours_into_business_day(now: dt.datetime) -> float:
    local = now.astimezone(STORE_ZONE)
    start = local.replace(hour=ROLLOVER, minute=0, second=0, microsecond=0)
    if local < start:
        start -= dt.timedelta(days=1)
    return (local - start).total_seconds() / 3600


async def ring_up_spread(store: Store, clock: LiveClock, orders: int, hours: float) -> None:
    """Ring up `orders` paid orders spread over the `hours` the clock was set back by."""
    rng = random.Random(orders)
    for _ in range(orders):
        await ring_up_one(store.node.book, rng, store.node.context.devices)
        clock.advance(hours=hours / orders)


@contextlib.asynccontextmanager
async def shop_with_history(state_dir: Path):
    """A node with a manager, orders rung up today and on this weekday last week, and a
    till; the orders spread over up to six hours of each business day."""
    span = min(6.0, hours_into_business_day(dt.datetime.now(dt.UTC)) - 0.1)
    span = max(span, 0.0)
    last_week = LiveClock()
    last_week.advance(days=-7, hours=-span)  # before the node starts: its clock is then
    async with running_store(state_dir, last_week) as store:
        await ring_up_spread(store, last_week, 10, span)
    today = LiveClock()
    today.advance(hours=-span)
    async with running_store(state_dir, today) as store:
        await add_user(store.node, "alice", "manager")
        await ring_up_spread(store, today, 7, span)
        yield store


@pytest.fixture
async def shop(tmp_path):
    async with running_store(tmp_path / "node", LiveClock()) as store:
        await add_user(store.node, "alice", "manager")
        yield store


@contextlib.asynccontextmanager
async def page_of(browser: Browser, viewport: dict):
    context = await browser.new_context(viewport=viewport)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def sign_in(page: Page, url: str, name: str, password: str) -> None:
    await page.goto(f"{url}/ui/")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("form.stack button[type=submit]")
    await page.wait_for_load_state()


async def shoot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page, after checking that it fits the screen's width
    (nothing to scroll sideways but the wide tables and the chart in their own boxes)."""
    size = page.viewport_size
    assert await page.evaluate("document.documentElement.scrollWidth") <= size["width"], name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(
        path=str(ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"), full_page=True
    )


async def test_a_wrong_password_is_refused_and_the_right_one_signs_in(shop):
    async with chromium() as browser, page_of(browser, PHONE) as page:
        await sign_in(page, shop.node.url, "alice", "not my password")
        await page.wait_for_selector("#signin-error", timeout=WAIT)
        assert await page.inner_text("#signin-error") == "Wrong name or password."
        await shoot(page, "signin-refused")
        await sign_in(page, shop.node.url, "alice", "correct horse")
        await page.wait_for_selector("#problems", timeout=WAIT)
        assert page.url.endswith("/ui/")
        assert "Today's sales" in await page.inner_text("main")


async def test_five_wrong_passwords_lock_the_sign_in_for_a_while(shop):
    async with chromium() as browser, page_of(browser, DESKTOP) as page:
        for _ in range(5):
            await sign_in(page, shop.node.url, "alice", "guess")
            assert await page.inner_text("#signin-error") == "Wrong name or password."
        await sign_in(page, shop.node.url, "alice", "correct horse")
        error = await page.inner_text("#signin-error")
        assert error.startswith("Too many failed sign-ins. Try again in ")
        assert "/ui/signin" in page.url


async def test_a_form_stripped_of_its_csrf_token_is_refused(shop):
    till = Terminal(shop.node, await shop.node.pair("Counter 1"))
    order = (await till.post("/orders", {"channel": "counter"}))["order"]
    async with chromium() as browser, page_of(browser, DESKTOP) as page:
        await sign_in(page, shop.node.url, "alice", "correct horse")
        await page.goto(f"{shop.node.url}/ui/orders/{order['id']}")
        await page.eval_on_selector("#void-form input[name=csrf_token]", "e => e.remove()")
        await page.fill("#void-form input[name=reason]", "testing")
        await page.click("#void-form button")
        await page.wait_for_selector("h1", timeout=WAIT)
        assert await page.inner_text("h1") == "This form was refused"
        await shoot(page, "form-refused")
    assert (await shop.node.book.get(order["id"])).status.label == "open"


async def test_the_dashboard_shows_a_printer_out_of_paper_within_seconds(tmp_path):
    async with shop_with_history(tmp_path / "node") as shop, chromium() as browser:
        async with page_of(browser, DESKTOP) as desktop, page_of(browser, PHONE) as phone:
            for page in (desktop, phone):
                await sign_in(page, shop.node.url, "alice", "correct horse")
                await page.wait_for_selector("#problems.all-well", timeout=WAIT)
                await shoot(page, "dashboard")

            shop.kitchen.paper_out(True)
            for page in (desktop, phone):
                await page.wait_for_function(
                    "document.querySelector('#problems').textContent"
                    ".includes('Kitchen printer is out of paper')",
                    timeout=WAIT,
                )
            await desktop.wait_for_selector("#devices .state-bad", timeout=WAIT)
            for page in (desktop, phone):
                await shoot(page, "dashboard-paper-out")
            await phone.click("label.nav-button")
            await shoot(phone, "dashboard-menu")


async def test_a_manager_finds_an_order_and_reprints_its_kitchen_ticket(shop):
    till = Terminal(shop.node, await shop.node.pair("Counter 1"))
    order = (await till.post("/orders", {"channel": "dine_in", "table": "T7"}))["order"]
    await till.post(f"/orders/{order['id']}/lines", {"sku": "BURGER", "qty": 2})  # grill only
    await till.post(f"/orders/{order['id']}/fire", expect=200)
    await shop.kitchen.wait_for_papers(1, PAPER_WAIT)
    async with chromium() as browser:
        async with page_of(browser, DESKTOP) as page:
            await sign_in(page, shop.node.url, "alice", "correct horse")
            await page.click("nav a[href='/ui/orders']")
            await page.fill("#order-search input[name=number]", order["number"])
            await page.click("#order-search button")
            await page.click(f"#orders a:text-is('{order['number']}')")
            await page.wait_for_selector("#jobs", timeout=WAIT)
            await shoot(page, "order")
            await page.click("#jobs tr:has-text('Kitchen ticket') button.reprint")
            await page.wait_for_selector(".flash-ok", timeout=WAIT)
            assert "Kitchen ticket reprinted on Kitchen printer" in await page.inner_text(
                ".flash-ok"
            )
            await page.goto(f"{shop.node.url}/ui/orders")
            await shoot(page, "orders")
        async with page_of(browser, PHONE) as phone:
            await sign_in(phone, shop.node.url, "alice", "correct horse")
            await phone.goto(f"{shop.node.url}/ui/orders/{order['id']}")
            await phone.wait_for_selector("#history", timeout=WAIT)
            await shoot(phone, "order")
    papers = await shop.kitchen.wait_for_papers(2, PAPER_WAIT)
    assert "REPRINT" in papers[1].text and order["number"] in papers[1].text
