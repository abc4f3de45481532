"""`/api/v1/devices`, `/api/v1/print-jobs`, receipts and cash drawers over HTTP.

A print request answers 202 with the job once it is durable in the queue; its progress is
`GET /api/v1/print-jobs/{id}`. A keyed request (Idempotency-Key) makes one job however
often it is retried, even if the node lost its record of the first answer.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from edge.http.api.orders import json_response
from edge.http.bodies import json_body, known_query, query_date, query_int
from edge.http.context import actor, context, terminal
from edge.http.idempotency import REQUEST_KEY
from edge.http.problems import invalid_parameter
from edge.orders.validation import require_text
from edge.printing.jobs import STATES, Job

routes = web.RouteTableDef()


def _job_key(request: web.Request, purpose: str) -> str:
    """The queue's key for the job a request makes: from its Idempotency-Key, else fresh."""
    key = request.get(REQUEST_KEY)
    return f"{purpose}:{key}" if key else f"{purpose}:{secrets.token_hex(12)}"


def _job_response(job: Job, created: bool) -> web.Response:
    return json_response(
        {"job": job.to_dict()},
        202 if created else 200,
        {"Location": f"/api/v1/print-jobs/{job.id}"},
    )


def _optional_text(body: dict, name: str) -> str | None:
    return require_text(body.get(name), f"/{name}", optional=True)


@routes.get("/api/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    return json_response({"devices": context(request).devices.describe()})


@routes.get("/api/v1/print-jobs")
async def list_jobs(request: web.Request) -> web.Response:
    known_query(request, ("state", "printer", "order_id", "limit"))
    query = request.query
    devices = context(request).devices
    state = query.get("state")
    if state is not None and state not in STATES:
        raise invalid_parameter(f"state must be one of {', '.join(STATES)}", parameter="state")
    printer = query.get("printer")
    if printer is not None and printer not in devices.queue.workers:
        raise invalid_parameter(
            f"printer must be one of {', '.join(devices.queue.workers) or 'none'}",
            parameter="printer",
        )
    jobs = await devices.queue.jobs.jobs(
        printer=printer,
        state=state,
        order_id=query.get("order_id"),
        limit=query_int(request, "limit", 50, 1, 500),
    )
    return json_response({"jobs": [job.to_dict() for job in jobs]})


def _job_id(request: web.Request) -> int:
    text = request.match_info["job_id"]
    # isdigit alone also takes "²" and other Unicode digits, which int() refuses
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise invalid_parameter("job ids are positive integers", parameter="job_id")
    return int(text)


@routes.get("/api/v1/print-jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    job = await context(request).devices.queue.job(_job_id(request))
    return json_response({"job": job.to_dict()})


@routes.post("/api/v1/print-jobs/{job_id}/reprint")
async def reprint(request: web.Request) -> web.Response:
    body = await json_body(request, optional=("printer",))
    job, created = await context(request).devices.queue.reprint(
        _job_id(request),
        key=_job_key(request, "reprint"),
        requested_by=terminal(request).label,
        printer=_optional_text(body, "printer"),
    )
    return _job_response(job, created)


@routes.post("/api/v1/orders/{order_id}/receipt")
async def print_receipt(request: web.Request) -> web.Response:
    body = await json_body(request, optional=("printer",))
    ctx = context(request)
    printer = _optional_text(body, "printer")
    ctx.devices.receipt_printer(printer)  # an unknown printer is refused before the order
    job, created = await ctx.devices.print_receipt(
        await ctx.book.get(request.match_info["order_id"]),
        key=_job_key(request, "receipt"),
        printer=printer,
        requested_by=terminal(request).label,
    )
    return _job_response(job, created)


@routes.post("/api/v1/drawers/open")
async def open_drawer(request: web.Request) -> web.Response:
    body = await json_body(request, optional=("drawer", "order_id", "reason"))
    entry = await context(request).devices.drawers.open(
        actor(request),
        drawer_id=_optional_text(body, "drawer"),
        order_id=_optional_text(body, "order_id"),
        reason=body.get("reason"),
        request_key=request.get(REQUEST_KEY),
    )
    return json_response({"drawer_open": entry}, 201)


@routes.get("/api/v1/drawer-opens")
async def drawer_opens(request: web.Request) -> web.Response:
    known_query(request, ("date",))
    ctx = context(request)
    day = query_date(request, ctx.book.business_date())
    opens = await ctx.devices.drawers.opens(day)
    return json_response({"business_date": day.isoformat(), "drawer_opens": opens})
