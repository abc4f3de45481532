"""Bearer-token authentication of terminals, and the rate limit on failed pairing attempts.

Only `/healthz`, `/readyz` and the pairing exchange answer without a token. Browsers cannot
set headers on a WebSocket, so `/api/v1/events` and `/api/v1/sync/…` also take the token as
`access_token` in the query string (the access log never records query strings).
"""

from __future__ import annotations

import time
from collections import deque

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


class PairingThrottle:
    """Limits failed pairing attempts, per client address and in total, over a window.

    With 2^40 possible codes, each alive for minutes, the total limit alone makes guessing
    hopeless; the per-address one keeps one noisy client from locking everyone else out.
    """

    def __init__(
        self,
        *,
        per_address: int = 5,
        total: int = 20,
        window: float = 60.0,
        clock=time.monotonic,
    ) -> None:
        self._per_address = per_address
        self._total = total
        self._window = window
        self._clock = clock
        self._failures: deque[tuple[float, str]] = deque()

    def _expire(self) -> float:
        now = self._clock()
        while self._failures and self._failures[0][0] <= now - self._window:
            self._failures.popleft()
        return now

    def check(self, address: str) -> None:
        """Raise a 429 problem if `address` (or everyone) failed too often lately."""
        now = self._expire()
        mine = [at for at, who in self._failures if who == address]
        if len(mine) >= self._per_address or len(self._failures) >= self._total:
            oldest = mine[0] if len(mine) >= self._per_address else self._failures[0][0]
            wait = max(1, int(oldest + self._window - now) + 1)
            raise Problem(
                429,
                "too-many-attempts",
                "Too many failed pairing attempts",
                f"try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def failed(self, address: str) -> None:
        self._expire()
        self._failures.append((self._clock(), address))
