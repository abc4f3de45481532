"""What the API serves over plain HTTP: everything to this machine itself (loopback), and on
the LAN nothing but the kitchen screens, and those only where `http.plain_kds` allows it
(a screen whose browser cannot be given the store CA). Everything else that leaves the node
goes over HTTPS (edge/http/tls.py): sign-in, the manager UI, terminals' tokens.

A plain request on the LAN for anything else is answered with where to go instead: a
browser's GET of a page is redirected to the same URL over HTTPS, and the rest gets a 403
problem saying so. The store CA's page (`/ui/store-ca`) is served plain as well: it is
public, and it is how a browser or terminal that does not trust the CA yet gets it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from aiohttp import web

from edge.http.context import context
from edge.http.problems import Problem

PLAIN_LAN = web.RequestKey("plain_lan", bool)  # set on plain requests from the LAN
HEALTH = frozenset({"/healthz", "/readyz"})
STORE_CA_PAGES = frozenset({"/ui/store-ca", "/ui/store-ca.pem", "/api/v1/pair/ca"})
# what a kitchen screen's page does: load itself, pair, watch its station, bump and recall,
# list its station's items and mark them (or a modifier) unavailable and available again
KDS_PATHS = re.compile(
    r"/kds/.+|/api/v1/kds/[^/]+|/api/v1/pair|/api/v1/terminals/me|/api/v1/catalog/stations/[^/]+"
)
KDS_ACTIONS = {
    "POST": re.compile(r"/api/v1/orders/[^/]+/(bump|recall)"),
    "PUT": re.compile(r"/api/v1/catalog/(items|modifiers)/[^/]+/availability"),
    "DELETE": re.compile(r"/api/v1/catalog/(items|modifiers)/[^/]+/availability"),
}


@dataclass(frozen=True, slots=True)
class LanPolicy:
    """Whether the kitchen screens may also be reached over plain HTTP on the LAN."""

    plain_kds: bool = False


LAN_POLICY = web.AppKey("lan_policy", LanPolicy)


def on_private_channel(request: web.Request) -> bool:
    """Whether the request came over TLS or from this machine itself."""
    if request.secure:
        return True
    local = request.transport.get_extra_info("sockname") if request.transport else None
    return local is not None and ipaddress.ip_address(local[0]).is_loopback


def _kds_request(request: web.Request) -> bool:
    if KDS_PATHS.fullmatch(request.path):
        return True
    action = KDS_ACTIONS.get(request.method)
    return action is not None and action.fullmatch(request.path) is not None


@web.middleware
async def lan_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Let plain HTTP from the LAN through only as the module's docstring says."""
    if on_private_channel(request) or request.path in HEALTH | STORE_CA_PAGES:
        return await handler(request)
    if context(request).https is None:  # not a member of a store: it has no CA
        raise Problem(
            409,
            "not-a-member",
            "This node takes requests from the LAN once it is a member of a store",
            "its API is served over HTTPS under the store's CA: run `posedge init` on the "
            "store's first node or `posedge join` on this one; until then only this machine "
            "(127.0.0.1) reaches it",
        )
    if request.app[LAN_POLICY].plain_kds and _kds_request(request):
        request[PLAIN_LAN] = True
        return await handler(request)
    https = f"https://{request.host}{request.path_qs}"
    page = request.path == "/" or request.path.startswith(("/ui", "/kds/"))
    if request.method == "GET" and page:
        raise web.HTTPPermanentRedirect(https)
    raise Problem(
        403,
        "https-required",
        "This node takes this request over HTTPS only",
        f"use {https}; a terminal trusts the store CA it gets when pairing (docs/api.md)",
    )


def plain_lan_refusal(what: str) -> Problem:
    """The problem for a token or pairing code that must not cross the LAN in clear."""
    return Problem(
        403,
        "https-required",
        "This node takes this over HTTPS only",
        f"{what} may not be used over plain HTTP on the LAN; only a kitchen screen's may",
    )
