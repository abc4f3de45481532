"""`/api/v1/peers`: the store's other nodes as this node knows them (its links with them, and
every node's API addresses from the store document), and removing one;
`/api/v1/upstream`: the link with the hub and what it has not acknowledged yet."""

from __future__ import annotations

from aiohttp import web

from edge.http.api.orders import json_response
from edge.http.bodies import json_body
from edge.http.context import ApiContext, context, require_manager, terminal
from edge.http.problems import Problem
from edge.orders.validation import require_text
from edge.replication.peers import PeerManager

routes = web.RouteTableDef()


def _manager(request: web.Request) -> PeerManager:
    manager = context(request).peers
    if manager is None:
        raise Problem(
            409,
            "not-a-member",
            "This node is not a member of a store",
            "run posedge init on the store's first node, posedge join on the others",
        )
    return manager


def store_nodes(ctx: ApiContext) -> list[dict]:
    """Every node of the store but those removed from it, with its API's addresses."""
    if ctx.directory is None:
        return []
    removed = {} if ctx.peers is None else ctx.peers.removed()
    return [n for n in ctx.directory.nodes() if n["node"] not in removed]


@routes.get("/api/v1/peers")
async def list_peers(request: web.Request) -> web.Response:
    ctx = context(request)
    manager = ctx.peers
    found = [] if manager is None else [p.to_dict() for p in manager.peers.values()]
    removed = {} if manager is None else manager.removed()
    return json_response(
        {
            "member": manager is not None,
            "node": ctx.book.node.name,
            "peers": found,
            "removed": sorted(removed),
            "nodes": store_nodes(ctx),
        }
    )


@routes.get("/api/v1/upstream")
async def upstream_status(request: web.Request) -> web.Response:
    upstream = context(request).upstream
    return json_response({"enabled": False} if upstream is None else await upstream.status())


@routes.post("/api/v1/peers/{node_id}/remove")
async def remove_peer(request: web.Request) -> web.Response:
    """Remove a node from the store (managers only): every node ends its link with it."""
    require_manager(request)
    body = await json_body(request, required=("reason",))
    reason = require_text(body["reason"], "/reason")
    removed = await _manager(request).remove(
        request.match_info["node_id"], by=terminal(request).label, reason=reason
    )
    return json_response({"removed": removed})
