"""The store CA's page: its fingerprint, the file, and how to make a device trust it, so
that a manager's browser reaches every node of the store over HTTPS without a warning.

Public, and served over plain HTTP as well (edge/http/lan_guard.py): a certificate is no
secret, and a browser that does not trust the CA yet has no other way to it. Whoever gets it
over a network they do not trust compares the fingerprint with the one another node's page,
or `posedge doctor` on the node, shows.
"""

from __future__ import annotations

from aiohttp import web

from edge.http.context import context
from edge.http.tls import shown_fingerprint
from edge.http.ui.pages import render

routes = web.RouteTableDef()


@routes.get("/ui/store-ca", name="ui_store_ca")
async def store_ca_page(request: web.Request) -> web.Response:
    ctx = context(request)
    https = ctx.https
    return render(
        request,
        "store_ca.html",
        member=https is not None,
        fingerprint=shown_fingerprint(https.ca_fingerprint) if https else "",
        store=ctx.book.store_id,
        host=request.host,
    )


@routes.get("/ui/store-ca.pem", name="ui_store_ca_file")
async def store_ca_file(request: web.Request) -> web.Response:
    ctx = context(request)
    if ctx.https is None:
        raise web.HTTPNotFound(text="this node is not a member of a store: it has no store CA")
    return web.Response(
        body=ctx.https.ca_pem,
        content_type="application/x-x509-ca-cert",  # what phones offer to install
        headers={
            "Content-Disposition": f'attachment; filename="posedge-{ctx.book.store_id}-ca.pem"'
        },
    )
