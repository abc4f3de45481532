"""Signing in and out of the manager UI, with failed attempts rate-limited per client
address and per user name."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from edge.access.users import SESSION_LIFETIME
from edge.http.context import context
from edge.http.ui.guard import PRE_SESSION_COOKIE, SESSION_COOKIE, set_cookie
from edge.http.ui.pages import UI, render, see_other, session_of

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


def _next_page(value: object) -> str:
    """Where to go after signing in: a UI page, never another site."""
    if isinstance(value, str) and value.startswith("/ui/") and "//" not in value:
        return value
    return "/ui/"


@routes.get("/", name="root")
async def root(request: web.Request) -> web.Response:
    """Whoever opens the node's address in a browser gets the manager UI."""
    raise see_other("/ui/")


@routes.get("/ui", name="ui_bare")
async def bare(request: web.Request) -> web.Response:
    raise see_other("/ui/")


@routes.get("/ui/signin", name="ui_signin")
async def sign_in_page(request: web.Request) -> web.Response:
    if session_of(request) is not None:
        raise see_other(_next_page(request.query.get("next")))
    return render(
        request,
        "signin.html",
        next=_next_page(request.query.get("next")),
        name="",
        error=None,
        signed_out="signed_out" in request.query,
    )


@routes.post("/ui/signin")
async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    next_page = _next_page(form.get("next"))
    state = request.app[UI]
    address = request.remote or "unknown"
    folded = name.casefold()  # the name throttle counts per user, however it is written
    wait = state.address_throttle.retry_after(address) or state.name_throttle.retry_after(folded)
    if wait is not None:
        state.refusals.warning(
            f"held {address}", "sign-in as %r from %s held back: too many failed (for %d s)",
            name[:64], address, wait,
        )  # fmt: skip
        return _refused(
            request, name, next_page, 429, f"Too many failed sign-ins. Try again in {wait} s."
        )
    # Counted as failed before the slow check (scrypt, in a thread), so that a burst of
    # concurrent attempts cannot all pass the check above; forgiven if the password is right.
    state.address_throttle.failed(address)
    state.name_throttle.failed(folded)
    user = await asyncio.to_thread(state.users.verify, name, password)
    if user is None:
        state.refusals.warning(
            f"wrong {address}", "sign-in as %r from %s refused: wrong name or password",
            name[:64], address,
        )  # fmt: skip
        return _refused(request, name, next_page, 401, "Wrong name or password.")
    state.address_throttle.forgive(address)
    state.name_throttle.forgive(folded)
    token = state.users.start_session(user, now=context(request).now())
    response = see_other(next_page)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    response.del_cookie(PRE_SESSION_COOKIE, path="/")
    raise response


def _refused(
    request: web.Request, name: str, next_page: str, status: int, error: str
) -> web.Response:
    return render(
        request,
        "signin.html",
        status=status,
        next=next_page,
        name=name,
        error=error,
        signed_out=False,
    )


@routes.post("/ui/signout")
async def sign_out(request: web.Request) -> web.Response:
    session = session_of(request)
    if session is not None:
        request.app[UI].users.end_session(session)
    response = see_other("/ui/signin?signed_out=1")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
