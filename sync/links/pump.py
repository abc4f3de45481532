"""The WebSocket pump: the one loop behind every socket a node serves or dials (a peer's or
the hub's link, a terminal's replica, and the API's other sockets through
edge/http/websocket.py).

`pump` hands each data message from the socket to `receive` and sends each text or bytes
`produce` returns, until one of them returns an `End` (close code, reason) instead, `check`
does (a revoked token, a removed peer: run whenever the loop wakes, at least every `every`
seconds, and at once when `wake` is set, which it must then end on), `stopping` is set (the
node is stopping), or the other side closes or goes. A send waits while the other side takes
nothing (aiohttp holds a send until the transport drains) but the loop does not: the other
side's messages, `check`, `wake` and `stopping` end it all the same. It returns how the
socket ended and leaves closing it to the caller; however it ends, even cancelled, it
cancels and awaits its own tasks first (a send cut short leaves whole frames buffered).

`LinkFrames` is a sync link's side of it: the link holds an `outbox` of frames for the
remote (bounded: `overflowed` once the remote falls too far behind) and takes the remote's
frames with `receive`, which raises to refuse one; `refusal` turns such an error into the
close code and reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import WSCloseCode, WSMessage, WSMsgType

End = tuple[int, str]  # close code, reason
Produce = Callable[[], Awaitable[str | bytes | End]]
Receive = Callable[[WSMessage], Awaitable[End | None]]

CLOSE_TOO_SLOW = 4008
STOPPED: End = (WSCloseCode.GOING_AWAY, "node stopping")
CLOSED: End = (WSCloseCode.OK, "closed by the other side")
LOST: End = (WSCloseCode.ABNORMAL_CLOSURE, "connection lost")
TOO_SLOW: End = (CLOSE_TOO_SLOW, "too far behind; reconnect to catch up")
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


async def pump(
    ws,
    produce: Produce,
    *,
    receive: Receive | None = None,
    stopping: asyncio.Event | None = None,
    check: Callable[[], End | None] | None = None,
    wake: asyncio.Event | None = None,
    every: float | None = None,
) -> End:
    """Run `ws` until it ends (see the module); how it ended. A message arriving without
    `receive` is ignored."""
    receiving = asyncio.ensure_future(ws.receive())
    outgoing = asyncio.ensure_future(produce())  # producing the next frame, then sending it
    sending = False
    events = [event for event in (stopping, wake) if event is not None]
    signals = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        while True:
            await asyncio.wait(
                {receiving, outgoing, *signals},
                timeout=every,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if stopping is not None and stopping.is_set():
                return STOPPED
            if check is not None and (ended := check()) is not None:
                return ended
            if receiving.done():
                message = receiving.result()
                if message.type in _CLOSING:
                    return _closed_by_other_side(message)
                if receive is not None and (ended := await receive(message)) is not None:
                    return ended
                receiving = asyncio.ensure_future(ws.receive())
            if outgoing.done() and sending:
                try:
                    outgoing.result()
                except ConnectionError:  # the connection went while we wrote
                    return LOST
                outgoing, sending = asyncio.ensure_future(produce()), False
            elif outgoing.done():
                produced = outgoing.result()
                if isinstance(produced, tuple):
                    return produced
                outgoing, sending = asyncio.ensure_future(_send(ws, produced)), True
    finally:
        tasks = (receiving, outgoing, *signals)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _closed_by_other_side(message: WSMessage) -> End:
    """How the other side ended the socket: the code and reason of its close frame (1001
    when it is stopping), or CLOSED when it went without one."""
    if message.type == WSMsgType.CLOSE and isinstance(message.data, int):
        return message.data, message.extra or ""
    return CLOSED


async def _send(ws, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)


class Link(Protocol):
    outbox: asyncio.Queue[bytes]
    overflowed: bool

    async def receive(self, data: bytes) -> None: ...


class LinkFrames:
    """A sync link as the pump's source and sink: its outbox out, the remote's frames in."""

    def __init__(
        self, link: Link, *, refusal: Callable[[Exception], End | None], not_binary: End
    ) -> None:
        self._link = link
        self._refusal = refusal
        self._not_binary = not_binary

    async def produce(self) -> bytes | End:
        """The next frame for the remote, or TOO_SLOW once it fell too far behind."""
        frame = await self._link.outbox.get()
        return TOO_SLOW if self._link.overflowed else frame

    async def receive(self, message: WSMessage) -> End | None:
        """Hand the remote's frame to the link; how the socket ends if the link refuses it."""
        if message.type != WSMsgType.BINARY:
            return self._not_binary
        try:
            await self._link.receive(message.data)
        except Exception as exc:
            if (refused := self._refusal(exc)) is None:
                raise
            return refused
        return None
