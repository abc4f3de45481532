"""`/api/v1/orders/{id}/refunds` and payment reversals: money back, over HTTP.

A refund is written to the order log first; then this node prints its slip on the receipt
printer and, for cash, opens the cash drawer. Those two are the node's devices and may be
missing or fail: the refund stands regardless, and the answer says what was not done
(`warnings`) so the cashier can reprint the slip or open the drawer by hand.
"""

from __future__ import annotations

import logging

from aiohttp import web

from edge.http.api.orders import ORDER, order_response
from edge.http.bodies import json_body
from edge.http.context import ApiContext, actor, context
from edge.http.idempotency import REQUEST_KEY
from edge.orders.log import Actor
from edge.orders.refunds import CASH_TENDERS, RefundView
from edge.orders.view import OrderView
from edge.runtime.errors import DeviceError, InvalidInput, OrderError

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post(ORDER + "/refunds")
async def refund(request: web.Request) -> web.Response:
    body = await json_body(
        request,
        required=("tender", "reason"),
        optional=("amount", "items", "reference", "drawer"),
    )
    drawer = body.get("drawer")
    if drawer is not None and not isinstance(drawer, str):
        raise InvalidInput("/drawer", "must be the id of one of this node's cash drawers")
    ctx = context(request)
    who = actor(request)
    view, refund_id = await ctx.book.refund(
        who,
        request.match_info["order_id"],
        tender=body["tender"],
        reason=body["reason"],
        amount=body.get("amount"),
        items=body.get("items"),
        reference=body.get("reference"),
        request_key=request.get(REQUEST_KEY),
    )
    made = next(r for r in view.refunds.refunds if r.id == refund_id)
    done, warnings = await _hand_back(ctx, who, view, made, drawer)
    return order_response(request, view, 201, refund_id=refund_id, **done, warnings=warnings)


async def _hand_back(
    ctx: ApiContext, who: Actor, view: OrderView, refund: RefundView, drawer: str | None
) -> tuple[dict, list[str]]:
    """Print the refund's slip and, for cash, open the drawer: what was done, and why not."""
    done: dict = {"print_job": None, "drawer_open": None}
    warnings = []
    try:
        job, _ = await ctx.devices.print_refund(
            view, refund, key=f"refund:{refund.id}", requested_by=who.id
        )
        done["print_job"] = job.to_dict()
    except (DeviceError, OrderError) as exc:
        warnings.append(f"the refund slip was not printed: {exc}")
    if refund.tender in CASH_TENDERS:
        try:
            done["drawer_open"] = await ctx.devices.drawers.open(
                who, drawer_id=drawer, order_id=view.id, reason="refund", request_key=refund.id
            )
        except (DeviceError, OrderError) as exc:
            warnings.append(f"the cash drawer was not opened: {exc}")
    for warning in warnings:
        log.warning("refund %s of order %s: %s", refund.id, view.number, warning)
    return done, warnings


@routes.post(ORDER + "/payments/{payment_key}/reverse")
async def reverse_payment(request: web.Request) -> web.Response:
    body = await json_body(request, required=("reason",))
    view = await context(request).book.reverse_payment(
        actor(request),
        request.match_info["order_id"],
        payment_key=request.match_info["payment_key"],
        reason=body["reason"],
        request_key=request.get(REQUEST_KEY),
    )
    return order_response(request, view)
