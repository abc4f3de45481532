"""The orders pages (managers only): search by number, table, amount and date; an order's
lines, voids, discounts, payments, history and receipt; reprints and voiding."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation

from aiohttp import web

from edge.http.context import ApiContext, context
from edge.http.ui.order_history import history_rows
from edge.http.ui.pages import flash, render, require_user, see_other
from edge.http.ui.receipt_image import receipt_png
from edge.orders.index import OrderQuery
from edge.orders.log import Actor
from edge.orders.money import exponent
from edge.runtime.errors import DeviceError, InvalidInput, OrderError

routes = web.RouteTableDef()

MAX_FOUND = 200
ORDER = "/ui/orders/{order_id}"


class SearchError(ValueError):
    """A search field that cannot be read; its message says which and why."""


def _amount(text: str, currency: str) -> int | None:
    """A typed amount ("12.50", "12,50", "12") in minor units, or None when empty."""
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", ".")) * 10 ** exponent(currency)
    except InvalidOperation:
        raise SearchError(f"“{text}” is not an amount: type it like 12.50") from None
    if value != value.to_integral_value() or value < 0:
        raise SearchError(f"“{text}” is not an amount in {currency}")
    return int(value)


def _day(text: str, ctx: ApiContext) -> dt.date:
    if not text.strip():
        return ctx.book.business_date()
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise SearchError(f"“{text}” is not a date: use YYYY-MM-DD") from None


@routes.get("/ui/orders", name="ui_orders")
async def orders(request: web.Request) -> web.Response:
    require_user(request, "manager")
    ctx = context(request)
    form = {k: request.query.get(k, "") for k in ("number", "table", "amount", "date")}
    currency = (await ctx.book.catalog()).currency
    found, error = [], None
    try:
        day = _day(form["date"], ctx)
        amount = _amount(form["amount"], currency)
    except SearchError as exc:
        day, error = ctx.book.business_date(), str(exc)
    else:
        query = OrderQuery(
            number=form["number"].strip() or None, table=form["table"].strip() or None
        )
        summaries = (await ctx.index.day(day)).values() if ctx.book.day_exists(day) else ()
        found = sorted(
            (s for s in summaries if query.matches(s) and amount in (None, s.total)),
            key=lambda s: s.sort_key,
            reverse=True,
        )
    return render(
        request,
        "orders.html",
        title="Orders",
        form=form,
        day=day,
        error=error,
        found=found[:MAX_FOUND],
        more=len(found) > MAX_FOUND,
        currency=currency,
        zone=ctx.book.zone,
    )


@routes.get(ORDER, name="ui_order")
async def order(request: web.Request) -> web.Response:
    require_user(request, "manager")
    ctx = context(request)
    view = await ctx.book.get(request.match_info["order_id"])
    currency = (await ctx.book.catalog()).currency
    jobs = await ctx.devices.queue.jobs.jobs(order_id=view.id, limit=50)
    printers = {d["id"]: d["name"] for d in ctx.devices.describe() if d["kind"] == "printer"}
    return render(
        request,
        "order.html",
        title=f"Order {view.number}",
        order=view,
        history=history_rows(view, currency),
        jobs=jobs,
        printers=printers,
        currency=currency,
        zone=ctx.book.zone,
    )


@routes.get(ORDER + "/receipt.png")
async def receipt_picture(request: web.Request) -> web.Response:
    require_user(request, "manager")
    ctx = context(request)
    view = await ctx.book.get(request.match_info["order_id"])
    document = await ctx.devices.receipt_of(view)
    settings = {}
    printer_id = ctx.devices.receipt.printer or next(iter(ctx.devices.settings.printers), None)
    printer = ctx.devices.settings.printers.get(printer_id) if printer_id else None
    if printer is not None:
        settings = {
            "profile": printer.profile,
            "width": printer.width,
            "logo": ctx.devices.queue.workers[printer.id].logo.image(),
        }
    png = await asyncio.to_thread(receipt_png, document, zone=ctx.book.zone, **settings)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@routes.post(ORDER + "/receipt")
async def print_receipt(request: web.Request) -> web.Response:
    user = require_user(request, "manager")
    ctx = context(request)
    view = await ctx.book.get(request.match_info["order_id"])
    try:
        job, _ = await ctx.devices.print_receipt(
            view,
            key=f"receipt:ui:{secrets.token_hex(12)}",
            printer=None,
            requested_by=user.label,
        )
    except (DeviceError, InvalidInput) as exc:
        flash(request, f"The receipt cannot print: {exc}", "error")
    else:
        flash(request, f"Receipt of order {view.number} sent to {_printer_name(ctx, job.printer)}.")
    raise see_other(f"/ui/orders/{view.id}")


@routes.post(ORDER + "/reprint")
async def reprint(request: web.Request) -> web.Response:
    user = require_user(request, "manager")
    ctx = context(request)
    order_id = request.match_info["order_id"]
    form = await request.post()
    job_id = str(form.get("job_id", ""))
    jobs = await ctx.devices.queue.jobs.jobs(order_id=order_id, limit=50)
    original = next((job for job in jobs if str(job.id) == job_id), None)
    if original is None:
        flash(request, "That print job is not one of this order's.", "error")
        raise see_other(f"/ui/orders/{order_id}")
    try:
        job, _ = await ctx.devices.queue.reprint(
            original.id,
            key=f"reprint:ui:{secrets.token_hex(12)}",
            requested_by=user.label,
            printer=None,
        )
    except (DeviceError, InvalidInput) as exc:
        flash(request, f"The reprint failed: {exc}", "error")
    else:
        what = "Kitchen ticket" if job.kind == "ticket" else job.kind.capitalize()
        flash(request, f"{what} reprinted on {_printer_name(ctx, job.printer)} (marked REPRINT).")
    raise see_other(f"/ui/orders/{order_id}")


@routes.post(ORDER + "/void")
async def void(request: web.Request) -> web.Response:
    user = require_user(request, "manager")
    ctx = context(request)
    order_id = request.match_info["order_id"]
    reason = str((await request.post()).get("reason", "")).strip()
    if not reason:
        flash(request, "Say why the order is voided: the reason is kept in its history.", "error")
        raise see_other(f"/ui/orders/{order_id}")
    try:
        view = await ctx.book.void_order(Actor(user.label, manager=True), order_id, reason)
    except OrderError as exc:
        flash(request, f"The order was not voided: {exc}", "error")
    else:
        flash(request, f"Order {view.number} is void: {reason}")
    raise see_other(f"/ui/orders/{order_id}")


def _printer_name(ctx: ApiContext, printer_id: str) -> str:
    config = ctx.devices.settings.printers.get(printer_id)
    return config.name if config else printer_id
