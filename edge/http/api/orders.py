"""`/api/v1/orders`: the order lifecycle over HTTP.

Each handler reads its body, calls the order book as the requesting terminal, and answers
with the order as it now is (`{"order": {...}}`, amounts in minor units), or in short when
the terminal asks a write for less (`Prefer: return=minimal`, RFC 7240). A keyed request
passes its key to the order book so that a retry finds its own earlier write.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from edge.http.bodies import json_body, known_query, query_bool, query_date, query_int
from edge.http.context import actor, context
from edge.http.idempotency import REQUEST_KEY
from edge.http.problems import invalid_parameter
from edge.orders.ids import entry_id
from edge.orders.index import MAX_PAGE, OrderQuery
from edge.orders.status import Status
from edge.orders.view import OrderView
from edge.runtime.errors import InvalidInput

routes = web.RouteTableDef()

ORDER = "/api/v1/orders/{order_id}"
STATUS_LABELS = {status.label: status for status in Status}
LIST_PARAMETERS = ("date", "status", "number", "table", "open", "limit", "after")
MINIMAL = "return=minimal"


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def order_response(
    request: web.Request, view: OrderView, status: int = 200, **extra: object
) -> web.Response:
    """A write's answer: the order as it now is (in short, if the terminal prefers it) and
    what the write made (`extra`: line_id, fire_id, …)."""
    headers = {"Location": f"/api/v1/orders/{view.id}"} if status == 201 else {}
    if _prefers_minimal(request):
        headers["Preference-Applied"] = MINIMAL
        order = view.brief()
    else:
        order = view.to_dict()
    return json_response({"order": order, **extra}, status, headers)


def _prefers_minimal(request: web.Request) -> bool:
    """Whether a `Prefer` header asks for return=minimal (RFC 7240: preferences are
    separated by commas, their parameters by semicolons; names are case-insensitive)."""
    for header in request.headers.getall("Prefer", ()):
        for preference in header.split(","):
            name, _, value = preference.split(";")[0].partition("=")
            if name.strip().lower() == "return" and value.strip().strip('"') == "minimal":
                return True
    return False


def _order_query(request: web.Request) -> tuple[dt.date, OrderQuery]:
    known_query(request, LIST_PARAMETERS)
    query = request.query
    book = context(request).book
    day = query_date(request, book.business_date())
    statuses = None
    if "status" in query:
        labels = [label.strip() for label in query["status"].split(",") if label.strip()]
        unknown = [label for label in labels if label not in STATUS_LABELS]
        if unknown or not labels:
            raise invalid_parameter(
                f"status must be a comma-separated list of {', '.join(STATUS_LABELS)}",
                parameter="status",
            )
        statuses = frozenset(STATUS_LABELS[label] for label in labels)
    return day, OrderQuery(
        statuses=statuses,
        number=query.get("number") or None,
        table=query.get("table") or None,
        open_only=query_bool(request, "open"),
        limit=query_int(request, "limit", 50, 1, MAX_PAGE),
        after=query.get("after") or None,
    )


@routes.get("/api/v1/orders")
async def list_orders(request: web.Request) -> web.Response:
    day, query = _order_query(request)
    try:
        page, next_token = await context(request).index.search(day, query)
    except InvalidInput as exc:  # the one thing the search checks itself: the page token
        raise invalid_parameter(f"after: {exc.reason}", parameter="after") from None
    return json_response(
        {
            "business_date": day.isoformat(),
            "orders": [summary.to_dict() for summary in page],
            "next": next_token,
        }
    )


@routes.post("/api/v1/orders")
async def open_order(request: web.Request) -> web.Response:
    body = await json_body(request, optional=("channel", "table", "guests"))
    view = await context(request).book.open_order(
        actor(request),
        channel=body.get("channel", "counter"),
        table=body.get("table"),
        guests=body.get("guests", 0),
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view, 201)


@routes.get(ORDER)
async def get_order(request: web.Request) -> web.Response:
    view = await context(request).book.get(request.match_info["order_id"])
    return json_response({"order": view.to_dict()})


@routes.post(ORDER + "/lines")
async def add_line(request: web.Request) -> web.Response:
    body = await json_body(
        request, required=("sku",), optional=("qty", "modifiers", "note", "price")
    )
    view, line_id = await context(request).book.add_line(
        actor(request),
        request.match_info["order_id"],
        sku=body["sku"],
        qty=body.get("qty", 1),
        modifiers=body.get("modifiers", ()),
        note=body.get("note"),
        price=body.get("price"),
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view, 201, line_id=line_id)


@routes.post(ORDER + "/lines/{line_id}/void")
async def void_line(request: web.Request) -> web.Response:
    body = await json_body(request, required=("reason",))
    view = await context(request).book.void_line(
        actor(request),
        request.match_info["order_id"],
        request.match_info["line_id"],
        body["reason"],
    )
    return order_response(request, view)


@routes.post(ORDER + "/discounts")
async def add_discount(request: web.Request) -> web.Response:
    body = await json_body(request, required=("reason",), optional=("amount", "percent", "line_id"))
    view = await context(request).book.add_discount(
        actor(request),
        request.match_info["order_id"],
        reason=body["reason"],
        amount=body.get("amount"),
        percent=body.get("percent"),
        line_id=body.get("line_id"),
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view, 201)


@routes.post(ORDER + "/payments")
async def add_payment(request: web.Request) -> web.Response:
    body = await json_body(
        request, required=("tender", "amount"), optional=("tip", "reference", "key")
    )
    key = body.get("key") or entry_id(request.get(REQUEST_KEY), "payment")
    view = await context(request).book.add_payment(
        actor(request),
        request.match_info["order_id"],
        key=key,
        tender=body["tender"],
        amount=body["amount"],
        tip=body.get("tip", 0),
        reference=body.get("reference"),
    )
    return order_response(request, view, 201, payment_key=key)


@routes.post(ORDER + "/tips")
async def add_tip(request: web.Request) -> web.Response:
    body = await json_body(request, required=("amount",), optional=("payment_key", "key"))
    key = body.get("key") or entry_id(request.get(REQUEST_KEY), "tip")
    view = await context(request).book.add_tip(
        actor(request),
        request.match_info["order_id"],
        key=key,
        amount=body["amount"],
        payment_key=body.get("payment_key"),
    )
    return order_response(request, view, 201, tip_key=key)


@routes.post(ORDER + "/fire")
async def fire(request: web.Request) -> web.Response:
    await json_body(request)
    view, fire_id = await context(request).book.fire(
        actor(request), request.match_info["order_id"], request_key=request.get(REQUEST_KEY)
    )
    return order_response(request, view, fire_id=fire_id)


@routes.post(ORDER + "/bump")
async def bump(request: web.Request) -> web.Response:
    body = await json_body(request, required=("fire_id", "station"))
    view = await context(request).book.bump(
        actor(request),
        request.match_info["order_id"],
        fire_id=body["fire_id"],
        station=body["station"],
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view)


@routes.post(ORDER + "/close")
async def close(request: web.Request) -> web.Response:
    await json_body(request)
    view = await context(request).book.close(
        actor(request), request.match_info["order_id"], request_key=request.get(REQUEST_KEY)
    )
    return order_response(request, view)


@routes.post(ORDER + "/void")
async def void_order(request: web.Request) -> web.Response:
    body = await json_body(request, required=("reason",))
    view = await context(request).book.void_order(
        actor(request), request.match_info["order_id"], body["reason"]
    )
    return order_response(request, view)


@routes.post(ORDER + "/reopen")
async def reopen(request: web.Request) -> web.Response:
    body = await json_body(request, required=("reason",))
    view = await context(request).book.reopen(
        actor(request),
        request.match_info["order_id"],
        body["reason"],
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view)
