"""`/api/v1/events`: order changes pushed to terminals over WebSocket, with resume points.

Messages (JSON text frames) from the server:
- `{"type": "hello", "cursor": C, "terminal": {...}}` first, C being the newest cursor;
- `{"type": "orders", "cursor": N, "orders": [order, ...]}`: these orders changed, each as
  `GET /api/v1/orders/{id}` would show it now;
- `{"type": "catalog", "cursor": N}`: the catalog changed; fetch it again;
- `{"type": "availability", "cursor": N, "items": [...], "modifiers": [...]}`: what is
  unavailable store-wide ("86") changed, on this node or another; the message lists all
  that is unavailable now;
- `{"type": "resync", "cursor": C}`: the changes after the asked-for cursor are not all
  known here (the node restarted, or they are too old); fetch what you show again.

A terminal keeps the `cursor` of the last message it handled and reconnects with
`?since=<cursor>`: it then gets every order changed after it (once each, as it is now)
before live messages resume. Every message's cursor is a safe place to resume from.

A terminal that falls behind (it reads slower than orders change, or stopped reading) has
its messages wait in a queue of at most QUEUE_LIMIT messages and QUEUE_BYTES bytes (one
message of any size fits an empty queue). Past either bound its queue is dropped at once and
its socket closed with 4008 (TOO_SLOW), even while a send to it is stuck; one that does not
take the close frame either is dropped (edge/http/websocket.py). It reconnects with `since`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiohttp import web

from edge.http.api.catalog import unavailable_json
from edge.http.api.orders import dumps
from edge.http.bodies import query_int
from edge.http.context import terminal
from edge.http.websocket import TOKEN_RECHECK, Close, End, serve, while_paired
from edge.orders.book import OrderBook
from edge.orders.feed import OrderChange, OrderFeed
from edge.orders.menu_rules import Unavailable
from sync.links.pump import STOPPED

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

QUEUE_LIMIT = 1000  # messages a slow terminal may fall behind before it is disconnected
QUEUE_BYTES = 1024 * 1024  # or bytes of them (one change of a 500-line order: ~200 kB)
REPLAY_BATCH = 100  # orders per message when catching a terminal up
TOO_SLOW: End = (Close.TOO_SLOW, "too far behind; reconnect with since")

_GOODBYE = object()  # queued when the node stops


class Listener:
    """One connected terminal's queue of messages (cursor, text, bytes), bounded by count
    and by bytes; past a bound it is emptied and `overflowed` set, for good."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.queued_bytes = 0
        self.overflowed = asyncio.Event()

    def offer(self, cursor: int, text: str, size: int) -> None:
        """Queue a message of `size` bytes, or overflow."""
        if self.overflowed.is_set():
            return
        if self.queue.qsize() >= QUEUE_LIMIT or (
            self.queued_bytes + size > QUEUE_BYTES and not self.queue.empty()
        ):
            self.overflowed.set()
            while not self.queue.empty():  # give their memory back now, not at the close
                self.queue.get_nowait()
            self.queued_bytes = 0
            return
        self.queue.put_nowait((cursor, text, size))
        self.queued_bytes += size

    def goodbye(self) -> None:
        self.queue.put_nowait(_GOODBYE)

    def ended(self) -> End | None:
        """TOO_SLOW once the queue overflowed (a `check` for the socket's pump)."""
        return TOO_SLOW if self.overflowed.is_set() else None

    async def next_after(self, cursor: int) -> str | End:
        """The next queued message newer than `cursor`, or how the socket ends."""
        while True:
            item = await self.queue.get()
            if item is _GOODBYE:
                return STOPPED
            message_cursor, text, size = item
            self.queued_bytes -= size
            if message_cursor > cursor:  # older ones were covered by the replay
                return text


class EventHub:
    """Turns order feed changes into messages and hands them to every listener."""

    def __init__(self, book: OrderBook, feed: OrderFeed) -> None:
        self._book = book
        self.feed = feed
        self.listeners: set[Listener] = set()
        self._availability_cursor = -1  # the cursor of the latest change of availability
        feed.subscribe(self._on_change)
        if book.availability is not None:
            book.availability.subscribe(self._on_availability)

    def _on_change(self, change: OrderChange) -> None:
        if self.listeners:
            self._offer(change.cursor, self.message(change))

    def _on_availability(self, unavailable: Unavailable) -> None:
        """What is unavailable changed (the store document's update is durable, so the
        store's last sequence number is this change's cursor)."""
        cursor = self._availability_cursor = self.feed.cursor
        if self.listeners:
            self._offer(cursor, availability_message(cursor, unavailable))

    def _offer(self, cursor: int, message: dict) -> None:
        text = dumps(message)
        size = len(text.encode())
        for listener in self.listeners:
            listener.offer(cursor, text, size)

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
        if self._availability_cursor > since and self._book.availability is not None:
            messages.append(availability_message(since, self._book.availability.now()))
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


def availability_message(cursor: int, unavailable: Unavailable) -> dict:
    return {"type": "availability", "cursor": cursor, **unavailable_json(unavailable)}


EVENT_HUB = web.AppKey("event_hub", EventHub)


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.WebSocketResponse:
    since = query_int(request, "since", None, 0, 2**62)
    hub = request.app[EVENT_HUB]
    who = terminal(request)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    listener = Listener()
    hub.listeners.add(listener)  # before the replay, so nothing falls between the two
    try:
        cursor = hub.feed.cursor
        hello = {"type": "hello", "cursor": cursor, "terminal": who.to_dict()}
        opening = iter([hello, *(hub.replay(since) if since is not None else ())])

        async def produce() -> str | End:
            message = next(opening, None)
            return dumps(message) if message is not None else await listener.next_after(cursor)

        paired = while_paired(request)
        # What the terminal sends is read only to notice that it closed; it is otherwise ignored.
        await serve(
            ws,
            produce,
            check=lambda: listener.ended() or paired(),
            wake=listener.overflowed,
            every=TOKEN_RECHECK,
        )
    finally:
        hub.listeners.discard(listener)
        await ws.close()
    return ws
