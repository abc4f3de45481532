"""`/api/v1/events`: order changes pushed to terminals over WebSocket, with resume points.

Messages (JSON text frames) from the server:
- `{"type": "hello", "cursor": C, "terminal": {...}}` first, C being the newest cursor;
- `{"type": "orders", "cursor": N, "orders": [order, ...]}`: these orders changed, each as
  `GET /api/v1/orders/{id}` would show it now;
- `{"type": "catalog", "cursor": N}`: the catalog changed; fetch it again;
- `{"type": "resync", "cursor": C}`: the changes after the asked-for cursor are not all
  known here (the node restarted, or they are too old); fetch what you show again.

A terminal keeps the `cursor` of the last message it handled and reconnects with
`?since=<cursor>`: it then gets every order changed after it (once each, as it is now)
before live messages resume. Every message's cursor is a safe place to resume from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiohttp import WSCloseCode, WSMsgType, web

from ..order_feed import OrderChange, OrderFeed
from ..orderbook import OrderBook
from .auth import bearer_token
from .bodies import query_int
from .context import context, terminal
from .orders import dumps

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

QUEUE_LIMIT = 1000  # messages a slow terminal may fall behind before it is disconnected
REPLAY_BATCH = 100  # orders per message when catching a terminal up
TOKEN_RECHECK = 5.0  # seconds between checks that the listening terminal is not revoked
CLOSE_REVOKED = 4401
CLOSE_TOO_SLOW = 4008

_GOODBYE = object()
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


class Listener:
    """One connected terminal's queue of messages."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def offer(self, cursor: int, text: str) -> None:
        try:
            self.queue.put_nowait((cursor, text))
        except asyncio.QueueFull:
            self.overflowed = True

    def goodbye(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(_GOODBYE)
        self.overflowed = self.overflowed or self.queue.full()


class EventHub:
    """Turns order feed changes into messages and hands them to every listener."""

    def __init__(self, book: OrderBook, feed: OrderFeed) -> None:
        self._book = book
        self.feed = feed
        self.listeners: set[Listener] = set()
        feed.subscribe(self._on_change)

    def _on_change(self, change: OrderChange) -> None:
        if self.listeners:
            text = dumps(self.message(change))
            for listener in self.listeners:
                listener.offer(change.cursor, text)

    def message(self, change: OrderChange) -> dict:
        if change.catalog:
            return {"type": "catalog", "cursor": change.cursor}
        return {
            "type": "orders",
            "cursor": change.cursor,
            "orders": self._orders(change.order_ids),
        }

    def _orders(self, order_ids: Iterable[str]) -> list[dict]:
        views = (self._book.loaded_view(order_id) for order_id in order_ids)
        return [view.to_dict() for view in views if view is not None]

    def replay(self, since: int) -> list[dict]:
        """The messages that bring a terminal at cursor `since` up to now."""
        cursor = self.feed.cursor
        changes = self.feed.since(since)
        if changes is None:
            return [{"type": "resync", "cursor": cursor}]
        order_ids = list(dict.fromkeys(i for c in changes for i in c.order_ids))
        messages = []
        if any(change.catalog for change in changes):
            messages.append({"type": "catalog", "cursor": since})
        for start in range(0, len(order_ids), REPLAY_BATCH):
            batch = order_ids[start : start + REPLAY_BATCH]
            messages.append({"type": "orders", "cursor": since, "orders": self._orders(batch)})
        if messages:
            messages[-1]["cursor"] = cursor  # only the last message covers everything
        return messages

    def close_all(self) -> None:
        """Ask every listener's connection to close (the node is stopping)."""
        for listener in self.listeners:
            listener.goodbye()


EVENT_HUB = web.AppKey("event_hub", EventHub)


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.WebSocketResponse:
    since = query_int(request, "since", None, 0, 2**62)
    hub = request.app[EVENT_HUB]
    who = terminal(request)
    token = bearer_token(request) or ""
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    listener = Listener()
    hub.listeners.add(listener)  # before the replay, so nothing falls between the two
    try:
        cursor = hub.feed.cursor
        await ws.send_str(dumps({"type": "hello", "cursor": cursor, "terminal": who.to_dict()}))
        if since is not None:
            for message in hub.replay(since):
                await ws.send_str(dumps(message))
        await _pump(ws, listener, cursor, lambda: context(request).terminals.authenticate(token))
    finally:
        hub.listeners.discard(listener)
        await ws.close()
    return ws


async def _pump(ws: web.WebSocketResponse, listener: Listener, cursor: int, still_paired) -> None:
    """Send queued messages newer than `cursor` until either side goes away.

    What the terminal sends is read only to notice that it closed; it is otherwise ignored.
    """
    receiving = asyncio.ensure_future(ws.receive())
    getting = asyncio.ensure_future(listener.queue.get())
    try:
        while True:
            await asyncio.wait(
                {getting, receiving}, timeout=TOKEN_RECHECK, return_when=asyncio.FIRST_COMPLETED
            )
            if receiving.done():
                if receiving.result().type in _CLOSING:
                    return
                receiving = asyncio.ensure_future(ws.receive())
            if still_paired() is None:
                await ws.close(code=CLOSE_REVOKED, message=b"token revoked")
                return
            if listener.overflowed:
                await ws.close(code=CLOSE_TOO_SLOW, message=b"too far behind; reconnect with since")
                return
            if getting.done():
                item = getting.result()
                if item is _GOODBYE:
                    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"node stopping")
                    return
                message_cursor, text = item
                if message_cursor > cursor:  # older ones were covered by the replay
                    await ws.send_str(text)
                getting = asyncio.ensure_future(listener.queue.get())
    finally:
        for task in (receiving, getting):
            task.cancel()
        await asyncio.gather(receiving, getting, return_exceptions=True)
