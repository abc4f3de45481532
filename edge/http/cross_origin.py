"""Cross-origin calls to the API, so that a page loaded from one node can go on with
another when its own goes away: a kitchen screen (edge/http/web/kds.js) moves to the next
node of the store and keeps bumping there, with the token it paired with.

Every `/api/v1/` route authenticates by a bearer token the page holds, never by a cookie
(the manager UI's sessions live under `/ui/`, which stays same-origin), so any origin may
call it: a site that has no token gets nothing from the answer it may now read.
Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered before anything
else looks at the request: they carry no token and change nothing. WebSockets are not
subject to these rules; their token travels in the query string (edge/http/auth.py).
"""

from __future__ import annotations

from aiohttp import web

API = "/api/v1/"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, Employee-Session, Manager-Approval"
EXPOSED_HEADERS = "Location, Retry-After, Preference-Applied"
PREFLIGHT_CACHE = "600"  # seconds a browser may keep a preflight's answer


def _allow(headers) -> None:
    headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


@web.middleware
async def cross_origin_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Answer preflights of API routes, and let pages of other origins read API answers."""
    if not request.path.startswith(API) or "Origin" not in request.headers:
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response = web.Response(status=204)
        _allow(response.headers)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_CACHE
        return response
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, raised past the problem middleware
        _allow(exc.headers)
        raise
    if not response.prepared:  # a WebSocket has sent its headers already
        _allow(response.headers)
    return response
