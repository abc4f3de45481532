"""Kitchen display screens without a browser: a station's tickets derived from orders, the
live socket a screen listens on, rush and recall, and what a screen's token may do."""

from __future__ import annotations

import datetime as dt
import re

import aiohttp
import pytest

from edge.config.load import from_values
from edge.http.api.kds import ASSETS
from edge.http.api.openapi.document import openapi_document
from edge.http.auth import KDS_ROUTES
from edge.kitchen.tickets import all_day, expo_orders, recent_bumps, station_tickets
from edge.orders.log import Actor
from edge.runtime.errors import ConfigError, OrderNotEditable
from tests.support.api_node import Terminal

TILL = Actor("Counter 1 (t-1)")
MANAGER = Actor("Manager (t-2)", manager=True)


async def fired(book, *lines: tuple[str, dict], **order) -> tuple[str, str]:
    """An order with these (sku, options) lines, fired: (order id, fire id)."""
    view = await book.open_order(TILL, **order)
    for sku, options in lines:
        await book.add_line(TILL, view.id, sku=sku, **options)
    view, fire_id = await book.fire(TILL, view.id)
    return view.id, fire_id


async def test_a_station_sees_its_own_lines_rushed_orders_first_then_oldest_fire(book, clock):
    first, _ = await fired(book, ("BURGER", {}), ("FRIES", {}), channel="dine_in", table="4")
    clock.advance(minutes=1)
    second, _ = await fired(book, ("VEGGIE", {"qty": 2, "modifiers": ["CHEESE"]}))
    clock.advance(minutes=1)
    third, _ = await fired(book, ("BURGER", {"note": "no pickles"}))
    await book.rush(TILL, third, reason="VIP")

    grill = station_tickets(await book.list_orders(), "grill")
    assert [t.order_id for t in grill] == [third, first, second]
    assert grill[0].rush and grill[0].lines[0].note == "no pickles"
    assert [(t.channel, t.table) for t in grill][1] == ("dine_in", "4")
    assert grill[2].lines[0].modifiers == ("Add cheese",)
    fryer = station_tickets(await book.list_orders(), "fryer")
    assert [(t.order_id, [line.name for line in t.lines]) for t in fryer] == [(first, ["Fries"])]


async def test_voided_lines_stay_struck_and_count_for_nothing_all_day(book):
    order = await book.open_order(TILL)
    await book.add_line(TILL, order.id, sku="BURGER", qty=2)
    _, drop = await book.add_line(TILL, order.id, sku="VEGGIE")
    await book.fire(TILL, order.id)
    await fired(book, ("BURGER", {"qty": 3}))
    await book.void_line(MANAGER, order.id, drop, "changed mind")

    tickets = station_tickets(await book.list_orders(), "grill")
    assert [(line.name, line.voided) for line in tickets[0].lines] == [
        ("Classic Burger", False),
        ("Garden Burger", True),
    ]
    assert all_day(tickets) == [("Classic Burger", 5)]


async def test_a_voided_order_keeps_its_ticket_marked_void_until_bumped(book):
    order_id, fire_id = await fired(book, ("BURGER", {}))
    await book.void_order(MANAGER, order_id, "walked out")
    [ticket] = station_tickets(await book.list_orders(), "grill")
    assert ticket.void and all(line.voided for line in ticket.lines)
    await book.bump(TILL, order_id, fire_id=fire_id, station="grill")
    assert station_tickets(await book.list_orders(), "grill") == []


async def test_recall_brings_back_the_latest_bumps_in_turn(book, clock):
    bumped = []
    for _ in range(3):
        order_id, fire_id = await fired(book, ("BURGER", {}))
        view = await book.bump(TILL, order_id, fire_id=fire_id, station="grill")
        bumped.append((order_id, next(e.id for e in view.events if e.kind == "bump")))
        clock.advance(seconds=10)
    recent = recent_bumps(await book.list_orders(), "grill")
    assert [(b.order_id, b.bump_id) for b in recent] == bumped[::-1]
    await book.recall(TILL, recent[0].order_id, bump_id=recent[0].bump_id)
    views = await book.list_orders()
    assert [t.order_id for t in station_tickets(views, "grill")] == [bumped[2][0]]
    assert [b.order_id for b in recent_bumps(views, "grill")] == [bumped[1][0], bumped[0][0]]


async def test_expo_shows_each_stations_progress_and_ready_orders_for_a_while(book, clock):
    order_id, fire_id = await fired(book, ("BURGER", {}), ("FRIES", {}))
    now = int(clock().timestamp() * 1000)
    [order] = expo_orders(await book.list_orders(), now_ms=now, ready_for_ms=60_000)
    assert order["stations"] == [
        {"station": "fryer", "open": 1, "done": 0},
        {"station": "grill", "open": 1, "done": 0},
    ]
    for station in ("grill", "fryer"):
        await book.bump(TILL, order_id, fire_id=fire_id, station=station)
    [ready] = expo_orders(await book.list_orders(), now_ms=now, ready_for_ms=60_000)
    assert ready["done_ms"] is not None and all(s["open"] == 0 for s in ready["stations"])
    assert expo_orders(await book.list_orders(), now_ms=now + 61_000, ready_for_ms=60_000) == []


async def test_rushing_twice_is_one_rush_and_a_closed_order_cannot_be(book):
    order_id, _ = await fired(book, ("BURGER", {}))
    await book.rush(TILL, order_id)
    view = await book.rush(TILL, order_id, reason="again")
    assert [e.kind for e in view.events].count("rush") == 1
    closed = await book.open_order(TILL)
    await book.close(TILL, closed.id)
    with pytest.raises(OrderNotEditable):
        await book.rush(TILL, closed.id)


def test_the_amber_threshold_must_come_before_the_red_one():
    settings = from_values({"kds.warn_after": 3, "kds.late_after": 8}).kds
    assert (settings.warn_after, settings.late_after) == (3.0, 8.0)
    with pytest.raises(ConfigError) as raised:
        from_values({"kds.warn_after": 10, "kds.late_after": 10})
    assert raised.value.key == "kds.late_after"
    assert "more than kds.warn_after" in raised.value.reason


# -- over the API ------------------------------------------------------------------------


async def pair_screen(node, name: str = "Grill screen") -> str:
    """A kitchen screen's token, paired through POST /api/v1/pair."""
    code = node.context.terminals.codes.create_code(
        name, "kds", ttl=dt.timedelta(minutes=5), now=node.clock()
    )
    async with node.session.post(f"{node.url}/api/v1/pair", json={"code": code.code}) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["token"]


async def screen(node, token: str, station: str):
    return await node.session.ws_connect(f"{node.url}/api/v1/kds/{station}?access_token={token}")


async def snapshot(ws, check=lambda message: True) -> dict:
    """The next snapshot that passes `check` (ticks skipped), each waited for at most 10 s."""
    for _ in range(50):
        message = await ws.receive_json(timeout=10)
        assert message["type"] in ("snapshot", "tick")
        if message["type"] == "snapshot" and check(message):
            return message
    raise AssertionError("no such snapshot among 50 messages")


async def test_a_screen_gets_its_station_on_connect_and_again_on_each_fire_bump_and_recall(
    node,
):
    till = Terminal(node, await node.pair())
    kds = Terminal(node, await pair_screen(node))
    waiting = (await till.post("/orders", {"channel": "takeaway"}))["order"]
    await till.post(f"/orders/{waiting['id']}/lines", {"sku": "BURGER", "qty": 2})
    await till.post(f"/orders/{waiting['id']}/fire", expect=200)
    async with await screen(node, kds.headers["Authorization"][7:], "grill") as ws:
        first = await snapshot(ws)
        assert first["station"] == {"id": "grill", "name": "Grill"}
        assert first["now"] == int(node.clock().timestamp() * 1000)
        assert (first["warn_after"], first["late_after"]) == (300, 600)
        assert [t["number"] for t in first["tickets"]] == [waiting["number"]]
        assert first["all_day"] == [{"name": "Classic Burger", "qty": 2}]

        order = (await till.post("/orders", {"channel": "dine_in", "table": "9"}))["order"]
        await till.post(f"/orders/{order['id']}/lines", {"sku": "BURGER", "note": "rare"})
        fire = await till.post(f"/orders/{order['id']}/fire", expect=200)
        shown = await snapshot(ws, lambda m: len(m["tickets"]) == 2)
        assert shown["tickets"][1]["lines"][0]["note"] == "rare"
        assert shown["all_day"] == [{"name": "Classic Burger", "qty": 3}]

        body = {"fire_id": fire["fire_id"], "station": "grill"}
        await kds.post(f"/orders/{order['id']}/bump", body, key="bump-1", expect=200)
        bumped = await snapshot(ws, lambda m: len(m["tickets"]) == 1)
        assert bumped["recent_bumps"][0]["order_id"] == order["id"]
        recall = {"bump_id": bumped["recent_bumps"][0]["bump_id"]}
        await kds.post(f"/orders/{order['id']}/recall", recall, expect=200)
        back = await snapshot(ws, lambda m: len(m["tickets"]) == 2)
        assert back["recent_bumps"] == []

        await till.post(f"/orders/{order['id']}/rush", {"reason": "VIP"}, expect=200)
        rushed = await snapshot(ws, lambda m: m["tickets"][0]["rush"])
        assert rushed["tickets"][0]["order_id"] == order["id"]


async def test_expo_and_unknown_stations(node):
    token = await pair_screen(node, "Expo")
    till = Terminal(node, await node.pair())
    order = (await till.post("/orders"))["order"]
    await till.post(f"/orders/{order['id']}/lines", {"sku": "CHICKEN"})
    await till.post(f"/orders/{order['id']}/fire", expect=200)
    async with await screen(node, token, "expo") as ws:
        expo = await snapshot(ws)
        assert [o["number"] for o in expo["orders"]] == [order["number"]]
        assert {"id": "fryer", "name": "Fryer"} in expo["stations"]
    async with await screen(node, token, "pizza") as ws:
        closing = await ws.receive(timeout=10)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4404
        assert "grill" in closing.extra and "expo" in closing.extra


async def test_a_screens_token_only_shows_bumps_and_recalls_tickets(node):
    kds = Terminal(node, await pair_screen(node))
    for method, path in [
        ("POST", "/orders"),
        ("GET", "/orders"),
        ("GET", "/catalog"),
        ("GET", "/events"),
        ("GET", "/sync/s1/catalog"),
        ("POST", "/orders/20261120-0a1b2c3d4e5f/rush"),
        ("POST", "/terminals/pairing-codes"),
    ]:
        status, problem, _ = await kds.call(method, path, {} if method == "POST" else None)
        assert status == 403, (method, path)
        assert problem["type"] == "urn:posedge:problem:role-not-allowed"
    assert (await kds.get("/terminals/me"))["terminal"]["role"] == "kds"
    status, problem, _ = await kds.call(
        "POST", "/orders/20261120-0a1b2c3d4e5f/bump", {"fire_id": "x", "station": "grill"}
    )
    assert (status, problem["type"]) == (404, "urn:posedge:problem:unknown-order")


def test_the_openapi_document_says_which_routes_a_screens_token_may_use():
    allowed = set()
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            forbidden = operation["responses"].get("403", {}).get("description", "")
            if "`role-not-allowed`" not in forbidden:
                allowed.add((method.upper(), path))
    assert allowed == KDS_ROUTES


async def test_the_page_and_its_assets_need_no_token_and_nothing_from_the_internet(node):
    async with node.session.get(f"{node.url}/kds/grill") as response:
        assert response.status == 200 and response.content_type == "text/html"
        html = await response.text()
    for name, content_type in ASSETS.items():
        async with node.session.get(f"{node.url}/kds/assets/{name}") as response:
            assert (response.status, response.content_type) == (200, content_type)
            text = await response.text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), name
    assert "/kds/assets/kds.js" in html and "/kds/assets/kds.css" in html
    async with node.session.get(f"{node.url}/kds/assets/nope.js") as response:
        assert response.status == 404
    async with node.session.get(f"{node.url}/api/v1/kds/grill") as response:
        assert response.status == 401  # the live tickets need a token


async def test_a_screen_whose_token_is_revoked_is_closed_and_a_quiet_one_gets_ticks(node):
    token = await pair_screen(node)
    manager = Terminal(node, await node.pair("Boss", manager=True))
    async with await screen(node, token, "grill") as ws:
        await snapshot(ws)
        tick = await ws.receive_json(timeout=10)  # nothing happened for 5 s
        assert tick == {"type": "tick", "now": int(node.clock().timestamp() * 1000)}
        me = (await Terminal(node, token).get("/terminals/me"))["terminal"]
        await manager.call("DELETE", f"/terminals/{me['id']}")
        closing = await ws.receive(timeout=10)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4401
