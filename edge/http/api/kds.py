"""The kitchen display screens: their page, their live WebSocket, recall and rush.

`GET /kds/{station}` serves the screen's page (edge/http/web/, shipped with posedge: nothing
comes from the internet) to any browser without a token; the page pairs once with a code
and keeps its token. `GET /api/v1/kds/{station}` (station `expo`: every order's progress)
upgrades to a WebSocket on which the node sends JSON text frames:

- `{"type": "snapshot", "now": ms, "nodes": [...], ...}` on connect and whenever the
  station's tickets may have changed: everything the screen shows (see KdsBoard.snapshot),
  with the node's clock so that ticket timers do not depend on the screen's, and the store's
  nodes with their API's addresses (as `GET /api/v1/peers` lists them), where the screen goes
  on when this node goes away (edge/http/cross_origin.py);
- `{"type": "tick", "now": ms}` every KEEPALIVE seconds without a snapshot, so a screen
  that hears nothing for longer knows it is not live.

What the screen sends is ignored. Bumps and recalls are POSTs (orders.py's bump, and
recall here): events in the order log, so every screen of every node agrees.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging

from aiohttp import web

from edge.http.api.orders import ORDER, dumps, order_response
from edge.http.api.peers import store_nodes
from edge.http.bodies import json_body
from edge.http.context import ApiContext, actor, context, terminal
from edge.http.idempotency import REQUEST_KEY
from edge.http.problems import Problem
from edge.http.websocket import STOPPING, TOKEN_RECHECK, Close, close, serve, while_paired
from edge.kitchen.board import EXPO, KdsBoard

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

KDS_BOARD = web.AppKey("kds_board", KdsBoard)
KEEPALIVE = 5.0  # seconds between ticks on a quiet screen (the page expects one in 12 s)
ASSETS = {
    "kds.js": "text/javascript",
    "kds.layout.js": "text/javascript",
    "kds.sound.js": "text/javascript",
    "kds.nodes.js": "text/javascript",
    "kds.expo.js": "text/javascript",
    "kds.86.js": "text/javascript",
    "kds.css": "text/css",
    "kds.html": "text/html",
}
_WEB = importlib.resources.files("edge.http") / "web"


def _asset(name: str) -> web.Response:
    return web.Response(
        body=(_WEB / name).read_bytes(),
        content_type=ASSETS[name],
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@routes.get("/kds/{station}")
async def page(request: web.Request) -> web.Response:
    """The screen of a station (or `expo`); the page itself reads which from its URL."""
    return _asset("kds.html")


@routes.get("/kds/assets/{name}")
async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise Problem(404, "not-found", "No such resource", f"the KDS page has no {name!r}")
    return _asset(name)


@routes.get("/api/v1/kds/{station}")
async def screen(request: web.Request) -> web.WebSocketResponse:
    station = request.match_info["station"]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    if not ws.can_prepare(request).ok:
        raise Problem(
            400, "bad-request", "The request is malformed", "this route upgrades to a WebSocket"
        )
    board = request.app[KDS_BOARD]
    who = terminal(request)
    await ws.prepare(request)
    names = await board.station_names()
    if station != EXPO and station not in names:
        known = ", ".join([*names, EXPO])
        await close(ws, Close.UNKNOWN_STATION, f"no station {station}; stations: {known}")
        return ws
    changed = asyncio.Event()
    changed.set()  # the first snapshot at once
    unwatch = board.watch(station, changed.set)
    try:
        # What the screen sends is ignored.
        _, reason = await serve(
            ws,
            lambda: _next_message(board, station, changed, context(request)),
            stopping=request.app[STOPPING],
            check=while_paired(request),
            every=TOKEN_RECHECK,
        )
    finally:
        unwatch()
    log.debug("KDS screen %s of %s closed: %s", who.label, station, reason)
    return ws


async def _next_message(
    board: KdsBoard, station: str, changed: asyncio.Event, ctx: ApiContext
) -> str:
    """A snapshot once the station may have changed, or a tick after KEEPALIVE seconds
    without one."""
    try:
        async with asyncio.timeout(KEEPALIVE):
            await changed.wait()
    except TimeoutError:
        return dumps(board.tick())
    changed.clear()
    return dumps({**await board.snapshot(station), "nodes": store_nodes(ctx)})


@routes.post(ORDER + "/recall")
async def recall(request: web.Request) -> web.Response:
    """Undo a bump: the ticket is open again on every screen of its station."""
    body = await json_body(request, required=("bump_id",))
    view = await context(request).book.recall(
        actor(request),
        request.match_info["order_id"],
        bump_id=body["bump_id"],
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view)


@routes.post(ORDER + "/rush")
async def rush(request: web.Request) -> web.Response:
    """Mark the order rush: its tickets go first on the kitchen's screens."""
    body = await json_body(request, optional=("reason",))
    view = await context(request).book.rush(
        actor(request),
        request.match_info["order_id"],
        reason=body.get("reason"),
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view)
