"""`/api/v1/sync/{guid}`: a terminal's live replica of one document, over WebSocket.

It speaks the Yjs sync protocol as y-websocket frames it, one document per socket, so a
terminal written as a web app can keep a business day's orders with `y-websocket` (room =
the document's guid) and write orders into it as docs/orders.md describes. The token comes
in the Authorization header or, for browsers, as `access_token` in the query. A terminal may
read and write this store's business days and read its catalog; a day is created when a
terminal opens today's before any order exists. A bad frame, a change to a document the
terminal may only read, or an update that does not decode closes the socket with a reason,
logged with the terminal's name; nothing of it is stored.

The terminals of a document see each other: the awareness they send (y-protocols: who has
it open, their names, cursors) goes to every terminal with the document open on this node,
never stored, as a y-websocket server relays it, and a terminal that goes is announced gone
(sync/links/awareness.py). A stock `WebsocketProvider` counts on it: it reconnects when 30 s
go by without a message, and on a quiet day the relayed renewals are the only ones.
"""

from __future__ import annotations

import datetime as dt
import logging

from aiohttp import web

from edge.http.context import context, terminal
from edge.http.problems import Problem
from edge.http.websocket import STOPPING, TOKEN_RECHECK, Close, serve, while_paired
from sync.errors import DocumentClosed, InvalidUpdate, StoreUnavailable, UnknownDocument
from sync.links.awareness import AwarenessRelay
from sync.links.doc_link import DocLink, ReadOnlyDocument
from sync.links.pump import LinkFrames
from sync.protocol import MAX_FRAME_BYTES, ProtocolError

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

AWARENESS = web.AppKey("awareness", AwarenessRelay)  # the API's awareness rooms, by document


async def _document(request: web.Request, guid: str) -> bool:
    """Check that the terminal may sync `guid`; returns whether it may write to it."""
    book = context(request).book
    if guid == book.catalog_guid:
        return False
    prefix = f"{book.store_id}/orders/"
    if guid.startswith(prefix):
        try:
            day = dt.date.fromisoformat(guid.removeprefix(prefix))
        except ValueError:
            day = None
        if day is not None and (book.day_exists(day) or day == book.business_date()):
            await book.open_day(day)
            return True
    raise Problem(
        404,
        "unknown-document",
        "No such document on this node",
        f"terminals sync {prefix}<business date> (an existing day, or today) and "
        f"{book.catalog_guid}",
    )


@routes.get(r"/api/v1/sync/{guid:[\s\S]+}")  # any text: unknown ones get a 404 that says so
async def sync_socket(request: web.Request) -> web.WebSocketResponse:
    guid = request.match_info["guid"]
    writable = await _document(request, guid)
    who = terminal(request)
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    ctx = context(request)
    relay = request.app[AWARENESS]
    origin = f"terminal {who.label}"
    link = DocLink(ctx.replica, guid, origin=origin, writable=writable, relay=relay)
    try:
        await link.start()
        frames = LinkFrames(
            link, refusal=_refusal, not_binary=(Close.BAD_MESSAGE, "sync frames are binary")
        )
        code, reason = await serve(
            ws,
            frames.produce,
            receive=frames.receive,
            stopping=request.app[STOPPING],
            check=while_paired(request),
            every=TOKEN_RECHECK,
        )
    finally:
        link.close()
    if code != Close.NORMAL:
        log.warning(
            "sync of %s with terminal %s closed: %s",
            guid,
            who.label,
            reason,
            extra={"terminal": who.id, "guid": guid},
        )
    return ws


def _refusal(exc: Exception) -> tuple[int, str] | None:
    """The close code and reason for a frame the node refuses."""
    if isinstance(exc, ProtocolError | InvalidUpdate):
        return Close.BAD_MESSAGE, str(exc)
    if isinstance(exc, ReadOnlyDocument | DocumentClosed | UnknownDocument):
        return Close.REFUSED, str(exc)
    if isinstance(exc, StoreUnavailable):
        return Close.TRY_AGAIN_LATER, f"store unavailable: {exc}"
    return None
