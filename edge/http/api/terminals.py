"""`/api/v1/pair` and `/api/v1/terminals`: pairing exchange and terminal management."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from aiohttp import web

from edge.access.pairing_codes import ROLES, InvalidTerminalName, PairingRefused, check_name
from edge.http.api.orders import json_response
from edge.http.bodies import json_body
from edge.http.context import context, require_manager, terminal
from edge.http.lan_guard import PLAIN_LAN
from edge.http.problems import Problem, invalid_input
from edge.orders.validation import require_int
from edge.runtime.logs import LogLimiter
from sync.membership.throttle import AttemptThrottle

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

PAIRING_THROTTLE = web.AppKey("pairing_throttle", AttemptThrottle)
PAIRING_REFUSALS = web.AppKey("pairing_refusals", LogLimiter)  # a line per address a minute
DEFAULT_CODE_MINUTES = 10
MAX_CODE_MINUTES = 60


@routes.post("/api/v1/pair")
async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for this terminal's bearer token."""
    throttle = request.app[PAIRING_THROTTLE]
    address = request.remote or "unknown"
    refusals = request.app[PAIRING_REFUSALS]
    wait = throttle.admit(address)  # counted now: the check below waits on a thread
    if wait is not None:
        refusals.warning(
            f"held {address}", "pairing from %s held back: too many failed (for %d s)",
            address, wait,
        )  # fmt: skip
        raise Problem(
            429,
            "too-many-attempts",
            "Too many failed pairing attempts",
            f"try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    body = await json_body(request, required=("code",))
    code = body["code"]
    ctx = context(request)
    if not isinstance(code, str):
        raise PairingRefused("the pairing code must be a string such as K7M2-9XQF")
    roles = ("kds",) if request.get(PLAIN_LAN) else ROLES  # no other token crosses in clear
    try:
        who, token = await ctx.terminals.redeem(code, now=ctx.now(), roles=roles)
    except PairingRefused as exc:
        refusals.warning(f"refused {address}", "pairing from %s refused: %s", address, exc)
        raise
    throttle.forgive(address)
    answer = {"token": token, "terminal": who.to_dict()}
    if ctx.https is not None:  # the CA to trust from now on (check it: docs/api.md)
        answer["ca_cert"] = ctx.https.ca_pem.decode("ascii")
    return json_response(answer, 201)


@routes.get("/api/v1/terminals/me")
async def me(request: web.Request) -> web.Response:
    return json_response({"terminal": terminal(request).to_dict()})


@routes.get("/api/v1/terminals")
async def list_terminals(request: web.Request) -> web.Response:
    require_manager(request)
    found = context(request).terminals.terminals()
    return json_response({"terminals": [t.to_dict() for t in found]})


@routes.post("/api/v1/terminals/pairing-codes")
async def create_pairing_code(request: web.Request) -> web.Response:
    """A one-time pairing code (managers only). Its answer is the one place the code shows,
    so it takes no Idempotency-Key (edge/http/idempotency.py SECRET_ANSWERS)."""
    require_manager(request)
    body = await json_body(request, required=("name",), optional=("role", "minutes"))
    minutes = require_int(
        body.get("minutes", DEFAULT_CODE_MINUTES), "/minutes", 1, MAX_CODE_MINUTES
    )
    try:
        name = check_name(body["name"])
    except InvalidTerminalName as exc:
        raise invalid_input(str(exc), pointer="/name") from None
    role = body.get("role", "terminal")
    if role not in ROLES:
        raise invalid_input(f"role must be one of {', '.join(ROLES)}", pointer="/role")
    ctx = context(request)
    code = await asyncio.to_thread(
        ctx.terminals.codes.create_code,
        name,
        role,
        ttl=dt.timedelta(minutes=minutes),
        now=ctx.now(),
    )
    return json_response(
        {
            "code": code.code,
            "name": code.name,
            "role": code.role,
            "expires_at": code.expires_at.isoformat(timespec="seconds"),
        },
        201,
    )


@routes.delete("/api/v1/terminals/{terminal_id}")
async def revoke(request: web.Request) -> web.Response:
    require_manager(request)
    ctx = context(request)
    revoked = await ctx.terminals.revoke(request.match_info["terminal_id"], now=ctx.now())
    return json_response({"revoked": [t.to_dict() for t in revoked]})
