"""Bearer-token authentication of terminals, and the rate limit on failed pairing attempts.

Only `/healthz`, `/readyz` and the pairing exchange answer without a token. Browsers cannot
set headers on a WebSocket, so `/api/v1/events` and `/api/v1/sync/…` also take the token as
`access_token` in the query string (the access log never records query strings).
"""

from __future__ import annotations

from aiohttp import web

from .context import TERMINAL, context
from .problems import Problem

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/api/v1/pair", "/join"})
QUERY_TOKEN_PATHS = frozenset({"/api/v1/events"})
QUERY_TOKEN_PREFIX = "/api/v1/sync/"  # a terminal's document replicas (y-websocket)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.path in QUERY_TOKEN_PATHS or request.path.startswith(QUERY_TOKEN_PREFIX):
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
    """Let a request through only with the token of a paired, unrevoked terminal."""
    if request.path in OPEN_PATHS or request.match_info.http_exception is not None:
        return await handler(request)  # open, or a 404/405 that reveals nothing
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("send Authorization: Bearer <token>; pair the terminal to get one")
    terminal = context(request).terminals.authenticate(token)
    if terminal is None:
        raise _unauthorized("the token is unknown or was revoked; pair the terminal again")
    request[TERMINAL] = terminal
    return await handler(request)
