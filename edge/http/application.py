"""The node's HTTP application: middlewares in order, every route table of the API, and the
manager UI, over parts the composition root (edge/app.py) built."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from edge.http.api import (
    cash,
    catalog,
    events,
    health,
    kds,
    orders,
    refunds,
    store_ca,
    sync,
    terminals,
)
from edge.http.api import devices as device_routes
from edge.http.api import employees as employee_routes
from edge.http.api import peers as peer_routes
from edge.http.api import staff as staff_routes
from edge.http.auth import auth_middleware
from edge.http.bodies import MAX_BODY
from edge.http.context import CONTEXT, ApiContext
from edge.http.cross_origin import cross_origin_middleware
from edge.http.idempotency import IDEMPOTENCY, IdempotencyStore, idempotency_middleware
from edge.http.lan_guard import LAN_POLICY, LanPolicy, lan_middleware
from edge.http.metrics import METRICS, ApiMetrics, metrics_middleware
from edge.http.problems import problem_middleware
from edge.http.staff_auth import PIN_GUARD, PinGuard, staff_middleware
from edge.http.ui.app import install_ui
from edge.http.ui.guard import ui_middleware
from edge.http.websocket import STOPPING
from edge.kitchen.board import KdsBoard
from edge.runtime.logs import LogLimiter
from sync.links.awareness import AwarenessRelay
from sync.membership.throttle import AttemptThrottle

log = logging.getLogger(__name__)

ROUTE_TABLES = (
    health.routes,
    orders.routes,
    refunds.routes,
    cash.routes,
    catalog.routes,
    terminals.routes,
    staff_routes.routes,
    employee_routes.routes,
    store_ca.routes,
    events.routes,
    peer_routes.routes,
    device_routes.routes,
    sync.routes,
    kds.routes,
)


def make_app(
    ctx: ApiContext,
    *,
    idempotency: IdempotencyStore,
    events_hub: events.EventHub,
    board: KdsBoard,
    metrics: ApiMetrics,
    join_routes: web.RouteTableDef,
    lan: LanPolicy,
) -> web.Application:
    """The aiohttp application serving the API and the manager UI over `ctx` and the
    app-wide parts (the composition root, edge/app.py, builds them)."""
    app = web.Application(
        middlewares=[
            metrics_middleware,
            cross_origin_middleware,  # a page of another node's origin: preflights first
            problem_middleware,
            lan_middleware,  # plain HTTP from the LAN: kitchen screens at most
            auth_middleware,
            staff_middleware,  # the employee signed in, a manager's approval
            ui_middleware,  # sessions and CSRF of the manager UI, under /ui/ only
            idempotency_middleware,
        ],
        client_max_size=MAX_BODY,
    )
    app[CONTEXT] = ctx
    app[LAN_POLICY] = lan
    app[IDEMPOTENCY] = idempotency
    app[events.EVENT_HUB] = events_hub
    app[kds.KDS_BOARD] = board
    app[METRICS] = metrics
    app[sync.AWARENESS] = AwarenessRelay()
    app[terminals.PAIRING_THROTTLE] = AttemptThrottle()
    app[terminals.PAIRING_REFUSALS] = LogLimiter(terminals.log)
    app[PIN_GUARD] = PinGuard(ctx.staff)
    app[STOPPING] = asyncio.Event()
    app.add_routes(join_routes)
    for table in ROUTE_TABLES:
        app.add_routes(table)
    install_ui(app, ctx.users)
    app.on_shutdown.append(_say_goodbye)
    return app


async def _say_goodbye(app: web.Application) -> None:
    """Close the event, sync and KDS sockets: the node is stopping (terminals and screens
    reconnect to it or a peer)."""
    app[CONTEXT].ready = False
    app[events.EVENT_HUB].close_all()
    app[STOPPING].set()
