"""Serial devices at the counter and in the kitchen, over real ptys into the emulators: a
customer line display, a bump bar, a serial cash drawer and a serial receipt printer."""

from __future__ import annotations

from tests.support.api_node import Terminal
from tests.support.counter import counter
from tests.support.waiting import until


async def test_the_display_shows_the_last_line_the_total_and_the_change(tmp_path):
    async with counter(tmp_path) as (till, display, *_):
        order = (await till.post("/orders", {}))["order"]
        await till.post(f"/orders/{order['id']}/lines", {"sku": "FRIES", "qty": 2})
        first, second = await display.wait_for_text("2 Fries", timeout=10)
        assert first == "2 Fries" + " " * 8 + " 9.00" and second.startswith("Total")
        view = (await till.post(f"/orders/{order['id']}/lines", {"sku": "SODA"}))["order"]
        total = view["totals"]["total"]
        first, second = await display.wait_for_text("Soda", timeout=10)
        assert second.rstrip().endswith(f"{total // 100}.{total % 100:02d}")
        await till.post(
            f"/orders/{order['id']}/payments",
            {"key": "cash", "tender": "cash", "amount": total + 100},
        )
        await till.post(f"/orders/{order['id']}/close", expect=200)
        first, second = await display.wait_for_text("Thank you!", timeout=10)
        assert second.startswith("Change") and second.rstrip().endswith("1.00")
        assert display.unknown == 0


async def test_a_display_follows_only_its_terminal(tmp_path):
    async with counter(tmp_path, follows="Counter 1") as (till, display, *_):
        other = Terminal(till.node, await till.node.pair("Counter 2"))
        theirs = (await other.post("/orders", {}))["order"]
        await other.post(f"/orders/{theirs['id']}/lines", {"sku": "BEER"})
        ours = (await till.post("/orders", {}))["order"]
        await till.post(f"/orders/{ours['id']}/lines", {"sku": "COOKIE"})
        await display.wait_for_text("Chocolate Chip", timeout=10)
        assert not any("IPA" in line for frame in display.frames for line in frame)


async def test_bump_bar_keys_bump_and_recall_the_stations_tickets(tmp_path):
    async with counter(tmp_path) as (till, _, bump_bar, _, printer):
        orders = []
        for sku in ("BURGER", "VEGGIE"):
            order = (await till.post("/orders", {}))["order"]
            await till.post(f"/orders/{order['id']}/lines", {"sku": sku})
            await till.post(f"/orders/{order['id']}/fire", expect=200)
            orders.append(order["id"])
        await printer.wait_for_papers(2, timeout=15)

        async def status(order_id: str) -> str:
            return (await till.get(f"/orders/{order_id}"))["order"]["status"]

        await bump_bar.press("2")  # select the second ticket, then bump it
        await bump_bar.press("B")
        await until(lambda: _is(status(orders[1]), "ready"))
        assert await status(orders[0]) == "fired"
        await bump_bar.press("B")  # nothing selected: the oldest open ticket
        await until(lambda: _is(status(orders[0]), "ready"))
        await bump_bar.press("R")  # recall the last bump
        await until(lambda: _is(status(orders[0]), "fired"))
        history = (await till.get(f"/orders/{orders[0]}"))["order"]["history"]
        assert [step["what"] for step in history][-2:] == ["bump", "recall"]
        assert history[-1]["by"] == "Grill bar (bump bar)"


async def _is(value, expected: str) -> bool:
    return await value == expected


async def test_a_serial_drawer_opens_once_per_audited_request(tmp_path):
    async with counter(tmp_path) as (till, _, _, drawer, _):
        order = (await till.post("/orders", {}))["order"]
        for _attempt in range(2):
            await till.post("/drawers/open", {"order_id": order["id"]}, key="open-1", expect=201)
        assert await drawer.wait_for_opens(1, timeout=10) == 1
        audit = (await till.get("/drawer-opens"))["drawer_opens"]
        assert [entry["drawer"] for entry in audit] == ["till"]


async def test_a_serial_printer_prints_receipts_in_its_width(tmp_path):
    async with counter(tmp_path) as (till, _, _, _, printer):
        order = (await till.post("/orders", {}))["order"]
        await till.post(f"/orders/{order['id']}/lines", {"sku": "RINGS"})
        await till.post(f"/orders/{order['id']}/receipt", expect=202)
        [receipt] = await printer.wait_for_papers(1, timeout=15)
        assert "Onion Rings" in receipt.text and receipt.qr_codes == [order["id"]]
        assert max(len(line.text.rstrip()) for line in receipt.lines) <= 42
