"""The catalog over HTTP on a real node: modifier groups, quantities and open prices on a
line (each refusal a problem pointing at its field, with nothing written), and "86": an item
or a modifier marked unavailable through the API, refused on the next line, shown in the
catalog and pushed on the events socket, by a till or a kitchen screen."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.app import open_store_document
from tests.support.api_node import Terminal
from tests.support.waiting import until

WAIT = 10.0  # seconds: the bound on every wait
PROBLEM = "urn:posedge:problem:"


@pytest.fixture
async def till(node):
    return Terminal(node, await node.pair("Counter 1"))


@pytest.fixture
async def order(till):
    return (await till.post("/orders", {"channel": "dine_in", "table": "4"}))["order"]


async def kds(node, name: str = "Grill screen") -> Terminal:
    code = node.context.terminals.codes.create_code(
        name, "kds", ttl=dt.timedelta(minutes=5), now=node.clock()
    )
    async with node.session.post(f"{node.url}/api/v1/pair", json={"code": code.code}) as r:
        assert r.status == 201, await r.text()
        return Terminal(node, (await r.json())["token"])


async def refused(till, order: dict, line: dict, status: int, slug: str, pointer: str) -> dict:
    """Post `line` to `order`: refused as said, and the order is as it was."""
    path = f"/orders/{order['id']}"
    before = (await till.get(path))["order"]
    got, problem, _ = await till.call("POST", f"{path}/lines", line)
    assert (got, problem["type"], problem.get("pointer")) == (status, PROBLEM + slug, pointer), (
        line,
        problem,
    )
    assert (await till.get(path))["order"] == before
    return problem


async def test_each_refusal_of_a_line_points_at_its_field_and_writes_nothing(till, order):
    cases = [
        ({"sku": "ANGUS", "modifiers": ["RARE", "GOLD"]}, 422, "unknown-item", "/modifiers/1"),
        ({"sku": "ANGUS", "modifiers": ["LARGE", "RARE"]}, 422, "unknown-item", "/modifiers/0"),
        (
            {"sku": "ANGUS", "modifiers": ["RARE", "CHEESE", {"code": "CHEESE", "qty": 3}]},
            422,
            "modifier-rejected",
            "/modifiers/2",
        ),
        ({"sku": "ANGUS", "modifiers": ["CHEESE"]}, 422, "modifier-rejected", "/modifiers"),
        ({"sku": "ANGUS", "modifiers": ["RARE", "WELL"]}, 422, "modifier-rejected", "/modifiers"),
        (
            {"sku": "FRIES", "modifiers": ["KETCHUP", "BBQ", "RANCH"]},
            422,
            "modifier-rejected",
            "/modifiers",
        ),
        ({"sku": "FRIES", "modifiers": [{"code": "LARGE", "qty": 0}]}, 422, "invalid-input",
         "/modifiers/0/qty"),
        ({"sku": "FRIES", "price": 400}, 422, "invalid-input", "/price"),
        ({"sku": "SPECIAL"}, 422, "invalid-input", "/price"),
        ({"sku": "SPECIAL", "price": 499}, 422, "invalid-input", "/price"),
        ({"sku": "SPECIAL", "price": 5001}, 422, "invalid-input", "/price"),
        ({"sku": "SPECIAL", "price": "20.00"}, 422, "invalid-input", "/price"),
    ]  # fmt: skip
    for line, status, slug, pointer in cases:
        await refused(till, order, line, status, slug, pointer)
    problem = await refused(
        till, order, {"sku": "ANGUS", "modifiers": []}, 422, "modifier-rejected", "/modifiers"
    )
    assert "Doneness (group 'doneness')" in problem["detail"]  # the group, by name and id


async def test_modifier_quantities_and_an_open_price_are_priced_on_the_line(till, order):
    path = f"/orders/{order['id']}/lines"
    modifiers = ["MEDIUM", {"code": "CHEESE", "qty": 2}, "BACON", "AIOLI"]
    added = await till.post(path, {"sku": "ANGUS", "qty": 2, "modifiers": modifiers})
    [line] = added["order"]["lines"]
    assert line["modifiers"] == [
        {"code": "MEDIUM", "name": "Medium", "price": 0, "qty": 1},
        {"code": "CHEESE", "name": "Add cheese", "price": 150, "qty": 2},
        {"code": "BACON", "name": "Add bacon", "price": 250, "qty": 1},
        {"code": "AIOLI", "name": "Garlic aioli", "price": 75, "qty": 1},
    ]
    assert line["gross"] == 2 * (1495 + 2 * 150 + 250 + 75)
    special = await till.post(path, {"sku": "SPECIAL", "price": 1850, "note": "halibut"})
    line = special["order"]["lines"][-1]
    assert (line["unit_price"], line["gross"]) == (1850, 1850)
    for price in (500, 5000):  # the range's ends are in it
        await till.post(path, {"sku": "SPECIAL", "price": price})


async def test_the_catalog_shows_categories_groups_and_open_prices(till):
    catalog = await till.get("/catalog")
    assert [c["id"] for c in catalog["categories"]][:3] == ["burgers", "sandwiches", "sides"]
    groups = {g["id"]: g for g in catalog["modifier_groups"]}
    assert (groups["doneness"]["min"], groups["doneness"]["max"]) == (1, 1)
    assert (groups["holds"]["max"], groups["toppings"]["max_each"]) == (None, 3)
    items = {i["sku"]: i for i in catalog["items"]}
    angus = items["ANGUS"]
    assert angus["modifier_groups"][:2] == ["doneness", "toppings"]
    assert angus["category"] == "burgers" and angus["available"] is True
    assert {"code": "RARE", "name": "Rare", "price": 0, "group": "doneness", "available": True,
            "unavailable": None} in angus["modifiers"]  # fmt: skip
    special = items["SPECIAL"]
    assert (special["price"], special["open_price"]) == (None, {"min": 500, "max": 5000})
    assert all(m["group"] is None for m in items["BURGER"]["modifiers"])  # its own table


async def test_an_item_86d_through_the_api_is_refused_shown_and_pushed_until_it_is_back(
    node, till, order
):
    listener = await node.pair("Pass screen")
    async with node.session.ws_connect(
        f"{node.url}/api/v1/events", headers={"Authorization": f"Bearer {listener}"}
    ) as ws:
        hello = await ws.receive_json(timeout=WAIT)
        status, marked, _ = await till.call(
            "PUT", "/catalog/items/ANGUS/availability", {"reason": "out of patties"}
        )
        assert status == 200, marked
        assert marked["available"] is False
        assert marked["unavailable"]["reason"] == "out of patties"
        assert marked["unavailable"]["by"].startswith("Counter 1 (t-")
        event = await _next(ws, "availability")
        assert event["cursor"] > hello["cursor"]
        assert [(i["sku"], i["reason"]) for i in event["items"]] == [("ANGUS", "out of patties")]
        problem = await refused(
            till, order, {"sku": "ANGUS", "modifiers": ["RARE"]}, 409, "item-unavailable", "/sku"
        )
        assert "out of patties" in problem["detail"]
        shown = next(i for i in (await till.get("/catalog"))["items"] if i["sku"] == "ANGUS")
        assert shown["available"] is False and shown["unavailable"]["reason"] == "out of patties"

        status, back, _ = await till.call("DELETE", "/catalog/items/ANGUS/availability")
        assert (status, back) == (200, {"sku": "ANGUS", "available": True, "unavailable": None})
        assert (await _next(ws, "availability"))["items"] == []
        await till.post(f"/orders/{order['id']}/lines", {"sku": "ANGUS", "modifiers": ["RARE"]})


async def test_a_modifier_86d_is_refused_wherever_it_is_offered(till, order):
    status, _, _ = await till.call("PUT", "/catalog/modifiers/BACON/availability")  # no body
    assert status == 200
    await refused(
        till, order, {"sku": "VEGGIE", "modifiers": ["CHEESE", "BACON"]}, 409,
        "item-unavailable", "/modifiers/1",
    )  # fmt: skip
    await refused(till, order, {"sku": "BURGER", "modifiers": ["BACON"]}, 409,
                  "item-unavailable", "/modifiers/0")  # fmt: skip
    veggie = next(i for i in (await till.get("/catalog"))["items"] if i["sku"] == "VEGGIE")
    bacon = next(m for m in veggie["modifiers"] if m["code"] == "BACON")
    assert bacon["available"] is False and bacon["unavailable"]["reason"] == ""
    await till.call("DELETE", "/catalog/modifiers/BACON/availability")
    await till.post(f"/orders/{order['id']}/lines", {"sku": "VEGGIE", "modifiers": ["BACON"]})


async def test_marking_something_the_catalog_lacks_is_refused(till):
    for path in ("/catalog/items/PIZZA/availability", "/catalog/modifiers/GOLD/availability"):
        for method in ("PUT", "DELETE"):
            status, problem, _ = await till.call(method, path)
            assert (status, problem["type"]) == (422, PROBLEM + "unknown-item"), (method, path)
    status, problem, _ = await till.call(
        "PUT", "/catalog/items/FRIES/availability", {"reason": "", "why": "x"}
    )
    assert (status, problem["pointer"]) == (422, "/why")


async def test_a_kitchen_screen_lists_its_station_and_86s_but_reads_no_prices(node, till):
    screen = await kds(node)
    station = await screen.get("/catalog/stations/fryer")
    assert station["station"] == {"id": "fryer", "name": "Fryer"}
    assert {i["sku"] for i in station["items"]} == {"CHICKEN", "FRIES", "RINGS"}
    status, _, _ = await screen.call("GET", "/catalog")
    assert status == 403
    status, marked, _ = await screen.call(
        "PUT", "/catalog/items/FRIES/availability", {"reason": "fryer down"}
    )
    assert status == 200 and marked["unavailable"]["by"].startswith("Grill screen (t-")
    fries = next(i for i in (await till.get("/catalog"))["items"] if i["sku"] == "FRIES")
    assert fries["available"] is False
    status, _, _ = await screen.call("DELETE", "/catalog/items/FRIES/availability")
    assert status == 200
    status, problem, _ = await screen.call("GET", "/catalog/stations/nowhere")
    assert (status, problem["type"]) == (422, PROBLEM + "unknown-item")


async def test_a_terminal_that_reconnects_after_an_86_is_told_what_is_unavailable(node, till):
    token = await node.pair("Pass screen")
    auth = {"Authorization": f"Bearer {token}"}
    async with node.session.ws_connect(f"{node.url}/api/v1/events", headers=auth) as ws:
        cursor = (await ws.receive_json(timeout=WAIT))["cursor"]
    await till.call("PUT", "/catalog/modifiers/AVOCADO/availability", {"reason": "not ripe"})
    async with node.session.ws_connect(
        f"{node.url}/api/v1/events?since={cursor}", headers=auth
    ) as ws:
        hello = await ws.receive_json(timeout=WAIT)
        caught_up = await _next(ws, "availability")
        assert caught_up["cursor"] == hello["cursor"] > cursor
        assert [(m["code"], m["reason"]) for m in caught_up["modifiers"]] == [
            ("AVOCADO", "not ripe")
        ]


async def test_an_86_made_on_the_store_document_by_a_peer_reaches_the_socket(node, till, order):
    """A mark made by another node is a write to the same register, stamped by that node:
    the book and the socket hear it as they hear one made here."""
    token = await node.pair("Pass screen")
    auth = {"Authorization": f"Bearer {token}"}
    peer = await open_store_document(node.replica, node.book.store_id, "node-b")
    async with node.session.ws_connect(f"{node.url}/api/v1/events", headers=auth) as ws:
        await ws.receive_json(timeout=WAIT)
        value = {"reason": "sold out", "by": "Counter 2 (t-0000abcd)", "at": "2026-11-20T18:00"}
        await peer.write({"unavailable:SODA": value})
        event = await _next(ws, "availability")
        assert event["items"] == [{"sku": "SODA", **value}]
    peer.close()
    await until(lambda: "SODA" in node.book.availability.now().items, within=WAIT)
    await refused(till, order, {"sku": "SODA"}, 409, "item-unavailable", "/sku")


async def _next(ws, kind: str) -> dict:
    for _ in range(100):
        message = await ws.receive_json(timeout=WAIT)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message among 100")
