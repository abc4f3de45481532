"""Carrying sync frames both ways over a WebSocket until either side ends: the one loop
behind a terminal's document replica and a peer's link.

The link on this side holds an `outbox` of frames for the remote (bounded: `overflowed`
once the remote falls too far behind) and takes the remote's frames with `receive`, which
raises to refuse one. `refusal` turns such an error into the close code and reason;
`check` may end the link too (a revoked token, a removed peer), run whenever `wake` is set
and at least every `every` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from aiohttp import WSCloseCode, WSMsgType

End = tuple[int, str]  # close code, reason
CLOSE_TOO_SLOW = 4008
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


class Link(Protocol):
    outbox: asyncio.Queue[bytes]
    overflowed: bool

    async def receive(self, data: bytes) -> None: ...


async def carry(
    ws,
    link: Link,
    stopping: asyncio.Event,
    *,
    refusal: Callable[[Exception], End | None],
    not_binary: End,
    check: Callable[[], End | None] = lambda: None,
    wake: asyncio.Event | None = None,
    every: float | None = None,
) -> End:
    """Carry frames until either side ends; how the link ended."""
    receiving = asyncio.ensure_future(ws.receive())
    sending = asyncio.ensure_future(link.outbox.get())
    stopped = asyncio.ensure_future(stopping.wait())
    woken = asyncio.ensure_future((wake or asyncio.Event()).wait())
    tasks = (receiving, sending, stopped, woken)
    try:
        while True:
            await asyncio.wait(
                {receiving, sending, stopped, woken},
                timeout=every,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if stopped.done():
                return WSCloseCode.GOING_AWAY, "node stopping"
            if (ended := check()) is not None:
                return ended
            if receiving.done():
                message = receiving.result()
                if message.type in _CLOSING:
                    return WSCloseCode.OK, ""
                if message.type != WSMsgType.BINARY:
                    return not_binary
                try:
                    await link.receive(message.data)
                except Exception as exc:
                    refused = refusal(exc)
                    if refused is None:
                        raise
                    return refused
                receiving = asyncio.ensure_future(ws.receive())
            if link.overflowed:
                return CLOSE_TOO_SLOW, "too far behind; reconnect to catch up"
            if sending.done():
                try:
                    await ws.send_bytes(sending.result())
                except ConnectionResetError:  # the connection went while we wrote
                    return WSCloseCode.ABNORMAL_CLOSURE, "connection lost"
                sending = asyncio.ensure_future(link.outbox.get())
            tasks = (receiving, sending, stopped, woken)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
