"""`/api/v1/events`: live order changes over WebSocket, resumed without missing any; a
terminal that falls behind is let go, with what was queued for it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket

import aiohttp

from edge.http.api.events import EVENT_HUB, QUEUE_BYTES, TOO_SLOW, Listener
from edge.http.websocket import CLOSE_TIMEOUT, Close
from edge.orders.log import Actor
from sync.replica import Replica
from sync.store import DocStore
from tests.support.api_node import Terminal, start_node
from tests.support.books import make_book
from tests.support.waiting import until

WAIT = 10.0  # seconds: the bound on every wait


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


async def test_a_listener_is_bounded_by_bytes_and_lets_its_messages_go_past_them():
    listener = Listener()
    quarter = "q" * (QUEUE_BYTES // 4)
    for cursor in range(1, 5):
        listener.offer(cursor, quarter, len(quarter))
    assert not listener.overflowed.is_set() and listener.queued_bytes == QUEUE_BYTES
    listener.offer(5, "{}", 2)  # 2 bytes past the bound
    assert listener.overflowed.is_set() and listener.ended() == TOO_SLOW
    assert listener.queue.empty() and listener.queued_bytes == 0  # nothing held any more
    listener.offer(6, "{}", 2)
    assert listener.queue.empty()  # for good

    alone = Listener()  # one message of any size fits an empty queue
    huge = "h" * (2 * QUEUE_BYTES)
    alone.offer(1, huge, len(huge))
    assert not alone.overflowed.is_set()
    assert await alone.next_after(0) == huge and alone.queued_bytes == 0


async def silent_terminal(node, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A terminal that opens the events socket and then reads nothing: a raw socket with a
    small receive buffer that does the WebSocket handshake and stops reading."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", node.server.port))
    reader, writer = await asyncio.open_connection(sock=raw)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    assert head.startswith(b"HTTP/1.1 101"), head
    writer.transport.pause_reading()
    return reader, writer


async def frames_until_the_end(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    """(opcode, payload) of every whole frame the server sent, until the connection ends."""
    frames = []
    try:
        while True:
            head = await reader.readexactly(2)
            size = head[1] & 0x7F
            if size >= 126:
                size = int.from_bytes(await reader.readexactly(2 if size == 126 else 8), "big")
            frames.append((head[0] & 0x0F, await reader.readexactly(size)))
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return frames


async def test_a_terminal_that_stops_reading_is_let_go_with_what_it_held(node):
    """A large order keeps changing while a terminal reads nothing: once QUEUE_BYTES of
    messages wait for it (behind what the connection buffers), the node lets it go (4008,
    or dropped as it does not take that either) and holds nothing more for it, instead of a
    message per change for as long as the connection stays up."""
    token = await node.pair("Screen")
    hub = node.server.app[EVENT_HUB]
    reader, writer = await silent_terminal(node, token)
    try:
        await until(lambda: hub.listeners, WAIT)
        [listener] = hub.listeners
        actor = Actor("till")
        order = await node.book.open_order(actor)
        for _ in range(400):  # each change a message of the whole order, to about 200 kB
            await node.book.add_line(actor, order.id, sku="BURGER", note="n" * 200)
            if not hub.listeners:
                break
        await until(lambda: not hub.listeners, CLOSE_TIMEOUT + WAIT)
        assert listener.overflowed.is_set() and listener.queue.empty()
        writer.transport.resume_reading()
        async with asyncio.timeout(WAIT):
            frames = await frames_until_the_end(reader)
        assert frames, "not even the hello arrived"
        closes = [payload for opcode, payload in frames if opcode == 0x8]
        assert closes in ([], [int(Close.TOO_SLOW).to_bytes(2, "big") + TOO_SLOW[1].encode()])
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
