"""HQ's API on the hub, under /hq/v1 with `Authorization: Bearer <hq.token>`: the stores,
their business days and orders (JSON or CSV), and catalog edits that flow down to the
stores' nodes (see edge/hub/app.py for the hub as a whole)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import logging
import secrets
from zoneinfo import ZoneInfo

from aiohttp import web

from edge.http.problems import Problem, invalid_input, invalid_parameter, problem_middleware
from edge.orders.book import OrderBook
from edge.orders.catalog import CATALOG_ROOTS, change_problems
from edge.orders.documents import day_guid
from edge.orders.log import NodeIdentity
from sync.hub.endpoint import Hub
from sync.hub.tokens import HubStores

log = logging.getLogger(__name__)

HUB_NODE = NodeIdentity("hub", "H")  # who HQ's catalog edits are by
CSV_COLUMNS = (
    "number", "id", "business_date", "opened_at", "channel", "table", "status",
    "subtotal", "discount", "tax", "total", "paid", "tips",
)  # fmt: skip
STORES = web.AppKey("stores", HubStores)
HUB = web.AppKey("hub", Hub)
HQ_TOKEN = web.AppKey("hq_token", str)


def _book(request: web.Request, store_id: str) -> OrderBook:
    """An order book over the hub's copy of `store_id`'s documents (for reading days and
    writing the catalog; the hub makes no orders)."""
    if store_id not in {s.store_id for s in request.app[STORES].list()}:
        raise Problem(404, "unknown-store", "No such store", f"the hub has no store {store_id}")
    return OrderBook(
        request.app[HUB].replica,  # the hub's documents: HQ reads and edits them as a node
        store_id=store_id,
        node=HUB_NODE,
        zone=ZoneInfo("UTC"),
        rollover_hour=4,
        now=lambda: dt.datetime.now(dt.UTC),
    )


@web.middleware
async def hq_auth(request: web.Request, handler):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.encode(), request.app[HQ_TOKEN].encode()
    ):
        raise Problem(401, "unauthorized", "Not signed in", "send the HQ token as a bearer")
    return await handler(request)


routes = web.RouteTableDef()


@routes.get("/stores")
async def list_stores(request: web.Request) -> web.Response:
    linked = request.app[HUB].connected()
    stores = [
        {**store.to_dict(), "linked_nodes": sorted(linked.get(store.store_id, []))}
        for store in await asyncio.to_thread(request.app[STORES].list)
    ]
    return web.json_response({"stores": stores})


@routes.get("/stores/{store}/days")
async def list_days(request: web.Request) -> web.Response:
    book = _book(request, request.match_info["store"])
    prefix = day_guid(book.store_id, dt.date(2000, 1, 1)).rsplit("/", 1)[0] + "/"
    days = sorted(
        info.meta["business_date"]
        for info in request.app[HUB].replica.store.documents(kind="orders")
        if info.guid.startswith(prefix)
    )
    return web.json_response({"store": book.store_id, "days": days})


@routes.get("/stores/{store}/orders")
async def list_orders(request: web.Request) -> web.Response:
    book = _book(request, request.match_info["store"])
    try:
        day = dt.date.fromisoformat(request.query.get("date", ""))
    except ValueError:
        raise invalid_parameter("must be a date such as 2026-11-24", parameter="date") from None
    views = await book.list_orders(day)
    if request.query.get("format") == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for v in views:
            t = v.totals
            writer.writerow(
                (v.number, v.id, v.business_date, v.opened_at, v.channel, v.table or "",
                 v.status.label, t.subtotal, t.discount, t.tax, t.total, t.paid, t.tips)
            )  # fmt: skip
        return web.Response(text=out.getvalue(), content_type="text/csv")
    body = {"store": book.store_id, "date": day.isoformat(), "orders": [v.to_dict() for v in views]}
    return web.json_response(body, dumps=lambda data: json.dumps(data, separators=(",", ":")))


@routes.get("/stores/{store}/catalog")
async def get_catalog(request: web.Request) -> web.Response:
    book = _book(request, request.match_info["store"])
    catalog = await _catalog_contents(request, book)
    return web.json_response({"store": book.store_id, "catalog": catalog})


@routes.patch("/stores/{store}/catalog")
async def patch_catalog(request: web.Request) -> web.Response:
    book = _book(request, request.match_info["store"])
    try:
        patch = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
        raise Problem(400, "malformed-json", "The body is not JSON", "send a JSON object") from None
    if not isinstance(patch, dict) or set(patch) - set(CATALOG_ROOTS):
        raise invalid_input(f"send an object with some of {', '.join(CATALOG_ROOTS)}", pointer="")
    new_problems = change_problems(await _catalog_contents(request, book), patch)
    if new_problems:  # each names its entry: "modifier_groups.sauces: min 3 is more than max 2"
        raise invalid_input("; ".join(new_problems), pointer=_pointer(new_problems, patch))
    await book.ensure_catalog()  # no node may have sent it yet
    catalog = await book.import_catalog(patch)
    log.info("HQ changed the catalog of store %s: %s", book.store_id, sorted(patch))
    return web.json_response({"store": book.store_id, "items": len(catalog.items)})


def _pointer(problems: list[str], patch: dict) -> str:
    """The JSON pointer of the first entry of the patch a problem names (`items.BURGER: …`
    → `/items/BURGER`), or "" when they name only entries the patch leaves as they were."""
    for problem in problems:
        root, _, key = problem.partition(": ")[0].partition(".")
        if isinstance(patch.get(root), dict) and key in patch[root]:
            return f"/{root}/{key.replace('~', '~0').replace('/', '~1')}"
    return ""


async def _catalog_contents(request: web.Request, book: OrderBook) -> dict:
    if not request.app[HUB].replica.known(book.catalog_guid):  # no node sent it, HQ wrote none
        return {}
    return await book.catalog_entries()


def hq_application(hub: Hub, hq_token: str) -> web.Application:
    """HQ's API over the hub's documents and stores, to mount at /hq/v1."""
    app = web.Application(middlewares=[problem_middleware, hq_auth])
    app[HUB], app[STORES], app[HQ_TOKEN] = hub, hub.stores, hq_token
    app.add_routes(routes)
    return app
