"""Cash-up over HTTP at a counter with a real (emulated) cash drawer: a session opened with
a float, the cash of orders and refunds, paid-ins, paid-outs and drops, and a count that
shows over or short."""

from __future__ import annotations

from tests.support.api_node import Terminal
from tests.support.counter import counter

FLOAT = {"2000": 2, "1000": 3, "500": 4, "100": 10}  # 100.00 in notes and coins


async def cash_sale(till: Terminal, sku: str, tendered: int, *, drawer: bool) -> dict:
    order = (await till.post("/orders", {}))["order"]
    await till.post(f"/orders/{order['id']}/lines", {"sku": sku})
    await till.post(f"/orders/{order['id']}/payments", {"tender": "cash", "amount": tendered})
    if drawer:
        await till.post("/drawers/open", {"order_id": order["id"]}, expect=201)
    return (await till.post(f"/orders/{order['id']}/close", expect=200))["order"]


async def test_a_shift_of_cash_comes_to_what_the_log_says_and_the_count_shows_short(tmp_path):
    async with counter(tmp_path) as (till, _, _, drawer, _):
        manager = Terminal(till.node, await till.node.pair("Office", manager=True))
        opened = await till.post(
            "/drawer-sessions", {"denominations": FLOAT}, key="open-till", expect=201
        )
        session = opened["session"]
        assert (session["drawer"], session["float"], session["state"]) == ("till", 10000, "open")
        again = await till.post(
            "/drawer-sessions", {"denominations": FLOAT}, key="open-till", expect=201
        )
        assert again["session"]["id"] == session["id"]  # a retry opens nothing more
        conflict = await till.post("/drawer-sessions", {"amount": 5000}, expect=409)
        assert conflict["type"].endswith("drawer-session-conflict")

        first = await cash_sale(till, "FRIES", 2000, drawer=True)
        second = await cash_sale(till, "BEER", 1000, drawer=False)  # the only open drawer's
        refund = {"tender": "cash", "reason": "cold", "amount": 150}
        await manager.post(f"/orders/{first['id']}/refunds", refund, expect=201)
        path = f"/drawer-sessions/{session['id']}"
        await till.post(f"{path}/movements", {"kind": "paid_in", "amount": 500, "reason": "change"})
        payout = {"kind": "paid_out", "amount": 700, "reason": "milk"}
        denied = await till.post(f"{path}/movements", payout, expect=403)
        assert denied["type"].endswith("manager-required")
        await manager.post(f"{path}/movements", payout)
        await till.post(f"{path}/movements", {"kind": "drop", "amount": 5000, "reason": "safe"})

        sales = first["totals"]["total"] + second["totals"]["total"] - 150
        expected = 10000 + sales + 500 - 700 - 5000
        now = (await till.get(path))["session"]
        assert (now["cash_sales"], now["expected"], now["orders"]) == (sales, expected, 2)
        closed = await till.post(f"{path}/close", {"amount": expected - 200}, expect=200)
        assert closed["session"]["over_short"] == -200 and closed["session"]["state"] == "closed"
        late = await till.post(
            f"{path}/movements", {"kind": "drop", "amount": 1, "reason": "x"}, expect=409
        )
        assert late["type"].endswith("drawer-session-conflict")
        day = await till.get("/drawer-sessions")
        assert [s["over_short"] for s in day["sessions"]] == [-200]
        assert day["unassigned_cash"] == 0
        assert drawer.opens == 2  # the first sale's and the refund's


async def test_counts_and_movements_that_do_not_add_up_are_refused_naming_the_field(tmp_path):
    async with counter(tmp_path) as (till, _, _, _, _):
        cases = [
            ({"amount": 100, "denominations": {"500": 1}}, "/amount"),
            ({"denominations": {"five": 1}}, "/denominations/five"),
            ({"denominations": {"500": -1}}, "/denominations/500"),
            ({}, "/amount"),
            ({"drawer": "safe", "amount": 1}, "/drawer"),
        ]
        for body, pointer in cases:
            problem = await till.post(
                "/drawer-sessions", body, expect=422 if pointer != "/drawer" else 404
            )
            assert problem["pointer"] == pointer, problem
        session = (await till.post("/drawer-sessions", {"amount": 0}))["session"]
        bad = await till.post(
            f"/drawer-sessions/{session['id']}/movements",
            {"kind": "tip", "amount": 1, "reason": "x"},
            expect=422,
        )
        assert bad["pointer"] == "/kind"
        await till.get("/drawer-sessions/20261120-nope", expect=404)
        await till.get("/drawer-sessions/nope", expect=404)
