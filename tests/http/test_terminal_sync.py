"""A terminal's live replica of a business day over /api/v1/sync: a Yjs client (pycrdt and the
sync protocol, on a real WebSocket) reads what the HTTP API wrote, writes an order the API
then serves, and is refused what it may not do, with nothing of it stored."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import pytest
from pycrdt import Doc, Map

from sync.protocol import SyncStep, decode, step1, step2, update
from tests.support.api_node import Terminal

WAIT = 10.0  # seconds: the bound on every wait


class YjsTerminal:
    """A Yjs client of one document: syncs with the node, then sends and takes updates."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.doc = Doc()
        self.sent_step1 = False

    async def sync(self) -> None:
        """Answer the node's step 1 and send ours; return once the node's step 2 is in."""
        await self.ws.send_bytes(step1(self.doc.get_state()))
        async with asyncio.timeout(WAIT):
            while True:
                message = decode(await self.ws.receive_bytes())
                if message.step == SyncStep.STEP1:
                    await self.ws.send_bytes(step2(self.doc.get_update(message.payload)))
                else:
                    self.doc.apply_update(message.payload)
                    if message.step == SyncStep.STEP2:
                        return

    async def take_updates_until(self, done) -> None:
        async with asyncio.timeout(WAIT):
            while not done():
                message = decode(await self.ws.receive_bytes())
                if message.step != SyncStep.STEP1:
                    self.doc.apply_update(message.payload)

    async def write(self, change) -> None:
        """Make a change to the replica and send it as an update."""
        before = self.doc.get_state()
        with self.doc.transaction():
            change(self.doc)
        await self.ws.send_bytes(update(self.doc.get_update(before)))

    def orders(self) -> dict:
        return self.doc.get("orders", type=Map).to_py() or {}


@contextlib.asynccontextmanager
async def replica_of(node, guid: str, token: str):
    async with node.session.ws_connect(
        f"{node.url}/api/v1/sync/{guid}", params={"access_token": token}
    ) as ws:
        client = YjsTerminal(ws)
        await client.sync()
        yield client


@pytest.fixture
async def till(node) -> tuple[Terminal, str]:
    token = await node.pair("Web till")
    return Terminal(node, token), token


def day_guid(node) -> str:
    return node.book.day_guid(node.book.business_date())


def js_style_order(order_id: str, business_date: str) -> Map:
    """An order as a JavaScript terminal writes it: entries as plain objects, no JSON text."""
    line = {
        "sku": "FRIES",
        "name": "Fries",
        "qty": 2,
        "unit_price": 450,
        "modifiers": [],
        "note": "",
        "tax_rate": "8.875",
        "tax_included": False,
        "station": "fryer",
        "at": "2026-11-20T18:00:01.000Z/0000/web-till",
        "by": "Web till",
    }
    return Map(
        {
            "id": order_id,
            "number": "W-001",
            "business_date": business_date,
            "channel": "counter",
            "table": None,
            "guests": 0,
            "opened_at": "2026-11-20T18:00:00.000Z/0000/web-till",
            "opened_by": "Web till",
            "node": "web-till",
            "lines": Map({"w1": json.dumps(line)}),
            "voids": Map(),
            "discounts": Map(),
            "payments": Map(),
            "tips": Map(),
            "events": Map(),
        }
    )


async def test_a_replica_reads_the_apis_orders_and_its_order_is_served_by_the_api(node, till):
    terminal, token = till
    order = (await terminal.post("/orders", {"channel": "dine_in", "table": "T9"}))["order"]
    await terminal.post(f"/orders/{order['id']}/lines", {"sku": "BURGER", "qty": 2})
    guid = day_guid(node)
    async with replica_of(node, guid, token) as replica:
        seen = replica.orders()[order["id"]]
        assert (seen["number"], seen["table"]) == (order["number"], "T9")
        [line] = [json.loads(text) for text in seen["lines"].values()]
        assert (line["sku"], line["qty"]) == ("BURGER", 2)

        ours = f"{order['id'][:8]}-0000000000aa"
        await replica.write(
            lambda doc: doc.get("orders", type=Map).__setitem__(
                ours, js_style_order(ours, order["business_date"])
            )
        )
        served = await _served(terminal, ours)
        assert served["number"] == "W-001" and served["totals"]["subtotal"] == 900
        assert [ln["sku"] for ln in served["lines"]] == ["FRIES"]

        # A change through the API reaches the replica live.
        await terminal.post(f"/orders/{order['id']}/lines", {"sku": "SODA"})
        await replica.take_updates_until(lambda: len(replica.orders()[order["id"]]["lines"]) == 2)
    listed = (await terminal.get("/orders"))["orders"]
    assert ours in {summary["id"] for summary in listed}


async def _served(terminal: Terminal, order_id: str) -> dict:
    async with asyncio.timeout(WAIT):
        while True:
            status, body, _ = await terminal.call("GET", f"/orders/{order_id}")
            if status == 200:
                return body["order"]
            await asyncio.sleep(0.05)


async def test_a_catalog_change_from_a_terminal_is_refused_and_not_stored(node, till):
    terminal, token = till
    before = await terminal.get("/catalog")
    async with replica_of(node, node.book.catalog_guid, token) as replica:
        assert "BURGER" in replica.doc.get("items", type=Map).to_py()
        await replica.write(lambda doc: doc.get("items", type=Map).__setitem__("FREE", {}))
        closed = await replica.ws.receive(timeout=WAIT)
    assert closed.type == aiohttp.WSMsgType.CLOSE and replica.ws.close_code == 4403
    assert await terminal.get("/catalog") == before


async def test_garbage_closes_the_socket_and_changes_nothing(node, till):
    _, token = till
    guid = day_guid(node)
    async with replica_of(node, guid, token) as replica:
        last_seq = node.store.last_seq
        before = node.replica.loaded(guid).get_state()
        await replica.ws.send_bytes(update(b"\x01\x02not an update"))
        closed = await replica.ws.receive(timeout=WAIT)
    assert closed.type == aiohttp.WSMsgType.CLOSE and replica.ws.close_code == 4400
    assert node.replica.loaded(guid).get_state() == before
    assert node.store.last_seq == last_seq  # nothing stored
    async with replica_of(node, guid, token) as again:  # the node serves the next one
        assert again.orders() == {}


async def test_unknown_documents_bad_tokens_and_revocation(node, till):
    terminal, token = till
    for guid in ("other-store/orders/2026-11-20", "s1/orders/1999-01-01", "s1/secrets"):
        status, problem, _ = await terminal.call("GET", f"/sync/{guid}")
        assert status == 404 and problem["type"].endswith(":unknown-document"), guid
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with replica_of(node, day_guid(node), "pe_not-a-token"):
            pass
    assert refused.value.status == 401
    async with replica_of(node, day_guid(node), token) as replica:
        await node.context.terminals.revoke("Web till", now=node.clock())
        closed = await replica.ws.receive(timeout=WAIT)
    assert closed.type == aiohttp.WSMsgType.CLOSE and replica.ws.close_code == 4401
