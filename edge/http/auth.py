"""Bearer-token authentication of terminals, and what a kitchen screen's token may do.

Only `/healthz`, `/readyz`, the pairing exchange and the store CA it starts from, the KDS
page (`/kds/…`, which pairs itself) and the manager UI (`/ui/…`, which signs its users in)
answer without a token.
Browsers cannot set headers on a WebSocket, so `/api/v1/events`, `/api/v1/sync/…` and
`/api/v1/kds/…` also take the token as `access_token` in the query string (the access log
never records query strings). A token paired with the role `kds` reaches only KDS_ROUTES:
it shows tickets, bumps and recalls them, lists its station's items and marks them (and
their modifiers) unavailable ("86") and available again, and cannot ring up, pay, read
orders or the catalog's prices. Over plain
HTTP on the LAN (edge/http/lan_guard.py) only such a token is taken.
"""

from __future__ import annotations

from aiohttp import web

from edge.http.context import TERMINAL, context
from edge.http.lan_guard import PLAIN_LAN, plain_lan_refusal
from edge.http.problems import Problem

OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/api/v1/pair", "/api/v1/pair/ca", "/join", "/", "/ui"}
)
# the KDS page and its scripts: nothing secret, and it pairs itself; the manager UI, which
# signs its users in itself (edge/http/ui/guard.py) and takes no terminal token
OPEN_PREFIXES = ("/kds/", "/ui/")
QUERY_TOKEN_PATHS = frozenset({"/api/v1/events"})
# a terminal's document replicas (y-websocket), and the KDS screens' live tickets
QUERY_TOKEN_PREFIXES = ("/api/v1/sync/", "/api/v1/kds/")
KDS_ROUTES = frozenset(
    {
        ("GET", "/api/v1/kds/{station}"),
        ("POST", "/api/v1/orders/{order_id}/bump"),
        ("POST", "/api/v1/orders/{order_id}/recall"),
        ("GET", "/api/v1/terminals/me"),
        # the 86 panel: the station's items, and marking them (or a modifier) unavailable
        ("GET", "/api/v1/catalog/stations/{station}"),
        ("PUT", "/api/v1/catalog/items/{sku}/availability"),
        ("DELETE", "/api/v1/catalog/items/{sku}/availability"),
        ("PUT", "/api/v1/catalog/modifiers/{code}/availability"),
        ("DELETE", "/api/v1/catalog/modifiers/{code}/availability"),
    }
)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.path in QUERY_TOKEN_PATHS or request.path.startswith(QUERY_TOKEN_PREFIXES):
        return request.query.get("access_token")
    return None


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "A valid terminal token is required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="posedge"'},
    )


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Let a request through only with the token of a paired, unrevoked terminal, and a
    kitchen screen's only to what it may do."""
    if (
        request.path in OPEN_PATHS
        or request.path.startswith(OPEN_PREFIXES)
        or request.match_info.http_exception is not None
    ):
        return await handler(request)  # open, or a 404/405 that reveals nothing
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("send Authorization: Bearer <token>; pair the terminal to get one")
    terminal = context(request).terminals.authenticate(token)
    if terminal is None:
        raise _unauthorized("the token is unknown or was revoked; pair the terminal again")
    if request.get(PLAIN_LAN) and terminal.role != "kds":
        raise plain_lan_refusal(f"the token of {terminal.role} {terminal.name!r}")
    route = (request.method, request.match_info.route.resource.canonical)
    if terminal.role == "kds" and route not in KDS_ROUTES:
        raise Problem(
            403,
            "role-not-allowed",
            "This terminal's role may not do this",
            f"{terminal.name!r} is a kitchen screen: it may only show, bump and recall tickets, "
            "and mark its station's items unavailable",
        )
    request[TERMINAL] = terminal
    return await handler(request)
