"""`/api/v1/drawer-sessions`: cash-up over HTTP. A drawer's session is opened with a float,
takes paid-ins, paid-outs (managers) and drops, and is closed with a count; the answer shows
the cash expected and, once counted, over or short (edge/orders/cash/sessions.py)."""

from __future__ import annotations

from aiohttp import web

from edge.http.api.orders import json_response
from edge.http.bodies import json_body, known_query, query_date
from edge.http.context import actor, context
from edge.http.idempotency import REQUEST_KEY
from edge.orders.cash.drawer_sessions import DrawerSessions
from edge.runtime.errors import InvalidInput

routes = web.RouteTableDef()
SESSION = "/api/v1/drawer-sessions/{session_id}"


def _sessions(request: web.Request) -> DrawerSessions:
    return DrawerSessions(context(request).book)


@routes.get("/api/v1/drawer-sessions")
async def list_sessions(request: web.Request) -> web.Response:
    known_query(request, ("date",))
    book = context(request).book
    day = query_date(request, book.business_date())
    cash = await _sessions(request).day(day)
    return json_response(
        {
            "business_date": day.isoformat(),
            "sessions": [session.to_dict() for session in cash.sessions],
            "unassigned_cash": sum(c.amount for c in cash.unassigned),
            "unassigned_orders": sorted({c.number for c in cash.unassigned}),
        }
    )


@routes.post("/api/v1/drawer-sessions")
async def open_session(request: web.Request) -> web.Response:
    body = await json_body(request, optional=("drawer", "amount", "denominations"))
    drawer = body.get("drawer")
    ctx = context(request)
    if drawer is not None and not isinstance(drawer, str):
        raise InvalidInput("/drawer", "must be the id of one of this node's cash drawers")
    drawer_id = ctx.devices.drawers.drawer(drawer).id
    session = await _sessions(request).open(
        actor(request),
        drawer_id,
        amount=body.get("amount"),
        denominations=body.get("denominations"),
        request_key=request.get(REQUEST_KEY),
    )
    return json_response({"session": session.to_dict()}, 201)


@routes.get(SESSION)
async def get_session(request: web.Request) -> web.Response:
    session = await _sessions(request).get(request.match_info["session_id"])
    return json_response({"session": session.to_dict()})


@routes.post(SESSION + "/movements")
async def move_cash(request: web.Request) -> web.Response:
    body = await json_body(request, required=("kind", "amount", "reason"))
    session = await _sessions(request).move(
        actor(request),
        request.match_info["session_id"],
        kind=body["kind"],
        amount=body["amount"],
        reason=body["reason"],
        request_key=request.get(REQUEST_KEY),
    )
    return json_response({"session": session.to_dict()}, 201)


@routes.post(SESSION + "/close")
async def close_session(request: web.Request) -> web.Response:
    body = await json_body(request, optional=("amount", "denominations"))
    session = await _sessions(request).close(
        actor(request),
        request.match_info["session_id"],
        amount=body.get("amount"),
        denominations=body.get("denominations"),
    )
    return json_response({"session": session.to_dict()})
