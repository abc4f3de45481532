"""Peer links over WebSocket: one per peer, carrying a PeerSession's envelopes both ways.

The accepting side serves `GET /sync/peer` (`peer_routes`); the connecting side calls
`run_link`. Who the peer is comes from `identify` (on the store's LAN: the node named in
its verified TLS client certificate). A session that refuses a frame closes the link with
4400 and a log line naming the peer; a peer too slow to drain its outbox is dropped (4008)
and catches up on its next connection. A session factory that raises `LinkExists` turns a
second link with the same peer away: the accepting side answers 409, the connecting side
closes its new connection and lets `LinkExists` through to its caller. Each side pings the
other every HEARTBEAT seconds, so a link whose other end went silent (a pulled cable, a
machine switched off) ends SILENT_AFTER (1.5 HEARTBEAT) after its last frame; the session
then says how it ended (`PeerSession.ending`), which the store's device ownership reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
from aiohttp import WSCloseCode, web

from sync.errors import SyncError
from sync.links.pump import LinkFrames, pump
from sync.links.session import PeerRefused, PeerSession
from sync.protocol import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

PATH = "/sync/peer"
CLOSE_REFUSED = 4400
CLOSE_ENDED = 4403  # this node ended the link: the peer is no longer a member
HEARTBEAT = 3.0  # seconds between pings; a link without a pong for half of it is silent
# aiohttp pings HEARTBEAT after the last frame received and waits half of it for the pong,
# so a silent link ends this long after the peer was last heard
SILENT_AFTER = 1.5 * HEARTBEAT

SessionFactory = Callable[[str], PeerSession]


class LinkExists(SyncError):
    """This node already has the link it wants with that peer; a second one is turned away."""


def _ending(ws, code: int) -> str:
    """How a link that ended with `code` (the pump's) ended, as the other node's side of it:
    `stopped` (it said it was stopping), `silent` (no answer to pings: a pulled cable, a
    machine off), or `closed` (its connection closed: its process ended, or it closed the
    link). The close frame's own code tells a stop: `ws.close_code` is overwritten when the
    other side drops the connection while the answer to its close frame is sent."""
    if code == WSCloseCode.GOING_AWAY:
        return "stopped"
    if isinstance(ws.exception(), asyncio.TimeoutError):
        return "silent"
    return "closed"


def _peer_refusal(exc: Exception) -> tuple[int, str] | None:
    return (CLOSE_REFUSED, str(exc)) if isinstance(exc, PeerRefused) else None


async def run_session(
    ws, session: PeerSession, peer: str, stopping: asyncio.Event, *, offer: bool = True
) -> tuple[int, str]:
    """Start `session`, carry it until the link ends, close it; how the link ended."""
    try:
        await session.start(offer=offer)
        frames = LinkFrames(
            session, refusal=_peer_refusal, not_binary=(CLOSE_REFUSED, "peer frames are binary")
        )
        code, reason = await pump(
            ws,
            frames.produce,
            receive=frames.receive,
            stopping=stopping,
            check=lambda: (CLOSE_ENDED, session.end_reason) if session.ended.is_set() else None,
            wake=session.ended,
        )
        session.ending = _ending(ws, code)
    finally:
        session.close()
    if code not in (WSCloseCode.OK, WSCloseCode.GOING_AWAY):
        log.warning("link with peer %s closed: %s", peer, reason, extra={"peer": peer})
    return code, reason


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
        try:
            session = make_session(peer)
        except LinkExists as exc:
            raise web.HTTPConflict(text=str(exc)) from None
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME_BYTES + 512)
        try:
            await ws.prepare(request)
        except BaseException:
            session.close()
            raise
        code, reason = await run_session(ws, session, peer, stopping)
        # Not drained: a send the pump cut short leaves aiohttp's one drain waiter cancelled.
        await ws.close(code=code, message=reason.encode()[:120], drain=False)
        return ws

    return routes


async def run_link(
    http: aiohttp.ClientSession,
    url: str,
    make_session: SessionFactory,
    identify: Callable[[object], str],
    stopping: asyncio.Event,
    *,
    offer: bool = True,
    **connect,
) -> tuple[int, str]:
    """The connecting side: one connection to `url` (raises aiohttp.ClientError if it
    cannot be made; `aiohttp.WSServerHandshakeError` with status 409 when the peer has the
    link with this node already); `identify(ssl_object)` names the peer that answered
    (raising to refuse it); `offer=False` leaves offering to the caller (`session.offer`).
    Returns how the link ended."""
    async with http.ws_connect(
        url, heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME_BYTES + 512, **connect
    ) as ws:
        peer = identify(ws.get_extra_info("ssl_object"))
        code, reason = await run_session(ws, make_session(peer), peer, stopping, offer=offer)
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await ws.close(code=code, message=reason.encode()[:120])
        ended_by_peer = ws.close_code not in (None, WSCloseCode.OK, WSCloseCode.GOING_AWAY)
        if ended_by_peer and code == WSCloseCode.OK:
            log.warning("link with peer %s closed by it (%s)", peer, ws.close_code)
        return code, reason
