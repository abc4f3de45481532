"""`/api/v1/events`: live order changes over WebSocket, resumed without missing any."""

from __future__ import annotations

import aiohttp

from edge.orders.log import Actor
from sync.replica import Replica
from sync.store import DocStore
from tests.support.api_node import Terminal, start_node
from tests.support.books import make_book


async def connect(node, token: str, since: int | None = None):
    query = f"?since={since}" if since is not None else ""
    return await node.session.ws_connect(
        f"{node.url}/api/v1/events{query}", headers={"Authorization": f"Bearer {token}"}
    )


async def next_message(ws, kind: str | None = None) -> dict:
    """The next message (of `kind`, skipping others), waiting at most 10 s for each."""
    for _ in range(100):
        message = await ws.receive_json(timeout=10)
        if kind is None or message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message among 100")


async def test_order_changes_arrive_live_with_growing_cursors(node):
    token = await node.pair("Screen")
    till = Terminal(node, await node.pair("Counter 1"))
    async with await connect(node, token) as ws:
        hello = await next_message(ws)
        assert hello["type"] == "hello" and hello["terminal"]["name"] == "Screen"
        order = (await till.post("/orders", {"table": "T2"}))["order"]
        opened = await next_message(ws, "orders")
        assert [o["id"] for o in opened["orders"]] == [order["id"]]
        assert opened["cursor"] > hello["cursor"]
        await till.post(f"/orders/{order['id']}/lines", {"sku": "BURGER"})
        added = await next_message(ws, "orders")
        assert added["cursor"] > opened["cursor"]
        assert added["orders"][0]["lines"][0]["sku"] == "BURGER"
        assert added["orders"][0]["totals"]["subtotal"] == 1250


async def test_a_terminal_that_reconnects_with_its_cursor_misses_nothing(node):
    token = await node.pair("Screen")
    till = Terminal(node, await node.pair("Counter 1"))
    first = (await till.post("/orders"))["order"]
    async with await connect(node, token) as ws:
        cursor = (await next_message(ws))["cursor"]
    # While it is away: a new order, and two changes to the first.
    second = (await till.post("/orders", {"table": "T7"}))["order"]
    await till.post(f"/orders/{first['id']}/lines", {"sku": "SODA"})
    await till.post(f"/orders/{first['id']}/lines", {"sku": "FRIES"})
    async with await connect(node, token, since=cursor) as ws:
        hello = await next_message(ws)
        caught_up = await next_message(ws, "orders")
        assert caught_up["cursor"] == hello["cursor"] > cursor
        by_id = {o["id"]: o for o in caught_up["orders"]}
        assert set(by_id) == {first["id"], second["id"]}  # each once, as it is now
        assert [ln["sku"] for ln in by_id[first["id"]]["lines"]] == ["SODA", "FRIES"]
        # and then live again
        await till.post(f"/orders/{second['id']}/lines", {"sku": "COOKIE"})
        live = await next_message(ws, "orders")
        assert live["cursor"] > hello["cursor"]
        assert live["orders"][0]["id"] == second["id"]
    # Nothing new since: a reconnect gets no replay, just the hello.
    async with await connect(node, token, since=live["cursor"]) as ws:
        assert (await next_message(ws))["cursor"] == live["cursor"]
        await till.post(f"/orders/{first['id']}/lines", {"sku": "RINGS"})
        assert (await next_message(ws))["type"] == "orders"


async def test_after_a_restart_an_older_cursor_is_told_to_resync(tmp_path, clock):
    node = await start_node(tmp_path / "n", clock)
    try:
        token = await node.pair("Screen")
        till = Terminal(node, await node.pair("Counter 1"))
        async with await connect(node, token) as ws:
            await next_message(ws)
            await till.post("/orders")
            older = (await next_message(ws, "orders"))["cursor"]
            await till.post("/orders")
            latest = (await next_message(ws, "orders"))["cursor"]
    finally:
        await node.close()
    node = await start_node(tmp_path / "n", clock)
    try:
        # The terminal had seen everything before the restart: it just carries on.
        async with await connect(node, token, since=latest) as ws:
            assert (await next_message(ws))["cursor"] == latest
            till.node = node
            await till.post("/orders")
            assert (await next_message(ws))["type"] == "orders"
        # The restarted node does not know what changed between `older` and `latest`.
        async with await connect(node, token, since=older) as ws:
            hello = await next_message(ws)
            assert await next_message(ws) == {"type": "resync", "cursor": hello["cursor"]}
        async with await connect(node, token, since=hello["cursor"] + 10) as ws:
            await next_message(ws)
            assert (await next_message(ws))["type"] == "resync"  # a cursor from elsewhere
    finally:
        await node.close()


async def test_a_peers_update_and_a_catalog_change_are_events_too(node, tmp_path, clock):
    token = await node.pair("Screen")
    till = Terminal(node, await node.pair("Counter 1"))
    await till.post("/orders")  # today's document exists on this node
    peer_store = await DocStore.open(tmp_path / "peer.db")
    try:
        peer_replica = Replica(peer_store)
        peer = await make_book(peer_store, clock, letter="B", name="node-b", replica=peer_replica)
        peer_actor = Actor("peer till")
        theirs = await peer.open_order(peer_actor, table="T5")
        await peer.add_line(peer_actor, theirs.id, sku="SHAKE")
        guid = peer.day_guid(peer.business_date())
        update = (await peer_replica.open(guid)).get_update()
    finally:
        await peer_store.close()
    async with await connect(node, token) as ws:
        await next_message(ws)
        await node.replica.apply_update(guid, update, "peer:node-b")
        message = await next_message(ws, "orders")
        assert [o["number"] for o in message["orders"]] == ["B-001"]
        assert message["orders"][0]["lines"][0]["sku"] == "SHAKE"
        await node.book.import_catalog(
            {"items": {"SODA": {"name": "Soda", "price": 300, "tax": "food"}}}
        )
        assert (await next_message(ws))["type"] == "catalog"
    listed = await till.get("/orders?table=T5")
    assert [o["id"] for o in listed["orders"]] == [theirs.id]


async def test_stopping_the_node_closes_event_sockets_as_going_away(tmp_path, clock):
    node = await start_node(tmp_path / "n", clock)
    try:
        token = await node.pair("Screen")
        ws = await node.session.ws_connect(f"{node.url}/api/v1/events?access_token={token}")
        await next_message(ws)
        await node.server.stop()
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1001
        await ws.close()
    finally:
        await node.close()
