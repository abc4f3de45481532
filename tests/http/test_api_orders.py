"""The order lifecycle over HTTP, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from pycrdt import Doc, Map

from tests.support.api_node import Terminal, start_node
from tests.support.disk import fill


@pytest.fixture
async def till(node) -> Terminal:
    return Terminal(node, await node.pair("Counter 1"))


async def test_a_full_order_over_http_totals_to_the_cent(till):
    order = (await till.post("/orders", {"channel": "dine_in", "table": "T4", "guests": 2}))[
        "order"
    ]
    assert (order["number"], order["status"], order["table"]) == ("A-001", "open", "T4")
    path = f"/orders/{order['id']}"
    lines = {}
    for name, body in {
        "burgers": {"sku": "BURGER", "qty": 2, "modifiers": ["CHEESE", "BACON"]},
        "fries": {"sku": "FRIES", "modifiers": ["LARGE", "CAJUN"]},
        "shake": {"sku": "SHAKE", "modifiers": ["CHOC"], "note": "extra thick"},
        "beers": {"sku": "BEER", "qty": 2},
        "veggie": {"sku": "VEGGIE", "modifiers": ["GF-BUN"]},
    }.items():
        lines[name] = (await till.post(f"{path}/lines", body))["line_id"]
    voided = await till.post(
        f"{path}/lines/{lines['veggie']}/void", {"reason": "sent back"}, expect=200
    )
    assert [ln["voided"] for ln in voided["order"]["lines"]].count(True) == 1
    await till.post(f"{path}/discounts", {"amount": 500, "reason": "birthday"})
    fired = await till.post(f"{path}/fire", expect=200)
    assert fired["order"]["status"] == "fired"
    assert set(fired["order"]["events"][0]["detail"]["stations"]) == {"grill", "fryer", "bar"}

    totals = fired["order"]["totals"]
    # Counted: burgers 2×(1250+150+250)=3300, fries 650, shake 650, beers 1500 → 6100.
    # 500 off the order, spread by largest remainder: 270.49/53.28/53.28/122.95 → floors
    # 270+53+53+122 = 498, the 2 left to beers (.95) and burgers (.49): 271, 53, 53, 123.
    # Food 3029+597+597 = 4223 × 8.875 % = 374.79 → 375; alcohol 1377 × 10.375 % = 142.86 → 143.
    assert totals["subtotal"] == 6100
    assert totals["discount"] == 500
    assert [(t["rate"], t["base"], t["tax"]) for t in totals["taxes"]] == [
        ("8.875", 4223, 375),
        ("10.375", 1377, 143),
    ]
    assert totals["total"] == 6100 - 500 + 375 + 143 == 6118

    card = await till.post(f"{path}/payments", {"tender": "card", "amount": 3000, "key": "c1"})
    assert card["order"]["totals"]["balance_due"] == 3118
    cash = await till.post(f"{path}/payments", {"tender": "cash", "amount": 3200})
    assert cash["order"]["totals"]["balance_due"] == 0
    assert cash["order"]["totals"]["change_due"] == 82
    assert cash["order"]["status"] == "paid"
    tipped = await till.post(f"{path}/tips", {"amount": 450, "payment_key": "c1"})
    assert tipped["order"]["totals"]["tips"] == 450
    closed = (await till.post(f"{path}/close", expect=200))["order"]
    assert closed["status"] == "closed"

    again = (await till.get(path))["order"]
    assert again["totals"] == closed["totals"]
    assert again["totals"]["paid"] == 6200
    assert [p["tender"] for p in again["payments"]] == ["card", "cash"]
    kinds = [step["what"] for step in again["history"]]
    assert kinds[0] == "open" and kinds[-1] == "close"
    assert kinds.count("line") == 5 and {"void_line", "discount", "fire", "tip"} <= set(kinds)
    assert all(step["by"].startswith("Counter 1 (t-") for step in again["history"])


async def test_a_retried_post_gets_the_first_answer_and_makes_nothing_twice(till):
    status, first, _ = await till.call("POST", "/orders", {"table": "T9"}, key="open-1")
    status2, second, headers = await till.call("POST", "/orders", {"table": "T9"}, key="open-1")
    assert (status, status2) == (201, 201)
    assert second == first and headers["Idempotent-Replayed"] == "true"
    path = f"/orders/{first['order']['id']}"
    for _ in range(2):  # a replayed problem keeps its charset: clients decode text by it
        status, _, answered = await till.call("POST", "/orders/nope\u00e9/close", key="close-1")
        assert answered["Content-Type"] == "application/problem+json; charset=utf-8"
    assert (status, answered["Idempotent-Replayed"]) == (404, "true")

    # Five retries of one line at once: the first runs, the others wait for its answer.
    answers = await asyncio.gather(
        *(till.call("POST", f"{path}/lines", {"sku": "RINGS"}, key="line-1") for _ in range(5))
    )
    assert len({a[1]["line_id"] for a in answers}) == 1
    pay = {"tender": "cash", "amount": 2000}
    await till.post(f"{path}/payments", pay, key="pay-1")
    await till.post(f"{path}/payments", pay, key="pay-1")
    order = (await till.get(path))["order"]
    assert len(order["lines"]) == 1 and len(order["payments"]) == 1
    assert len((await till.get("/orders"))["orders"]) == 1

    # The same key for a different request is refused, and changes nothing.
    status, problem, _ = await till.call(
        "POST", f"{path}/payments", {"tender": "cash", "amount": 999}, key="pay-1"
    )
    assert status == 422 and problem["type"].endswith(":idempotency-key-reused")
    assert len((await till.get(path))["order"]["payments"]) == 1

    # Keys belong to their terminal: another terminal's "open-1" is a new order.
    other = Terminal(till.node, await till.node.pair("Counter 2"))
    theirs = await other.post("/orders", {"table": "T9"}, key="open-1")
    assert theirs["order"]["id"] != first["order"]["id"]


async def test_a_retry_whose_first_answer_was_lost_finds_its_own_write(tmp_path, clock):
    """The node died after the order log committed but before the answer was recorded:
    the retry derives the same ids from its key, so it finds its write instead of
    repeating it."""
    node = await start_node(tmp_path / "n", clock)
    try:
        till = Terminal(node, await node.pair())
        order = (await till.post("/orders", key="k-open"))["order"]
        line = await till.post(f"/orders/{order['id']}/lines", {"sku": "SODA"}, key="k-line")
        pay = {"tender": "card", "amount": 100}
        await till.post(f"/orders/{order['id']}/payments", pay, key="k-pay")
    finally:
        await node.close()
    with sqlite3.connect(tmp_path / "n" / "requests.db") as db:
        assert db.execute("DELETE FROM idempotency").rowcount == 3
    node = await start_node(tmp_path / "n", clock)
    try:
        till.node = node
        again = await till.post("/orders", key="k-open")
        assert "Idempotent-Replayed" not in (await till.call("GET", "/orders"))[2]
        assert again["order"]["id"] == order["id"]
        line2 = await till.post(f"/orders/{order['id']}/lines", {"sku": "SODA"}, key="k-line")
        assert line2["line_id"] == line["line_id"]
        await till.post(f"/orders/{order['id']}/payments", pay, key="k-pay")
        final = (await till.get(f"/orders/{order['id']}"))["order"]
        assert len(final["lines"]) == 1 and len(final["payments"]) == 1
        assert len((await till.get("/orders"))["orders"]) == 1
    finally:
        await node.close()


async def test_twenty_terminals_add_lines_to_one_order_at_once(node):
    terminals = [Terminal(node, await node.pair(f"Till {i}")) for i in range(20)]
    order = (await terminals[0].post("/orders"))["order"]
    path = f"/orders/{order['id']}/lines"

    async def ring(terminal: Terminal, n: int) -> list[str]:
        return [(await terminal.post(path, {"sku": "COOKIE"}))["line_id"] for _ in range(n)]

    added = await asyncio.gather(*(ring(t, 5) for t in terminals))
    final = (await terminals[0].get(f"/orders/{order['id']}"))["order"]
    assert {ln["id"] for ln in final["lines"]} == {i for ids in added for i in ids}
    assert len(final["lines"]) == 100
    assert final["totals"]["subtotal"] == 100 * 250
    assert {ln["by"].split(" (")[0] for ln in final["lines"]} == {f"Till {i}" for i in range(20)}


async def test_orders_are_listed_searched_and_paged(till):
    ids = []
    for i in range(7):
        body = {"channel": "dine_in", "table": f"T{i % 4}"} if i % 2 else {}
        ids.append((await till.post("/orders", body))["order"]["id"])
    await till.post(f"/orders/{ids[0]}/lines", {"sku": "SODA"})
    await till.post(f"/orders/{ids[0]}/payments", {"tender": "cash", "amount": 500})
    await till.post(f"/orders/{ids[0]}/close", expect=200)
    await till.post(f"/orders/{ids[1]}/void", {"reason": "walked out"}, expect=200)

    seen, after, pages = [], None, 0
    while True:
        page = await till.get("/orders?limit=3" + (f"&after={after}" if after else ""))
        seen += [o["id"] for o in page["orders"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert seen == ids and pages == 3

    open_ones = await till.get("/orders?open=true")
    assert [o["id"] for o in open_ones["orders"]] == ids[2:]
    closed = await till.get("/orders?status=closed,void")
    assert {o["id"]: o["status"] for o in closed["orders"]} == {
        ids[0]: "closed",
        ids[1]: "void",
    }
    assert closed["orders"][0]["total"] == 321  # a soda: 295 + 8.875 % tax (26.18 → 26)
    t1 = await till.get("/orders?table=t1")
    assert {o["id"] for o in t1["orders"]} == {ids[1], ids[5]}
    assert [o["number"] for o in (await till.get("/orders?number=003"))["orders"]] == ["A-003"]
    other_day = await till.get("/orders?date=2026-11-19")
    assert other_day == {"business_date": "2026-11-19", "orders": [], "next": None}

    for query, parameter in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("status=lost", "status"),
        ("date=yesterday", "date"),
        ("open=maybe", "open"),
    ]:
        status, problem, _ = await till.call("GET", f"/orders?{query}")
        assert status == 400 and problem["parameter"] == parameter, (query, problem)
    status, problem, _ = await till.call("GET", "/orders?after=bm90IGEgdG9rZW4")
    assert status == 400 and problem["parameter"] == "after"


async def test_the_catalog_is_read_with_prices_in_minor_units(till):
    catalog = await till.get("/catalog")
    assert catalog["currency"] == "USD"
    burger = next(item for item in catalog["items"] if item["sku"] == "BURGER")
    assert burger["price"] == 1250 and burger["station"] == "grill"
    cheese = {"code": "CHEESE", "name": "Add cheese", "price": 150, "group": None}
    assert {**cheese, "available": True, "unavailable": None} in burger["modifiers"]
    assert {"id": "food", "name": "Sales tax, food", "rate": "8.875"} in catalog["taxes"]


async def test_reopening_needs_a_manager_terminal(node, till):
    order = (await till.post("/orders"))["order"]
    path = f"/orders/{order['id']}"
    await till.post(f"{path}/close", expect=200)
    status, problem, _ = await till.call("POST", f"{path}/reopen", {"reason": "wrong tip"})
    assert status == 403 and problem["type"].endswith(":manager-required")
    manager = Terminal(node, await node.pair("Office", manager=True))
    reopened = await manager.post(f"{path}/reopen", {"reason": "wrong tip"}, expect=200)
    assert reopened["order"]["status"] == "open"


async def test_a_full_disk_answers_503_with_retry_after_and_loses_nothing(small_disk, clock):
    node = await start_node(small_disk / "state", clock)
    try:
        till = Terminal(node, await node.pair())
        order = (await till.post("/orders"))["order"]
        path = f"/orders/{order['id']}/lines"
        acknowledged = [(await till.post(path, {"sku": "FRIES"}))["line_id"] for _ in range(3)]
        filler = fill(small_disk)
        for attempt in range(200):
            status, body, headers = await till.call(
                "POST", path, {"sku": "FRIES", "note": "x" * 200}, key=f"full-{attempt}"
            )
            if status != 201:
                break
            acknowledged.append(body["line_id"])
        assert status == 503, body
        assert body["type"].endswith(":store-unavailable") and headers["Retry-After"] == "5"
        async with node.session.get(f"{node.url}/readyz") as response:
            ready = await response.json(content_type=None)
        assert response.status == 503 and ready["type"].endswith(":disk-full")
        filler.unlink()
        retried = await till.post(path, {"sku": "FRIES", "note": "x" * 200}, key=f"full-{attempt}")
        acknowledged.append(retried["line_id"])
    finally:
        await node.close()
    node = await start_node(small_disk / "state", clock)
    try:
        till = Terminal(node, await node.pair("After"))
        lines = (await till.get(f"/orders/{order['id']}"))["order"]["lines"]
        assert sorted(ln["id"] for ln in lines) == sorted(acknowledged)
    finally:
        await node.close()


async def test_a_retry_after_a_restart_is_replayed_from_disk(tmp_path, clock):
    node = await start_node(tmp_path / "n", clock)
    try:
        till = Terminal(node, await node.pair())
        first = await till.post("/orders", {"table": "T3"}, key="before-restart")
    finally:
        await node.close()  # writes the records still pending
    node = await start_node(tmp_path / "n", clock)
    try:
        till.node = node
        status, again, headers = await till.call(
            "POST", "/orders", {"table": "T3"}, key="before-restart"
        )
        assert status == 201 and again == first and headers["Idempotent-Replayed"] == "true"
    finally:
        await node.close()


async def test_a_write_asked_for_less_answers_with_the_order_in_short(till):
    minimal = {**till.headers, "Prefer": "respond-async, return=minimal; x=1"}

    async def post(path: str, body: dict, *, key: str) -> tuple[int, dict, dict]:
        headers = {**minimal, "Idempotency-Key": key}
        url = f"{till.node.url}/api/v1{path}"
        async with till.node.session.post(url, json=body, headers=headers) as response:
            return response.status, await response.json(), dict(response.headers)

    status, opened, headers = await post("/orders", {"table": "T2"}, key="open-short")
    assert status == 201 and headers["Preference-Applied"] == "return=minimal"
    order_id = opened["order"]["id"]
    assert headers["Location"] == f"/api/v1/orders/{order_id}"
    status, added, headers = await post(f"/orders/{order_id}/lines", {"sku": "SODA"}, key="l-1")
    assert status == 201 and set(added) == {"order", "line_id"}
    assert set(added["order"]) == {"id", "number", "status", "version", "totals"}
    assert (added["order"]["status"], added["order"]["totals"]["total"]) == ("open", 321)
    whole = (await till.get(f"/orders/{order_id}"))["order"]
    assert whole["version"] == added["order"]["version"] and "history" in whole
    assert added["order"]["version"] != opened["order"]["version"]

    replayed = await post(f"/orders/{order_id}/lines", {"sku": "SODA"}, key="l-1")
    assert replayed[:2] == (201, added) and replayed[2]["Preference-Applied"] == "return=minimal"
    url = f"{till.node.url}/api/v1/orders/{order_id}"
    async with till.node.session.get(url, headers=minimal) as response:  # a read: all of it
        assert "Preference-Applied" not in response.headers
        assert (await response.json())["order"] == whole
    fired = await till.post(f"/orders/{order_id}/fire", expect=200)  # no Prefer: all of it
    assert fired["order"]["history"] and fired["order"]["version"] != whole["version"]


async def test_a_terminals_replica_cannot_take_an_order_past_its_limit(node, till):
    """501 lines a terminal writes straight into the day's document: its first 500 count,
    the last is named in `ignored` and kept, and the API takes no more."""
    order = (await till.post("/orders"))["order"]
    guid = node.book.day_guid(node.book.business_date())
    replica = Doc()
    replica.apply_update(node.replica.loaded(guid).get_update())
    before = replica.get_state()
    line = {"sku": "SODA", "name": "Soda", "qty": 1, "unit_price": 295, "tax_rate": "8.875"}
    with replica.transaction():
        lines = replica.get("orders", type=Map)[order["id"]]["lines"]
        for n in range(501):
            at = f"2026-11-20T18:00:{n // 100:02d}.{n % 100:03d}Z/0000/web-till"
            lines[f"w{n:03d}"] = json.dumps({**line, "at": at, "by": "Web till"})
    await node.replica.apply_update(guid, replica.get_update(before), "terminal Web till")

    served = (await till.get(f"/orders/{order['id']}"))["order"]
    assert len(served["lines"]) == 500 and served["totals"]["subtotal"] == 500 * 295
    assert [i.split(":")[0] for i in served["ignored"]] == ["lines/w500"]
    status, problem, _ = await till.call("POST", f"/orders/{order['id']}/lines", {"sku": "SODA"})
    assert (status, problem["type"], problem["pointer"]) == (
        409,
        "urn:posedge:problem:order-full",
        "",
    )
    assert "500 lines" in problem["detail"]
    kept = (await node.book.day_contents(node.book.business_date()))[order["id"]]["lines"]
    assert len(kept) == 501


async def test_an_unknown_query_parameter_is_refused_naming_it(till):
    for path in ("/orders?limit=5&colour=red", "/print-jobs?colour=red", "/drawer-opens?colour=1"):
        status, problem, _ = await till.call("GET", path)
        assert status == 400 and problem["type"].endswith(":invalid-parameter"), path
        assert problem["parameter"] == "colour" and "colour" in problem["detail"]
