"""The one WebSocket pump (edge/http/websocket.py over sync/links/pump.py) on a real server: a
small route that answers each text message in upper case and sends what the test pushes;
messages flow both ways, garbage and oversized messages close with the shared codes, the node
stopping closes every socket (and drops one whose other side stopped reading), and no socket
leaves a task behind, however it ends."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from edge.http.websocket import CLOSE_TIMEOUT, STOPPING, Close, End, serve
from tests.support.waiting import until

WAIT = 10.0  # seconds: the bound on every wait
MAX_MESSAGE = 64  # bytes


@dataclass
class Socket:
    """One socket the route serves, as the test sees it from the server's side."""

    request: web.Request
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    handler: asyncio.Task | None = None
    ended: End | None = None
    cancelled: bool = False
    left: set[asyncio.Task] = field(default_factory=set)  # tasks serve left behind


SOCKETS = web.AppKey("sockets", list[Socket])


async def shout(request: web.Request) -> web.WebSocketResponse:
    heartbeat = float(request.query["heartbeat"]) if "heartbeat" in request.query else None
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=heartbeat)
    await ws.prepare(request)
    socket = Socket(request, handler=asyncio.current_task())

    async def receive(message: aiohttp.WSMessage) -> End | None:
        if message.type != WSMsgType.TEXT:
            return Close.BAD_MESSAGE, "text frames only"
        await socket.outbox.put(message.data.upper())
        return None

    before = asyncio.all_tasks()
    request.app[SOCKETS].append(socket)
    try:
        socket.ended = await serve(
            ws, socket.outbox.get, receive=receive, stopping=request.app[STOPPING]
        )
    except asyncio.CancelledError:
        socket.cancelled = True
        raise
    finally:
        socket.left = asyncio.all_tasks() - before
    return ws


@dataclass
class Node:
    runner: web.AppRunner
    url: str
    session: aiohttp.ClientSession

    @property
    def sockets(self) -> list[Socket]:
        return self.runner.app[SOCKETS]

    async def connect(self, **query: str) -> tuple[aiohttp.ClientWebSocketResponse, Socket]:
        """A client socket and, once the route serves it, its server side."""
        count = len(self.sockets)
        ws = await self.session.ws_connect(f"{self.url}/shout", params=query)
        await until(lambda: len(self.sockets) > count, WAIT)
        return ws, self.sockets[count]


async def _stop(app: web.Application) -> None:
    app[STOPPING].set()


@pytest.fixture
async def node():
    app = web.Application()
    app[SOCKETS] = []
    app[STOPPING] = asyncio.Event()
    app.router.add_get("/shout", shout)
    app.on_shutdown.append(_stop)
    runner = web.AppRunner(app, shutdown_timeout=WAIT)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    session = aiohttp.ClientSession()
    try:
        yield Node(runner, f"http://127.0.0.1:{port}", session)
    finally:
        await session.close()
        await runner.cleanup()


def pending() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_messages_flow_both_ways_until_the_client_closes(node):
    idle = pending()
    ws, socket = await node.connect()
    await ws.send_str("hello")
    assert await ws.receive_str(timeout=WAIT) == "HELLO"
    await socket.outbox.put("pushed by the node")
    assert await ws.receive_str(timeout=WAIT) == "pushed by the node"
    await ws.close()
    await until(lambda: socket.ended is not None, WAIT)
    assert socket.ended[0] == Close.NORMAL and socket.left == set()
    await until(lambda: pending() <= idle, WAIT)


@pytest.mark.parametrize(
    ("garbage", "code", "reason"),
    [
        (b"\x00binary", Close.BAD_MESSAGE, "text frames only"),
        ("x" * (MAX_MESSAGE + 1), Close.TOO_BIG, ""),  # aiohttp refuses it before the route
    ],
)
async def test_garbage_closes_the_socket_with_the_shared_code(node, garbage, code, reason):
    idle = pending()
    ws, socket = await node.connect()
    await (ws.send_bytes(garbage) if isinstance(garbage, bytes) else ws.send_str(garbage))
    closing = await ws.receive(timeout=WAIT)
    assert closing.type == WSMsgType.CLOSE and closing.data == code
    assert (closing.extra or "").startswith(reason)
    await ws.close()
    await until(lambda: socket.ended is not None, WAIT)
    assert socket.left == set()
    await until(lambda: pending() <= idle, WAIT)


async def test_a_node_stopping_closes_every_socket_as_going_away(node):
    idle = pending()
    clients = [await node.connect() for _ in range(3)]
    for ws, _ in clients:  # each is being served
        await ws.send_str("ready?")
        assert await ws.receive_str(timeout=WAIT) == "READY?"
    stopping = asyncio.ensure_future(node.runner.cleanup())
    try:
        for ws, _ in clients:
            closing = await ws.receive(timeout=WAIT)
            assert (closing.type, closing.data, closing.extra) == (
                WSMsgType.CLOSE,
                Close.GOING_AWAY,
                "node stopping",
            )
            await ws.close()
        await stopping
    finally:
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    assert [socket.ended for _, socket in clients] == [(Close.GOING_AWAY, "node stopping")] * 3
    await until(lambda: pending() <= idle, WAIT)


async def test_a_cancelled_pump_lets_the_cancellation_through_and_leaves_no_task(node):
    idle = pending()
    ws, socket = await node.connect()
    await ws.send_str("hi")
    assert await ws.receive_str(timeout=WAIT) == "HI"
    socket.handler.cancel()
    dropped = await ws.receive(timeout=WAIT)
    assert dropped.type == WSMsgType.CLOSED  # no close frame: the server drops the connection
    await until(lambda: socket.cancelled, WAIT)
    assert socket.ended is None and socket.left == set()
    await until(lambda: pending() <= idle, WAIT)


async def test_a_socket_whose_other_side_stops_reading_still_ends_and_is_dropped(node):
    """The client reads nothing (aiohttp's stops taking from the connection once 64 KiB wait
    unread), so the node's send waits on a full connection; the node stopping ends the
    socket all the same, and since the close frame cannot get through either, the node
    drops the connection after CLOSE_TIMEOUT, with all it held for it."""
    idle = pending()
    ws, socket = await node.connect()
    for _ in range(64):  # 16 MiB: more than the buffers of both ends of a loopback connection
        await socket.outbox.put("x" * 256 * 1024)
    await until(lambda: socket.request.protocol.writing_paused, WAIT)  # the send is stuck
    node.runner.app[STOPPING].set()
    await until(lambda: socket.ended is not None, WAIT)
    assert socket.ended == (Close.GOING_AWAY, "node stopping") and socket.left == set()
    await until(lambda: socket.request.transport is None, CLOSE_TIMEOUT + WAIT)  # dropped
    assert socket.outbox.qsize() > 0  # it was dropped with messages it never took
    while (message := await ws.receive(timeout=WAIT)).type == WSMsgType.TEXT:
        pass  # what reached the client before the drop
    assert message.type in (WSMsgType.CLOSED, WSMsgType.ERROR)  # no close frame: dropped
    await ws.close()
    await until(lambda: pending() <= idle, WAIT)


async def test_a_socket_that_leaves_the_nodes_ping_unanswered_is_dropped(node):
    """A client that stops reading does not answer pings either: once aiohttp gives up on
    the pong and closes the socket, the node drops the connection, with what it held for
    it, instead of waiting for the client to read it all."""
    idle = pending()
    ws, socket = await node.connect(heartbeat="0.5")
    for _ in range(64):  # more than the connection buffers: the node's sends wait
        await socket.outbox.put("x" * 256 * 1024)
    await until(lambda: socket.ended is not None, WAIT)
    assert socket.ended[0] == Close.NORMAL and socket.left == set()  # aiohttp closed it
    await until(lambda: socket.request.transport is None, WAIT)  # dropped
    while (message := await ws.receive(timeout=WAIT)).type == WSMsgType.TEXT:
        pass
    assert message.type in (WSMsgType.CLOSED, WSMsgType.ERROR)
    await ws.close()
    await until(lambda: pending() <= idle, WAIT)
