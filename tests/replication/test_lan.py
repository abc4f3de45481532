"""Three real daemons on one LAN: each `python -m edge.cli.main run` in its own network namespace
on one bridge, made into one store with the CLI (init, join-code, join), finding each other
by real mDNS (no static peers) and linking over TLS. They sell one order together, come
through a partition with conflicting edits and one in which only one side sells, a node
killed in the middle of a burst, and a node that was off while the business day moved on.

The nodes, and what the tests ask of them through their APIs, are in tests/support/lan.py.
Every wait is bounded and nothing asserts on speed; where a node idles before a cut, it is
only so that the scenario is the realistic one (a sleep there can make a test pass, never
fail).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from sync.links.session import QUIET
from tests.support import netns
from tests.support.lan import (
    Node,
    converged,
    cut_off,
    linked,
    open_order,
    pay_balance,
    same_everywhere,
    store_of_three,
)

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))


@needs_namespaces
async def test_three_nodes_find_each_other_by_mdns_and_sell_one_order_together(tmp_path):
    async with store_of_three(tmp_path) as (http, (n1, n2, n3)):
        order, lines = await open_order(http, n1, "BURGER", "FRIES")
        path = f"/api/v1/orders/{order['id']}"
        await same_everywhere(http, [n1, n2, n3], order["id"], lines=2)
        lines.append((await n2.post(http, f"{path}/lines", {"sku": "SHAKE"}))["line_id"])
        await same_everywhere(http, [n1, n2, n3], order["id"], lines=3)
        amount = await pay_balance(http, n3, order["id"], "n3-cash-1")

        paid = await same_everywhere(http, [n1, n2, n3], order["id"], status="paid")
        assert [line["id"] for line in paid["lines"]] == lines
        assert [line["sku"] for line in paid["lines"]] == ["BURGER", "FRIES", "SHAKE"]
        assert [(p["key"], p["amount"]) for p in paid["payments"]] == [("n3-cash-1", amount)]
        assert paid["totals"]["paid"] == paid["totals"]["total"] == amount
        assert paid["number"] == order["number"] and paid["number"].startswith("A-")


@needs_namespaces
async def test_a_partition_heals_with_every_sale_and_edit_kept_once(tmp_path):
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, n3 = nodes
        acked_lines: dict[str, set[str]] = {}  # order id -> lines a node acknowledged
        acked_payments: dict[str, dict[str, int]] = {}  # order id -> key -> amount
        days: set[str] = set()

        async def sell(node: Node, *skus: str, pay: bool = True) -> str:
            order, lines = await open_order(http, node, *skus)
            days.add(order["business_date"])
            acked_lines[order["id"]] = set(lines)
            acked_payments[order["id"]] = {}
            if pay:
                key = f"{node.name}-{order['id'][-6:]}"
                acked_payments[order["id"]][key] = await pay_balance(http, node, order["id"], key)
            return order["id"]

        async def add_line(node: Node, order_id: str, sku: str) -> None:
            answer = await node.post(http, f"/api/v1/orders/{order_id}/lines", {"sku": sku})
            acked_lines[order_id].add(answer["line_id"])

        async def pay(node: Node, order_id: str, key: str, amount: int = 0) -> None:
            paid = await pay_balance(http, node, order_id, key, amount)
            acked_payments[order_id][key] = paid

        shared = await sell(n1, "BURGER", "FRIES", "RINGS", pay=False)
        voided = sorted(acked_lines[shared])[0]
        await same_everywhere(http, nodes, shared, lines=3)

        n3.unplug()
        # Conflicting edits of the order all three hold, on both sides of the cut: a line
        # added on each, each side paying what it sees due (with its own key), a line voided
        # on the cut-off side. Made at once, while both sides still think they are linked.
        await add_line(n1, shared, "SHAKE")
        await add_line(n3, shared, "CHICKEN")
        await pay(n1, shared, "n1-shared")
        await pay(n3, shared, "n3-shared")
        await n3.post(http, f"/api/v1/orders/{shared}/lines/{voided}/void", {"reason": "wrong"})
        # New sales on both sides.
        await sell(n1, "BURGER")
        await sell(n2, "VEGGIE", "FRIES")
        await sell(n3, "CHICKEN", "SHAKE")
        await sell(n3, "FRIES", pay=False)

        # Then the links time out, and each side sells on, knowing it is alone.
        await cut_off(http, nodes, n3)
        await sell(n1, "RINGS", "SHAKE")
        await sell(n3, "VEGGIE")
        await add_line(n3, shared, "FRIES")
        await add_line(n3, shared, "BURGER")  # more than the voided line gave back: it owes
        await pay(n3, shared, "n3-shared-2", 1000)

        n3.plug()
        await linked(http, nodes)
        orders = await converged(http, nodes, days, set(acked_lines))

        for order_id, order in orders.items():
            keys = [payment["key"] for payment in order["payments"]]
            assert set(keys) == set(acked_payments[order_id]), f"payments lost in {order_id}"
            assert len(keys) == len(set(keys)), f"a payment twice in {order_id}: {keys}"
            amounts = {p["key"]: p["amount"] for p in order["payments"]}
            assert amounts == acked_payments[order_id]
            assert order["totals"]["paid"] == sum(amounts.values())
            assert {line["id"] for line in order["lines"]} == acked_lines[order_id]
            assert len(order["lines"]) == len(acked_lines[order_id])  # no line twice
        lines = {line["id"]: line for line in orders[shared]["lines"]}
        assert [line_id for line_id, line in lines.items() if line["voided"]] == [voided]
        assert orders[shared]["status"] == "paid"  # each side paid in full what it saw
        assert orders[shared]["totals"]["change_due"] > 0


@needs_namespaces
async def test_a_quiet_node_cut_off_while_the_others_sell_catches_up_when_plugged_back(
    tmp_path,
):
    """The other half of a partition: the node cut off sells nothing (a quiet till), so
    everything to converge on was made on the other side."""
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, n3 = nodes
        first, _ = await open_order(http, n1, "BURGER")
        ids, days = {first["id"]}, {first["business_date"]}
        await same_everywhere(http, nodes, first["id"], lines=1)
        # n3 idles before the cut, as a till does between customers: long enough for the
        # nodes to show each other their state once the day went quiet (sync.links.session).
        await asyncio.sleep(3 * QUIET)

        n3.unplug()
        await cut_off(http, nodes, n3)
        await n2.post(http, f"/api/v1/orders/{first['id']}/lines", {"sku": "FRIES"})
        for node in (n1, n2):
            order, _ = await open_order(http, node, "SHAKE")
            ids.add(order["id"])
            days.add(order["business_date"])

        n3.plug()
        await linked(http, nodes)
        orders = await converged(http, nodes, days, ids)
        assert len(orders[first["id"]]["lines"]) == 2


@needs_namespaces
async def test_a_node_killed_during_a_burst_catches_up_after_its_restart(tmp_path):
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, _ = nodes
        ids: set[str] = set()
        days: set[str] = set()
        for index in range(45):
            if index == 15:
                await n2.kill()  # while n1's changes stream to it
            if index == 30:
                await n2.start(http)
            order, _ = await open_order(http, n1, "BURGER", "FRIES")
            if index % 3 == 0:
                await pay_balance(http, n1, order["id"], f"cash-{index}")
            ids.add(order["id"])
            days.add(order["business_date"])
        await linked(http, nodes)
        orders = await converged(http, nodes, days, ids)
        assert sum(order["status"] == "paid" for order in orders.values()) == 15


# UTC−12 and UTC+12: the same instant is one business day later in the second.
DAY_BEFORE, DAY_AFTER = "Etc/GMT+12", "Etc/GMT-12"


@needs_namespaces
async def test_a_node_off_while_the_business_day_moved_on_catches_up_on_both_days(tmp_path):
    """The daemon has no clock to fake (it reads the wall clock; patching it is not allowed
    here), so the business day moves by the store's time zone instead: n1 and n2 are
    restarted with a zone 24 hours ahead while n3 is off, and so is n3 when it comes back.

    Covers: a node that comes back to a business day it never held (made, and sold on,
    while it was off) and to changes of the day before made while it was off, both within
    `peers.days`; order numbers and business dates as they were. Not covered: a rollover
    while the daemons run (the wall clock crossing the rollover hour), the HLC clock moving
    a day, and days older than `peers.days`."""
    async with store_of_three(tmp_path, zone=DAY_BEFORE) as (http, nodes):
        n1, n2, n3 = nodes
        ids: set[str] = set()
        first, _ = await open_order(http, n1, "BURGER")
        before = first["business_date"]
        ids.add(first["id"])
        await same_everywhere(http, nodes, first["id"], lines=1)
        # n3 idles a moment before it is switched off (see the quiet node test above).
        await asyncio.sleep(3 * QUIET)

        await n3.stop()
        while_off, _ = await open_order(http, n1, "FRIES", "SHAKE")  # the same day
        await pay_balance(http, n1, while_off["id"], "cash-while-off")
        await n2.post(http, f"/api/v1/orders/{first['id']}/lines", {"sku": "RINGS"})
        ids.add(while_off["id"])
        for node in (n1, n2):  # the business day moves on
            await node.stop()
            node.configure(DAY_AFTER)
            await node.start(http)
        await linked(http, [n1, n2])
        next_day, _ = await open_order(http, n1, "VEGGIE")
        after = next_day["business_date"]
        assert dt.date.fromisoformat(after) == dt.date.fromisoformat(before) + dt.timedelta(1)
        ids.add(next_day["id"])
        await same_everywhere(http, [n1, n2], next_day["id"], lines=1)

        n3.configure(DAY_AFTER)
        await n3.start(http)
        await linked(http, nodes)
        orders = await converged(http, nodes, {before, after}, ids)
        assert len(orders[first["id"]]["lines"]) == 2
        assert orders[while_off["id"]]["status"] == "paid"
        assert orders[next_day["id"]]["business_date"] == after
