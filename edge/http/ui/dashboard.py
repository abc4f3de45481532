"""The dashboard: problems first, today's sales (managers only), open orders, devices and
the print queue, peers and the hub. `/ui/dashboard/live` serves the problems and devices
panel alone, which the page's script fetches again every two seconds."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from edge.http.context import ApiContext, context
from edge.http.ui.node_health import device_rows, node_notices
from edge.http.ui.pages import render, render_fragment, require_user
from edge.http.ui.sales import hourly_chart, sales_by_hour, sales_figures
from edge.orders.index import OrderQuery

routes = web.RouteTableDef()

RECENT_JOBS = 8
OPEN_ORDERS_SHOWN = 20


async def _node_health(ctx: ApiContext) -> dict:
    """The values of the live panel: notices, devices, the print queue."""
    devices = ctx.devices.describe()
    waiting: dict[str, int] = {}
    for (printer, _state), count in (await ctx.devices.queue.jobs.waiting_counts()).items():
        waiting[printer] = waiting.get(printer, 0) + count
    peers = [p.to_dict() for p in ctx.peers.peers.values()] if ctx.peers is not None else []
    upstream = await ctx.upstream.status() if ctx.upstream is not None else None
    names = {d["id"]: d["name"] for d in devices}
    return {
        "notices": node_notices(devices, waiting, peers, upstream, ctx.book.zone),
        "devices": device_rows(devices, waiting),
        "jobs": await ctx.devices.queue.jobs.jobs(limit=RECENT_JOBS),
        "printer_names": names,
        "peers": peers,
        "upstream": upstream,
        "zone": ctx.book.zone,
    }


async def _sales(ctx: ApiContext) -> dict:
    """Today's figures, the hourly chart against the same weekday last week, open orders."""
    today = ctx.book.business_date()
    week_ago = today - dt.timedelta(days=7)
    summaries = (await ctx.index.day(today)).values()
    earlier = (await ctx.index.day(week_ago)).values() if ctx.book.day_exists(week_ago) else ()
    currency = (await ctx.book.catalog()).currency
    open_orders, _ = await ctx.index.search(
        today, OrderQuery(open_only=True, limit=OPEN_ORDERS_SHOWN)
    )
    return {
        "business_date": today,
        "last_week_date": week_ago,
        "figures": sales_figures(summaries),
        "chart": hourly_chart(
            sales_by_hour(summaries, ctx.book.zone),
            sales_by_hour(earlier, ctx.book.zone),
            first_hour=ctx.book.rollover_hour,
            currency=currency,
        ),
        "open_orders": open_orders,
        "currency": currency,
    }


@routes.get("/ui/", name="ui_dashboard")
async def dashboard(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = context(request)
    sales = await _sales(ctx) if user.manager else {}
    return render(
        request,
        "dashboard.html",
        title="Dashboard",
        sales=sales,
        **await _node_health(ctx),
    )


@routes.get("/ui/dashboard/live")
async def live_panel(request: web.Request) -> web.Response:
    require_user(request)
    return render_fragment(request, "dashboard_live.html", **await _node_health(context(request)))
