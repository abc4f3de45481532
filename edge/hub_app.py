"""`posedge hub`: the chain's hub — the stores' sync endpoint (sync/hub.py) and HQ's API.

Everything lives in the hub's directory: `hub.db` (every store's documents, the same store
as a node's), `stores.db` (the stores and their tokens), `hub.pem`/`hub.key` (its TLS
certificate, made on first start unless `--cert`/`--key` are given) and `hq.token` (the
bearer token of HQ's API, made on first start, readable by root only).

HQ's API, under /hq/v1 with `Authorization: Bearer <hq.token>`:
- `GET /hq/v1/stores`: every store, its last contact and the nodes linked now;
- `GET /hq/v1/stores/{store}/days`: the business days the hub holds for it;
- `GET /hq/v1/stores/{store}/orders?date=YYYY-MM-DD[&format=csv]`: that day's orders, as
  the nodes' API shows them (JSON) or one row per order (CSV);
- `GET /hq/v1/stores/{store}/catalog` and `PATCH` it: entries in the shape of
  `posedge catalog --import` (items, taxes, stations, settings), each replacing the entry
  of the same key. A change flows down to the store's nodes as they link.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import logging
import os
import secrets
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from pycrdt import Map

from sync.hub import Hub
from sync.hub_stores import HubStores
from sync.hub_tls import ensure_self_signed, server_context
from sync.replica import Replica
from sync.store import DocStore
from sync.store_documents import catalog_guid, day_guid

from .api.problems import Problem, invalid_input, invalid_parameter, problem_middleware
from .catalog import CATALOG_ROOTS, change_problems
from .orderbook import NodeIdentity, OrderBook

log = logging.getLogger(__name__)

HUB_NODE = NodeIdentity("hub", "H")  # who HQ's catalog edits are by
CSV_COLUMNS = (
    "number", "id", "business_date", "opened_at", "channel", "table", "status",
    "subtotal", "discount", "tax", "total", "paid", "tips",
)  # fmt: skip
STORES = web.AppKey("stores", HubStores)
HUB = web.AppKey("hub", Hub)
HQ_TOKEN = web.AppKey("hq_token", str)


def ensure_hq_token(path: Path) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("hq_" + secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _book(request: web.Request, store_id: str) -> OrderBook:
    """An order book over the hub's copy of `store_id`'s documents (for reading days and
    writing the catalog; the hub makes no orders)."""
    if store_id not in {s.store_id for s in request.app[STORES].list()}:
        raise Problem(404, "unknown-store", "No such store", f"the hub has no store {store_id}")
    return OrderBook(
        request.app[HUB].replica,
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
        for info in book.replica.store.documents(kind="orders")
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
    return web.json_response({"store": book.store_id, "catalog": await _catalog_contents(book)})


@routes.patch("/stores/{store}/catalog")
async def patch_catalog(request: web.Request) -> web.Response:
    book = _book(request, request.match_info["store"])
    try:
        patch = await request.json()
    except ValueError:
        raise Problem(400, "malformed-json", "The body is not JSON", "send a JSON object") from None
    if not isinstance(patch, dict) or set(patch) - set(CATALOG_ROOTS):
        raise invalid_input(f"send an object with some of {', '.join(CATALOG_ROOTS)}", pointer="")
    new_problems = change_problems(await _catalog_contents(book), patch)
    if new_problems:
        raise invalid_input("; ".join(new_problems), pointer="")
    await book.replica.create(catalog_guid(book.store_id), "catalog")
    catalog = await book.import_catalog(patch)
    log.info("HQ changed the catalog of store %s: %s", book.store_id, sorted(patch))
    return web.json_response({"store": book.store_id, "items": len(catalog.items)})


async def _catalog_contents(book: OrderBook) -> dict:
    guid = catalog_guid(book.store_id)
    if not book.replica.known(guid):  # no node has sent it, and HQ has not written one
        return {}
    doc = await book.replica.open(guid)
    return {root: doc.get(root, type=Map).to_py() or {} for root in CATALOG_ROOTS}


@dataclass(frozen=True, slots=True)
class HubSetup:
    directory: Path
    cert: Path
    key: Path
    hq_token: str

    def path(self, name: str) -> Path:
        return self.directory / name


def prepare_hub(
    directory: Path, *, cert: Path | None, key: Path | None, names: list[str] | None
) -> HubSetup:
    """The hub's directory, with its certificate (made unless given) and HQ token."""
    directory.mkdir(parents=True, exist_ok=True)
    if cert is None or key is None:
        hosts = names or [socket.gethostname(), "localhost", "127.0.0.1"]
        cert, key = ensure_self_signed(directory, hosts)
    return HubSetup(directory, cert, key, ensure_hq_token(directory / "hq.token"))


async def run_hub(setup: HubSetup, *, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT (or cancellation)."""
    cert, key = setup.cert, setup.key
    store = await DocStore.open(setup.path("hub.db"))
    try:
        hub = Hub(Replica(store), HubStores(setup.path("stores.db")))
        hq = web.Application(middlewares=[problem_middleware, hq_auth])
        hq[HUB], hq[STORES], hq[HQ_TOKEN] = hub, hub.stores, setup.hq_token
        hq.add_routes(routes)
        app = web.Application()
        app.add_routes(hub.routes())
        app.add_subapp("/hq/v1", hq)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, ssl_context=server_context(cert, key)).start()
            bound = runner.addresses[0][1]
            log.info("hub on https://%s:%d (certificate %s; HQ token in %s)",
                     host, bound, cert, setup.path("hq.token"))  # fmt: skip
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            checking = asyncio.create_task(hub.run(), name="hub checks")
            try:
                print(json.dumps({"hub": f"https://{host}:{bound}"}), flush=True)
                await stop.wait()
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
                checking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checking
        finally:
            await runner.cleanup()
    finally:
        await store.close()
