"""Peer links over WebSocket: one per peer, carrying a PeerSession's envelopes both ways.

The accepting side serves `GET /sync/peer` (`peer_routes`); the connecting side calls
`run_link`. Who the peer is comes from `identify` (on the store's LAN: the node named in
its verified TLS client certificate). A session that refuses a frame closes the link with
4400 and a log line naming the peer; a peer too slow to drain its outbox is dropped (4008)
and catches up on its next connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from .peer_session import PeerRefused, PeerSession
from .protocol import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

PATH = "/sync/peer"
CLOSE_REFUSED = 4400
CLOSE_TOO_SLOW = 4008
CLOSE_ENDED = 4403  # this node ended the link: the peer is no longer a member
_CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)

SessionFactory = Callable[[str], PeerSession]


async def carry(ws, session: PeerSession, stopping: asyncio.Event) -> tuple[int, str]:
    """Carry envelopes both ways until either side ends; the close code and reason."""
    receiving = asyncio.ensure_future(ws.receive())
    sending = asyncio.ensure_future(session.outbox.get())
    stopped = asyncio.ensure_future(stopping.wait())
    ended = asyncio.ensure_future(session.ended.wait())
    try:
        while True:
            await asyncio.wait(
                {receiving, sending, stopped, ended}, return_when=asyncio.FIRST_COMPLETED
            )
            if stopped.done():
                return WSCloseCode.GOING_AWAY, "node stopping"
            if ended.done():
                return CLOSE_ENDED, session.end_reason
            if receiving.done():
                message = receiving.result()
                if message.type in _CLOSING:
                    return WSCloseCode.OK, ""
                if message.type != WSMsgType.BINARY:
                    return CLOSE_REFUSED, "peer frames are binary"
                try:
                    await session.receive(message.data)
                except PeerRefused as exc:
                    return CLOSE_REFUSED, str(exc)
                receiving = asyncio.ensure_future(ws.receive())
            if session.overflowed:
                return CLOSE_TOO_SLOW, "too far behind"
            if sending.done():
                await ws.send_bytes(sending.result())
                sending = asyncio.ensure_future(session.outbox.get())
    finally:
        for task in (receiving, sending, stopped, ended):
            task.cancel()
        await asyncio.gather(receiving, sending, stopped, ended, return_exceptions=True)


def _log_end(peer: str, code: int, reason: str) -> None:
    if code not in (WSCloseCode.OK, WSCloseCode.GOING_AWAY):
        log.warning("link with peer %s closed: %s", peer, reason, extra={"peer": peer})


def peer_routes(
    make_session: SessionFactory,
    identify: Callable[[web.Request], str],
    stopping: asyncio.Event,
) -> web.RouteTableDef:
    """The accepting side: `GET /sync/peer` for the peers `identify` admits."""
    routes = web.RouteTableDef()

    @routes.get(PATH)
    async def peer_socket(request: web.Request) -> web.WebSocketResponse:
        peer = identify(request)  # raises an HTTP error for a stranger
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_FRAME_BYTES + 512)
        await ws.prepare(request)
        session = make_session(peer)
        try:
            await session.start()
            code, reason = await carry(ws, session, stopping)
        finally:
            session.close()
        _log_end(peer, code, reason)
        await ws.close(code=code, message=reason.encode()[:120])
        return ws

    return routes


async def run_link(
    http: aiohttp.ClientSession,
    url: str,
    make_session: SessionFactory,
    identify: Callable[[object], str],
    stopping: asyncio.Event,
    **connect,
) -> tuple[int, str]:
    """The connecting side: one connection to `url` (raises aiohttp.ClientError if it
    cannot be made); `identify(ssl_object)` names the peer that answered (raising to refuse
    it). Returns how the link ended."""
    async with http.ws_connect(
        url, heartbeat=15, max_msg_size=MAX_FRAME_BYTES + 512, **connect
    ) as ws:
        peer = identify(ws.get_extra_info("ssl_object"))
        session = make_session(peer)
        try:
            await session.start()
            code, reason = await carry(ws, session, stopping)
        finally:
            session.close()
        _log_end(peer, code, reason)
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await ws.close(code=code, message=reason.encode()[:120])
        if ws.close_code not in (None, WSCloseCode.OK) and code == WSCloseCode.OK:
            _log_end(peer, ws.close_code, f"closed by the peer ({ws.close_code})")
        return code, reason
