"""Refunds and reversals over HTTP at a counter with a real (emulated) receipt printer and
cash drawer: the slip prints, the drawer opens for cash, a retry does neither twice, and
what cannot be done is a problem naming the field, with nothing written."""

from __future__ import annotations

from tests.support.api_node import Terminal
from tests.support.counter import counter


async def closed_order(till: Terminal, *skus: str, tender: str = "cash") -> dict:
    order = (await till.post("/orders", {}))["order"]
    for sku in skus:
        await till.post(f"/orders/{order['id']}/lines", {"sku": sku})
    total = (await till.get(f"/orders/{order['id']}"))["order"]["totals"]["total"]
    payment = {"tender": tender, "amount": total, "reference": "auth-77"}
    await till.post(f"/orders/{order['id']}/payments", payment)
    return (await till.post(f"/orders/{order['id']}/close", expect=200))["order"]


async def test_a_cash_refund_prints_its_slip_and_opens_the_drawer_once(tmp_path):
    async with counter(tmp_path, manager=True) as (manager, _, _, drawer, printer):
        order = await closed_order(manager, "FRIES", "BEER")
        fries = order["lines"][0]
        body = {"tender": "cash", "reason": "cold", "items": [{"line_id": fries["id"]}]}
        path = f"/orders/{order['id']}/refunds"
        made = await manager.post(path, body, key="refund-1", expect=201)
        again = await manager.post(path, body, key="refund-1", expect=201)
        assert again["refund_id"] == made["refund_id"] and made["warnings"] == []
        refunds = again["order"]["refunds"]
        assert [r["amount"] for r in refunds["refunds"]] == [refunds["refunded"]]
        assert refunds["refundable"] == order["totals"]["total"] - refunds["refunded"]
        assert again["order"]["status"] == "closed"
        assert made["drawer_open"]["reason"] == "refund"
        [slip] = await printer.wait_for_papers(1, timeout=15)
        assert "REFUND" in slip.text and "cold" in slip.text and "Fries" in slip.text
        assert f"-{refunds['refunded'] // 100}.{refunds['refunded'] % 100:02d}" in slip.text
        assert await drawer.wait_for_opens(1, timeout=10) == 1
        card = await closed_order(manager, "SODA", tender="card")
        by_card = {"tender": "card", "reason": "wrong", "amount": 100, "reference": "rf-9"}
        answer = await manager.post(f"/orders/{card['id']}/refunds", by_card, expect=201)
        assert answer["drawer_open"] is None  # no cash went back
        await printer.wait_for_papers(2, timeout=15)
        assert drawer.opens == 1


async def test_refunds_that_cannot_be_made_are_problems_naming_the_field(tmp_path):
    async with counter(tmp_path) as (till, _, _, _, _):
        manager = Terminal(till.node, await till.node.pair("Office", manager=True))
        order = await closed_order(till, "FRIES")
        path = f"/orders/{order['id']}/refunds"
        cases = [
            (till, {"tender": "cash", "reason": "x", "amount": 100}, 403, "manager-required", None),
            (manager, {"tender": "cash", "reason": "x", "amount": 10**6}, 422, None, "/amount"),
            (manager, {"tender": "card", "reason": "x", "amount": 1}, 422, None, "/reference"),
            (
                manager,
                {"tender": "cash", "reason": "x", "items": [{"line_id": "zz"}]},
                404,
                None,
                "/items/0",
            ),
            (
                manager,
                {"tender": "cash", "reason": "x", "items": [{"qty": 1}]},
                422,
                None,
                "/items/0/line_id",
            ),
            (
                manager,
                {"tender": "cash", "reason": "x", "drawer": 5, "amount": 1},
                422,
                None,
                "/drawer",
            ),
        ]
        for who, body, status, slug, field in cases:
            problem = await who.post(path, body, expect=status)
            if slug is not None:
                assert problem["type"].endswith(slug), problem
            if field is not None:
                assert problem["pointer"] == field, problem
        after = (await till.get(f"/orders/{order['id']}"))["order"]
        assert after["version"] == order["version"]


async def test_a_payment_taken_in_error_is_reversed_by_a_manager_before_close(tmp_path):
    async with counter(tmp_path) as (till, _, _, _, _):
        manager = Terminal(till.node, await till.node.pair("Office", manager=True))
        order = (await till.post("/orders", {}))["order"]
        await till.post(f"/orders/{order['id']}/lines", {"sku": "BEER"})
        paid = await till.post(
            f"/orders/{order['id']}/payments", {"tender": "card", "amount": 200, "reference": "a"}
        )
        reverse = f"/orders/{order['id']}/payments/{paid['payment_key']}/reverse"
        await till.post(reverse, {"reason": "wrong card"}, expect=403)
        reversed_ = await manager.post(reverse, {"reason": "wrong card"}, expect=200)
        assert reversed_["order"]["refunds"]["reversed_payments"] == [paid["payment_key"]]
        assert reversed_["order"]["totals"]["paid"] == 0
        await till.post(f"/orders/{order['id']}/void", {"reason": "wrong order"}, expect=200)
