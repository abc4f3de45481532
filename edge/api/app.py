"""The API application: routes, middlewares in order, and the server's start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from sync.join import join_routes
from sync.throttle import AttemptThrottle

from ..config import KdsSettings
from ..devices import Devices
from ..join_codes import StoredJoinCodes
from ..kds import KdsBoard
from ..order_feed import OrderFeed
from ..order_index import OrderIndex
from ..orderbook import OrderBook
from ..peers import PeerManager
from ..terminals import TerminalRegistry
from ..ui.app import install_ui
from ..ui.guard import ui_middleware
from ..upstream import UpstreamLink
from . import devices as device_routes
from . import events, kds, orders, sync, terminals
from . import peers as peer_routes
from .auth import auth_middleware
from .bodies import MAX_BODY
from .context import CONTEXT, ApiContext, context
from .events import EVENT_HUB, EventHub
from .idempotency import IDEMPOTENCY, IdempotencyStore, idempotency_middleware
from .metrics import METRICS, ApiMetrics, metrics_middleware
from .openapi import openapi_document
from .orders import json_response
from .problems import Problem, problem_middleware

log = logging.getLogger(__name__)

DEFAULT_KDS = KdsSettings()
MIN_FREE_BYTES = 64 * 1024 * 1024  # below this, /readyz reports the node cannot take orders

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process answers: its event loop is not stuck."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The node takes orders: started, not stopping, with room on disk for the order log."""
    ctx = context(request)
    store_path = ctx.book.replica.store.path
    free = shutil.disk_usage(store_path.parent).free
    if not ctx.ready:
        raise Problem(
            503, "not-ready", "The node is starting or stopping", headers={"Retry-After": "1"}
        )
    if free < MIN_FREE_BYTES:
        raise Problem(
            503,
            "disk-full",
            "The node's disk is nearly full",
            f"{free} bytes free where the order log is kept ({store_path.parent})",
            headers={"Retry-After": "30"},
        )
    return json_response(
        {
            "status": "ready",
            "business_date": ctx.book.business_date().isoformat(),
            "disk_free_bytes": free,
        }
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    ctx = context(request)
    await ctx.index.day(ctx.book.business_date())  # so the open-orders gauge can count
    request.app[METRICS].event_listeners.set(len(request.app[EVENT_HUB].listeners))
    queue = ctx.devices.queue
    request.app[METRICS].observe_printers(queue.states(), await queue.jobs.waiting_counts())
    if ctx.peers is not None:
        request.app[METRICS].observe_peers([p.to_dict() for p in ctx.peers.peers.values()])
    if ctx.upstream is not None:
        request.app[METRICS].observe_upstream(await ctx.upstream.status())
    return request.app[METRICS].render()


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def make_app(
    ctx: ApiContext, idempotency: IdempotencyStore, kds_settings: KdsSettings = DEFAULT_KDS
) -> web.Application:
    """The aiohttp application serving the API over `ctx`."""
    app = web.Application(
        middlewares=[
            metrics_middleware,
            problem_middleware,
            auth_middleware,
            ui_middleware,  # sessions and CSRF of the manager UI, under /ui/ only
            idempotency_middleware,
        ],
        client_max_size=MAX_BODY,
    )
    app[CONTEXT] = ctx
    app[IDEMPOTENCY] = idempotency
    app[EVENT_HUB] = EventHub(ctx.book, ctx.feed)
    app[kds.KDS_BOARD] = KdsBoard(ctx.book, ctx.feed, settings=kds_settings, now=ctx.now)
    app[METRICS] = ApiMetrics(
        ctx.book.replica.store, lambda: ctx.index.open_count(ctx.book.business_date())
    )
    app[terminals.PAIRING_THROTTLE] = AttemptThrottle()
    app[sync.STOPPING] = asyncio.Event()
    app.add_routes(
        join_routes(
            StoredJoinCodes(ctx.terminals.path),
            lambda: ctx.peers.creds if ctx.peers is not None else None,
            _joined,
        )
    )
    for table in (
        routes,
        orders.routes,
        terminals.routes,
        events.routes,
        peer_routes.routes,
        device_routes.routes,
        sync.routes,
        kds.routes,
    ):
        app.add_routes(table)
    install_ui(app, ctx.terminals.path)
    app.on_shutdown.append(_say_goodbye)
    return app


def _joined(node_id: str, node_cert_pem: bytes) -> None:
    log.info("node %s joined the store; it links with this node once it runs", node_id)


async def _say_goodbye(app: web.Application) -> None:
    """Close the event, sync and KDS sockets: the node is stopping (terminals and screens
    reconnect to it or a peer)."""
    app[CONTEXT].ready = False
    app[EVENT_HUB].close_all()
    app[sync.STOPPING].set()


async def open_api(
    resources: contextlib.AsyncExitStack,
    book: OrderBook,
    *,
    feed: OrderFeed,
    devices: Devices,
    node_db: Path,
    peers: PeerManager | None = None,
    upstream: UpstreamLink | None = None,
    requests_db: Path,
    host: str,
    port: int,
    shutdown_timeout: float,
    now: Callable[[], dt.datetime],
    kds_settings: KdsSettings = DEFAULT_KDS,
) -> tuple[ApiServer, ApiContext]:
    """Assemble the API over a started order book, its feed and the node's devices (whose
    tasks the caller runs); `resources` closes what it opens, in
    reverse order (the server first, so in-flight requests finish before the files close).

    The caller starts the server and sets `context.ready`.
    """
    index = OrderIndex(book, feed)
    terminals = TerminalRegistry(node_db)
    resources.callback(terminals.close)
    idempotency = await IdempotencyStore.open(requests_db)
    resources.push_async_callback(idempotency.close)
    context = ApiContext(
        book, feed, index, terminals, devices, now=now, peers=peers, upstream=upstream
    )
    server = ApiServer(make_app(context, idempotency, kds_settings), host, port, shutdown_timeout)
    resources.push_async_callback(server.stop)
    return server, context


class ApiServer:
    """The API listening on one address; `stop` lets in-flight requests finish first."""

    def __init__(self, app: web.Application, host: str, port: int, shutdown_timeout: float) -> None:
        self.app = app
        self._host = host
        self._port = port
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        log.info("API listening on http://%s:%d", self._host, self.port)

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose, when asked for 0)."""
        addresses = self._runner.addresses
        return addresses[0][1] if addresses else self._port

    async def stop(self) -> None:
        """Stop accepting, close event sockets, wait for in-flight requests (safe twice)."""
        await self._runner.cleanup()
