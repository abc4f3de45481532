"""Kitchen display screens in a real headless Chromium (Debian's, driven by Playwright):
pairing, live tickets, bump-bar keys and touch, two screens agreeing, a daemon restart, tall
tickets going on over cards marked continued on a TV, a tablet and a phone, and screenshots
of a busy kitchen saved to test-artifacts/kds/ (kept after the run, ignored by git) for
people to look at."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page

from edge.access.pairing_codes import PairingCodes
from tests.support.api_node import Terminal, start_node
from tests.support.browser import WAIT, chromium
from tests.support.clocks import LiveClock
from tests.support.kds_screens import open_screen, until_state, until_tickets
from tests.support.paths import ROOT
from tests.support.processes import free_port
from tests.support.waiting import until

ARTIFACTS = ROOT / "test-artifacts" / "kds"


# What the board's page shows: its cards, each with its ticket's key and number, its part
# ("2/3", null for a whole ticket), whether it says "continued", and its lines (by number,
# with their boxes); and what is wrong: a card not wholly on the screen, or a line, modifier,
# note or "continued" strip not wholly on its card.
BOARD = """() => {
  const within = (inner, outer) => inner.width > 0 && inner.height > 0
    && inner.left >= outer.left && inner.right <= outer.right
    && inner.top >= outer.top && inner.bottom <= outer.bottom;
  const screen = new DOMRect(0, 0, innerWidth, innerHeight);
  const wrong = [];
  const cards = [...document.querySelectorAll("#board .ticket")].map((card) => {
    const box = card.getBoundingClientRect();
    const number = card.querySelector(".number").textContent;
    const name = `${number} ${card.dataset.part || ""}`;
    if (!within(box, screen)) wrong.push(`${name} is not wholly on the screen`);
    for (const part of card.querySelectorAll(".lines li, .modifier, .note, .continued")) {
      if (!within(part.getBoundingClientRect(), box)) wrong.push(`${name}: ${part.textContent}`);
    }
    const lines = [...card.querySelectorAll(".lines > li")];
    return {
      key: card.dataset.key, number, part: card.dataset.part || null,
      continued: card.querySelector(".continued") !== null,
      lines: lines.map((li) => Number(li.dataset.line)),
      boxes: lines.map((li) => JSON.stringify(li.getBoundingClientRect())),
    };
  });
  return { cards, wrong };
}"""

# The lines of the board something else lies over (sampled at each corner and the middle).
COVERED = """() => [...document.querySelectorAll("#board .lines > li")].flatMap((li) => {
  const b = li.getBoundingClientRect();
  const points = [[b.left + 1, b.top + 1], [b.right - 1, b.top + 1], [b.left + 1, b.bottom - 1],
    [b.right - 1, b.bottom - 1], [(b.left + b.right) / 2, (b.top + b.bottom) / 2]];
  return points.map(([x, y]) => [x, y, document.elementFromPoint(x, y)])
    .filter(([x, y, top]) => !li.contains(top))
    .map(([x, y, top]) => `${li.textContent} at ${x},${y}: ${top?.outerHTML}`);
})"""


async def all_day(page: Page) -> list[str]:
    return await page.eval_on_selector_all(
        "#allday li",
        "rows => rows.map(r => `${r.firstChild.textContent} ${r.lastChild.textContent}`)",
    )


def code_for(node, name: str) -> str:
    return node.context.terminals.codes.create_code(
        name, "kds", ttl=dt.timedelta(minutes=5), now=node.clock()
    ).code


async def fire(till: Terminal, *lines: dict, **order) -> dict:
    opened = (await till.post("/orders", order))["order"]
    for line in lines:
        await till.post(f"/orders/{opened['id']}/lines", line)
    return await till.post(f"/orders/{opened['id']}/fire", expect=200)


async def test_two_screens_of_a_station_show_a_fire_and_a_bump_key_clears_it_from_both(
    tmp_path,
):
    node = await start_node(tmp_path / "node", LiveClock())
    try:
        till = Terminal(node, await node.pair())
        first = await fire(till, {"sku": "BURGER", "qty": 2}, channel="takeaway")
        async with chromium() as browser:
            url = f"{node.url}/kds/grill"
            one = await open_screen(browser, url, code_for(node, "Grill 1"))
            two = await open_screen(browser, url, code_for(node, "Grill 2"), width=1280, height=800)
            number = first["order"]["number"]
            for page in (one, two):
                await until_tickets(page, [number])

            second = await fire(
                till, {"sku": "BURGER", "modifiers": ["BACON"]}, channel="dine_in", table="12"
            )
            both = [number, second["order"]["number"]]
            for page in (one, two):
                await until_tickets(page, both)
            assert await all_day(one) == ["3 Classic Burger"]
            ticket = one.locator(".ticket", has_text=second["order"]["number"])
            assert "Table 12" in await ticket.inner_text()
            assert "Add bacon" in await ticket.inner_text()

            await one.keyboard.press("2")  # a USB bump bar types: select the second, bump
            await one.keyboard.press("b")
            for page in (one, two):
                await until_tickets(page, [number])
            await until(lambda: _is(all_day(one), ["2 Classic Burger"]))
            await two.keyboard.press("r")  # recall, from the other screen
            for page in (one, two):
                await until_tickets(page, both)

            await two.click(f".ticket:has-text('{number}')")  # touch: select, then BUMP
            await two.click(".ticket.selected .bump-ticket")
            for page in (one, two):
                await until_tickets(page, [second["order"]["number"]])
        order = await till.get(f"/orders/{first['order']['id']}")
        assert order["order"]["history"][-1]["by"].startswith("Grill 2 (")
    finally:
        await node.close()


async def test_a_busy_screen_at_tv_and_tablet_sizes(tmp_path):
    clock = LiveClock()
    node = await start_node(tmp_path / "node", clock)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        till = Terminal(node, await node.pair())
        manager = Terminal(node, await node.pair("Manager", manager=True))
        numbers = []
        for index in range(20):  # fired 45 s apart: from 14 minutes old to new
            lines = [{"sku": "BURGER", "qty": 1 + index % 3}, {"sku": "FRIES"}]
            if index % 2:
                lines.append({"sku": "VEGGIE", "modifiers": ["GF-BUN"], "note": "allergy: gluten"})
            if index % 5 == 0:
                lines.append({"sku": "BURGER", "modifiers": ["CHEESE", "WELL"]})
            channel = ("dine_in", "takeaway", "delivery", "drive_thru")[index % 4]
            fired = await fire(till, *lines, channel=channel, table=str(10 + index))
            order = fired["order"]
            numbers.append(order["number"])
            if index == 7:
                await till.post(f"/orders/{order['id']}/rush", {}, expect=200)
            if index == 3:
                void = f"/orders/{order['id']}/lines/{order['lines'][0]['id']}/void"
                await manager.post(void, {"reason": "86"}, expect=200)
            clock.advance(seconds=45)
        async with chromium() as browser:
            grill = await open_screen(browser, f"{node.url}/kds/grill", code_for(node, "Grill"))
            shown = [numbers[7], *numbers[:7], numbers[8]]  # the rushed order first
            await until_tickets(grill, shown)
            await grill.wait_for_selector(".ticket.late >> nth=0", timeout=WAIT)
            assert await grill.locator(".ticket.warn").count() > 0
            assert await grill.locator(".ticket.fresh").count() == 0  # page one: the oldest
            assert await grill.inner_text("#page") == "1/3"
            assert (await all_day(grill))[0] == "42 Classic Burger"  # 39 + 4, one voided
            await fits(grill)
            await grill.screenshot(path=str(ARTIFACTS / "grill-1920x1080.png"))
            await grill.keyboard.press("n")
            await until_tickets(grill, numbers[9:18])
            await grill.screenshot(path=str(ARTIFACTS / "grill-1920x1080-page2.png"))

            await grill.set_viewport_size({"width": 1280, "height": 800})
            await grill.keyboard.press("h")
            await until_tickets(grill, shown)
            await fits(grill)
            await grill.screenshot(path=str(ARTIFACTS / "grill-1280x800.png"))

            expo = await open_screen(browser, f"{node.url}/kds/expo", code_for(node, "Expo"))
            await expo.wait_for_function(
                "document.querySelectorAll('#board .order').length === 20", timeout=WAIT
            )
            await expo.screenshot(path=str(ARTIFACTS / "expo-1920x1080.png"))
    finally:
        await node.close()
    assert sorted(path.name for path in ARTIFACTS.glob("*.png")) >= [
        "expo-1920x1080.png",
        "grill-1280x800.png",
        "grill-1920x1080-page2.png",
        "grill-1920x1080.png",
    ]


async def fits(page: Page) -> None:
    """Every card and every line on it lie within the screen: nothing to scroll to in a
    kitchen, nothing cut off."""
    assert (await page.evaluate(BOARD))["wrong"] == []


async def board_pages(page: Page) -> list[dict]:
    """What BOARD says of each page of the board, from the first, turned with the N key."""
    await page.keyboard.press("h")
    count = int((await page.inner_text("#page")).split("/")[1])
    pages = []
    for number in range(1, count + 1):
        await page.wait_for_function(
            f"document.getElementById('page').textContent === '{number}/{count}'", timeout=WAIT
        )
        pages.append(await page.evaluate(BOARD))
        await page.keyboard.press("n")
    return pages


async def bar_fits(page: Page) -> None:
    """The top bar's every part lies within the screen, on at most two rows."""
    boxes = await page.eval_on_selector_all(
        "#bar > :not(#controls), #controls > *",
        "items => items.filter(i => i.getClientRects().length)"
        ".map(i => i.getBoundingClientRect().toJSON())",
    )
    size = page.viewport_size
    rows: list[float] = []  # the bottom of each row, from the top
    for box in sorted(boxes, key=lambda box: box["top"]):
        assert box["left"] >= 0 and box["right"] <= size["width"], box
        assert box["top"] >= 0 and box["bottom"] <= size["height"], box
        if rows and box["top"] < rows[-1]:
            rows[-1] = max(rows[-1], box["bottom"])
        else:
            rows.append(box["bottom"])
    assert len(rows) <= 2, boxes


ALLERGY = "seat 3: celiac, change gloves, clean the board and use the separate toaster"
GRILL_TICKET = (  # seven lines, with modifiers and notes
    {"sku": "BURGER", "qty": 2, "modifiers": ["CHEESE", "BACON", "MEDIUM"]},
    {"sku": "BURGER", "modifiers": ["NO-ONION", "WELL"], "note": "cut in half"},
    {"sku": "VEGGIE", "modifiers": ["GF-BUN"], "note": ALLERGY},
    {"sku": "BURGER", "qty": 3},
    {"sku": "VEGGIE", "modifiers": ["CHEESE"]},
    {"sku": "BURGER", "modifiers": ["BACON", "WELL"], "note": "sauce on the side"},
    {"sku": "VEGGIE", "qty": 2, "note": "no pickles"},
)
PARTY = GRILL_TICKET * 3  # 21 lines: taller than a column of any of these screens


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1280, 800), (390, 844)])
async def test_every_line_of_every_ticket_is_on_a_card_on_the_screen_and_bumps_whole(
    tmp_path, width, height
):
    node = await start_node(tmp_path / "node", LiveClock())
    try:
        till = Terminal(node, await node.pair())
        await fire(till, {"sku": "BURGER", "qty": 2}, channel="takeaway")
        await fire(till, *GRILL_TICKET, channel="dine_in", table="12")
        party = await fire(till, *PARTY, channel="dine_in", table="30")
        for _ in range(3):
            await fire(till, {"sku": "VEGGIE", "modifiers": ["CHEESE"]}, {"sku": "BURGER"})
        async with chromium() as browser:
            code = code_for(node, "Grill")
            screen = await open_screen(
                browser, f"{node.url}/kds/grill", code, width=width, height=height
            )
            await screen.wait_for_function("kds.snapshot?.tickets.length === 6", timeout=WAIT)
            await bar_fits(screen)
            tickets = await screen.evaluate("kds.snapshot.tickets")
            pages = await board_pages(screen)
            assert [page["wrong"] for page in pages] == [[]] * len(pages)
            cards = [card for page in pages for card in page["cards"]]
            for ticket in tickets:
                own = [card for card in cards if card["key"] == ticket["key"]]
                assert [line for card in own for line in card["lines"]] == [
                    *range(len(ticket["lines"]))
                ]
                assert {card["number"] for card in own} == {ticket["number"]}
                parts = [f"{n}/{len(own)}" for n in range(1, len(own) + 1)] if own[1:] else [None]
                assert [card["part"] for card in own] == parts
                assert [card["continued"] for card in own] == [len(own) > 1] * len(own)
            key = tickets[2]["key"]
            assert tickets[2]["order_id"] == party["order"]["id"]
            assert sum(card["key"] == key for card in cards) > 1  # too tall for a column

            await screen.keyboard.press("3")  # the party's position, as a bump bar's key
            await screen.wait_for_function(
                "key => document.querySelector('#board .ticket.selected')?.dataset.key === key",
                arg=key,
                timeout=WAIT,
            )
            selected = await screen.evaluate(BOARD)
            assert selected in pages  # selecting moved nothing
            assert await screen.evaluate(COVERED) == []
            buttons = await screen.locator("#board .ticket.selected .bump-ticket").all()
            assert len(buttons) == sum(card["key"] == key for card in selected["cards"])
            for button in buttons:
                assert await button.is_visible()

            await screen.keyboard.press("b")  # every card of it goes: the ticket is bumped
            await screen.wait_for_function(
                "key => kds.snapshot.tickets.length === 5 && !kds.snapshot.tickets.some("
                "t => t.key === key) && !document.querySelector(`[data-key='${key}']`)",
                arg=key,
                timeout=WAIT,
            )
        history = (await till.get(f"/orders/{party['order']['id']}"))["order"]["history"]
        assert [step["what"] for step in history].count("bump") == 1, history
    finally:
        await node.close()


# -- a real daemon, restarted --------------------------------------------------------------


def posedge(*args: str, log: Path) -> subprocess.Popen:
    with log.open("ab") as output:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "edge.cli.main", *args], stdout=output, stderr=output
        )


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_the_page_shows_it_is_not_live_while_the_daemon_restarts_and_recovers_by_itself(
    tmp_path,
):
    port = free_port()
    state = tmp_path / "state"
    config = tmp_path / "posedge.toml"
    config.write_text(
        f'[store]\nid = "s1"\n[http]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[paths]\nstate_dir = "{state}"\n'
    )
    loading = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge.cli.main", "catalog", "--sample", "--config", str(config)
    )
    assert await asyncio.wait_for(loading.wait(), 60) == 0
    log = tmp_path / "daemon.log"
    daemon = posedge("run", "--config", str(config), log=log)
    try:
        await until(lambda: asyncio.to_thread(ready, port), within=30)
        registry = PairingCodes(state / "node.db")  # as `posedge pair` does
        now = dt.datetime.now(dt.UTC)
        ttl = dt.timedelta(minutes=5)
        screen_code = registry.create_code("Grill", "kds", ttl=ttl, now=now).code
        till_code = registry.create_code("Till", "terminal", ttl=ttl, now=now).code
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.post(f"{url}/api/v1/pair", json={"code": till_code}) as answer:
                token = (await answer.json())["token"]
            till = Terminal(_Remote(url, session), token)
            before = await fire(till, {"sku": "BURGER"})
            async with chromium() as browser:
                page = await open_screen(browser, f"{url}/kds/grill", screen_code)
                await until_tickets(page, [before["order"]["number"]])

                stop(daemon)
                await until_state(page, "stale")
                assert await page.is_visible("#banner")
                assert "not live" in await page.inner_text("#banner")

                daemon = posedge("run", "--config", str(config), log=log)
                await until_state(page, "live")  # by itself, within its capped backoff
                assert not await page.is_visible("#banner")
                after = await fire(till, {"sku": "VEGGIE"})
                numbers = [before["order"]["number"], after["order"]["number"]]
                await until_tickets(page, numbers)
    finally:
        stop(daemon)
    assert daemon.returncode == 0, log.read_text()


async def _is(value, expected) -> bool:
    return await value == expected


class _Remote:
    """What tests/api_node.Terminal needs of a node, for a daemon in another process."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session
