"""The node's health for load balancers, systemd and Prometheus: /healthz, /readyz,
/metrics, and the API's own description at /api/v1/openapi.json."""

from __future__ import annotations

from aiohttp import web

from edge.http.api.events import EVENT_HUB
from edge.http.api.openapi.document import openapi_document
from edge.http.api.orders import json_response
from edge.http.context import context
from edge.http.metrics import METRICS
from edge.http.problems import Problem
from edge.runtime.disk import MIN_FREE_BYTES, free_bytes

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process answers: its event loop is not stuck."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The node takes orders: started, not stopping, with room on disk for the order log."""
    ctx = context(request)
    directory = ctx.state_dir
    free = free_bytes(directory)
    if not ctx.ready:
        raise Problem(
            503, "not-ready", "The node is starting or stopping", headers={"Retry-After": "1"}
        )
    if free < MIN_FREE_BYTES:
        raise Problem(
            503,
            "disk-full",
            "The node's disk is nearly full",
            f"{free} bytes free where the order log is kept ({directory})",
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
    request.app[METRICS].observe_printers(
        queue.states(), await queue.jobs.waiting_counts(), ctx.devices.store_drivers()
    )
    if ctx.peers is not None:
        request.app[METRICS].observe_peers([p.to_dict() for p in ctx.peers.peers.values()])
    if ctx.upstream is not None:
        request.app[METRICS].observe_upstream(await ctx.upstream.status())
    return request.app[METRICS].render()


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())
