"""The Terminals & nodes page: paired terminals and kitchen screens, pairing codes, revoking;
join codes for new nodes of the store; the store's nodes and their links.

A code is a secret shown once: the POST that makes it answers with the page showing it
(big, with its expiry), rather than redirecting to a page that could show it again.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from aiohttp import web

from edge.access.join_codes import StoredJoinCodes
from edge.access.pairing_codes import InvalidTerminalName, TerminalError, check_name
from edge.http.context import context
from edge.http.ui.formats import local_time
from edge.http.ui.pages import flash, render, require_user, see_other
from sync.membership.codes import CODE_TTL

routes = web.RouteTableDef()

STAFF = ("manager", "technician")
PAIRING_ROLES = {
    "terminal": "Cashier terminal",
    "manager": "Manager's terminal (may reopen orders, open the drawer without a sale)",
    "kds": "Kitchen screen (sees, bumps and recalls tickets only)",
}
ROLE_NAMES = {"terminal": "cashier", "manager": "manager", "kds": "kitchen screen"}
CODE_MINUTES = 10


def _local(request: web.Request, moment: float | str | None) -> str:
    """A moment in the store's zone, with its date."""
    return local_time(moment, context(request).book.zone, with_date=True) or "never"


def _join_codes(request: web.Request) -> StoredJoinCodes:
    return StoredJoinCodes(context(request).terminals.codes.path)


@routes.get("/ui/terminals", name="ui_terminals")
async def terminals_page(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    ctx = context(request)
    registry = ctx.terminals
    paired = registry.terminals()
    terminals = [
        {
            "id": t.id,
            "name": t.name,
            "role": ROLE_NAMES.get(t.role, t.role),
            "paired": _local(request, t.created_at),
            "last_seen": _local(request, registry.last_seen.get(t.id)),
            "revoked": _local(request, t.revoked_at) if t.revoked_at else None,
        }
        for t in reversed(paired)
    ]
    codes = await asyncio.to_thread(_join_codes(request).expiries)
    peers = [] if ctx.peers is None else [p.to_dict() for p in ctx.peers.peers.values()]
    nodes = [
        {
            "node": p["node"],
            "address": p["address"] or "not found yet",
            "linked": p["connected"],
            "since": _local(request, p["since"]) if p["since"] else "",
            "last_sync": _local(request, p["last_sync"]) if p["last_sync"] else "never",
            "error": p["last_error"],
        }
        for p in sorted(peers, key=lambda p: p["node"])
    ]
    hub = await ctx.upstream.status() if ctx.upstream is not None else None
    return render(
        request,
        "terminals.html",
        title="Terminals & nodes",
        terminals=terminals,
        roles=PAIRING_ROLES,
        join_codes=[
            {
                "code": salt.hex(),  # the code itself is not kept: revoked by its salt
                "shown": f"code {index} (shown once, when made)",
                "until": _local(request, until),
            }
            for index, (salt, until) in enumerate(codes.items(), 1)
        ],
        member=ctx.peers is not None,
        this_node=ctx.book.node.name,
        nodes=nodes,
        hub=hub,
        errors={},
        values={"name": "", "role": "terminal"},
        node=request.host,
    )


@routes.post("/ui/terminals/pairing-code", name="ui_pairing_code")
async def make_pairing_code(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    form = await request.post()
    role = str(form.get("role", "terminal"))
    ctx = context(request)
    try:
        if role not in PAIRING_ROLES:
            raise TerminalError("choose what is being paired")
        name = check_name(str(form.get("name", "")))
        code = await asyncio.to_thread(
            ctx.terminals.codes.create_code,
            name,
            role,
            ttl=dt.timedelta(minutes=CODE_MINUTES),
            now=ctx.now(),
        )
    except (InvalidTerminalName, TerminalError) as exc:
        flash(request, f"No pairing code made: {exc}", "error")
        raise see_other("/ui/terminals") from None
    return render(
        request,
        "code.html",
        title=f"Pairing code for {code.name}",
        code=code.code,
        what=f"{ROLE_NAMES[code.role]} ‘{code.name}’",
        until=_local(request, code.expires_at.isoformat()),
        minutes=CODE_MINUTES,
        kind="kds" if code.role == "kds" else "terminal",
        node=request.host,
    )


@routes.post("/ui/terminals/{terminal_id}/revoke", name="ui_terminal_revoke")
async def revoke_terminal(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    ctx = context(request)
    try:
        revoked = await ctx.terminals.revoke(request.match_info["terminal_id"], now=ctx.now())
    except TerminalError as exc:
        flash(request, f"Nothing revoked: {exc}", "error")
    else:
        names = ", ".join(f"‘{t.name}’" for t in revoked)
        flash(
            request,
            f"Revoked {names}: its token no longer works on any node; pair it again to use it",
        )
    raise see_other("/ui/terminals")


@routes.post("/ui/terminals/join-code", name="ui_join_code")
async def make_join_code(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    if context(request).peers is None:
        flash(request, "This node is not a member of a store yet: run posedge init on it "
              "first", "error")  # fmt: skip
        raise see_other("/ui/terminals")
    code = await asyncio.to_thread(_join_codes(request).create)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=CODE_TTL)
    return render(
        request,
        "code.html",
        title="Join code for a new node",
        code=code,
        what="a new node of this store",
        until=_local(request, until.isoformat()),
        minutes=round(CODE_TTL / 60),
        kind="node",
        node=request.host,
    )


@routes.post("/ui/terminals/join-codes/revoke", name="ui_join_code_revoke")
async def revoke_join_code(request: web.Request) -> web.Response:
    require_user(request, *STAFF)
    try:
        salt = bytes.fromhex(str((await request.post()).get("code", "")))
    except ValueError:
        salt = b""
    if await asyncio.to_thread(_join_codes(request).burn, salt):
        flash(request, "Join code revoked: no node can join with it")
    else:
        flash(request, "That join code had already expired or been used", "error")
    raise see_other("/ui/terminals")
