"""The API's WebSockets (order events, KDS screens, terminal replicas): the close codes they
share, the signal that closes them when the node stops, `serve`, which runs one, and
`close`, which ends one, dropping the connection of a terminal that reads nothing (so that
what waits to be sent to it is let go, not held until it reads).

The loop itself is sync's `pump` (sync/links/pump.py): peer and hub links run it too, and
sync may not import edge, so it lives there; this module adds what a route needs around it.
docs/api.md lists each route's codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from enum import IntEnum

from aiohttp import WSCloseCode, web

from edge.http.auth import bearer_token
from edge.http.context import context
from sync.links.pump import CLOSE_TOO_SLOW, End, Produce, Receive, pump

MAX_REASON = 120  # bytes of a close reason (a close frame's payload is at most 125)
TOKEN_RECHECK = 5.0  # seconds between checks that a socket's terminal is still paired
CLOSE_TIMEOUT = 5.0  # seconds the other side has to take a close frame before it is dropped


class Close(IntEnum):
    """Why the node closes a WebSocket."""

    NORMAL = WSCloseCode.OK  # the other side closed
    GOING_AWAY = WSCloseCode.GOING_AWAY  # the node is stopping: reconnect, to it or a peer
    LOST = WSCloseCode.ABNORMAL_CLOSURE  # the connection broke mid-write: nobody to tell
    TOO_BIG = WSCloseCode.MESSAGE_TOO_BIG  # over the route's max_msg_size (aiohttp sends it)
    TRY_AGAIN_LATER = WSCloseCode.TRY_AGAIN_LATER  # the store is unavailable for now
    TOO_SLOW = CLOSE_TOO_SLOW  # fell too far behind: reconnect to catch up
    BAD_MESSAGE = 4400  # a frame that does not parse or decode
    REVOKED = 4401  # the token was revoked: pair again
    REFUSED = 4403  # a change to a read-only or closed document
    UNKNOWN_STATION = 4404  # the catalog has no such station


STOPPING = web.AppKey("websocket_stopping", asyncio.Event)
"""Set when the node stops: every socket that `serve` runs with it closes as GOING_AWAY."""
REVOKED: End = (Close.REVOKED, "token revoked")


def while_paired(request: web.Request) -> Callable[[], End | None]:
    """A `check` for `serve` that ends the socket once the request's token is revoked."""
    token = bearer_token(request) or ""
    return lambda: REVOKED if context(request).terminals.authenticate(token) is None else None


async def serve(
    ws: web.WebSocketResponse,
    produce: Produce,
    *,
    receive: Receive | None = None,
    stopping: asyncio.Event | None = None,
    check: Callable[[], End | None] | None = None,
    wake: asyncio.Event | None = None,
    every: float | None = None,
) -> End:
    """Run the prepared `ws` with sync's `pump` until it ends, then close it with the code
    and reason it ended with; returns them. Cancelled, it cancels its tasks and closes
    nothing (the server drops the connection)."""
    code, reason = await pump(
        ws, produce, receive=receive, stopping=stopping, check=check, wake=wake, every=every
    )
    await close(ws, code, reason)
    return code, reason


async def close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    """Close `ws` with `code` and as much of `reason` as a close frame holds, in whole
    characters; nothing if it is closed already. If the other side does not take the close
    frame and answer within CLOSE_TIMEOUT seconds (it stopped reading), it is dropped, and
    so is one that aiohttp closed for leaving its ping unanswered."""
    if ws.closed:
        if isinstance(ws.exception(), TimeoutError):  # no pong: what waits for it never goes
            _drop(ws)
        return
    message = reason.encode()[:MAX_REASON].decode(errors="ignore").encode()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            # Not drained: the other side's answer says it took the frame. (Nor could it be:
            # aiohttp's writers share one drain waiter, which a cancelled send leaves cancelled.)
            await ws.close(code=code, message=message, drain=False)
    except TimeoutError:
        _drop(ws)


def _drop(ws: web.WebSocketResponse) -> None:
    """Reset the connection under `ws`, discarding what waits to be sent on it. (aiohttp only
    closes a transport gracefully, which waits for the other side to read it all: never, for
    one that stopped reading. Shut down, the socket fails the transport's next write, which
    ends the connection; with no linger its close is a reset, freeing the kernel's buffers.)"""
    sock = ws.get_extra_info("socket")
    with contextlib.suppress(OSError):  # already closed
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
