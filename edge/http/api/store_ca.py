"""`GET /api/v1/pair/ca`: the store CA, proven to whoever holds a live pairing code.

A terminal about to pair cannot check the node's certificate yet: it has no CA. So before it
sends its code, it fetches the CA here over an unchecked connection and checks it with the
code it holds, which never crosses the network for this: each live code has a key made from
it (scrypt, edge/access/pairing_codes.py), and the answer carries, per code, its salt and an
HMAC-SHA256 of the `ca_cert` text under that key. A CA that some machine in the middle put
there has no proof that checks, since it does not know the code. The terminal then pins the
CA and pairs over a connection that trusts it alone (docs/api.md, "Pairing over HTTPS").
"""

from __future__ import annotations

import asyncio
import base64

from aiohttp import web

from edge.access.pairing_codes import PAIR_CONTEXT
from edge.http.api.orders import json_response
from edge.http.context import context
from edge.http.problems import Problem
from sync.membership.codes import SCRYPT

routes = web.RouteTableDef()

# how a terminal makes a code's key: scrypt(code, salt_prefix + salt), as docs/api.md shows
SCRYPT_PARAMETERS = {
    "n": SCRYPT["n"],
    "r": SCRYPT["r"],
    "p": SCRYPT["p"],
    "dklen": 32,
    "salt_prefix": PAIR_CONTEXT.decode("ascii"),
}


@routes.get("/api/v1/pair/ca")
async def store_ca(request: web.Request) -> web.Response:
    ctx = context(request)
    if ctx.https is None:
        raise Problem(
            409,
            "not-a-member",
            "This node has no store CA yet",
            "it is not a member of a store: run posedge init or posedge join on it",
        )
    ca_pem = ctx.https.ca_pem
    proofs = await asyncio.to_thread(ctx.terminals.codes.ca_proofs, ca_pem, now=ctx.now())
    return json_response(
        {
            "ca_cert": ca_pem.decode("ascii"),
            "fingerprint": ctx.https.ca_fingerprint,
            "scrypt": SCRYPT_PARAMETERS,
            "proofs": [
                {"salt": base64.b64encode(salt).decode(), "mac": base64.b64encode(mac).decode()}
                for salt, mac in proofs
            ],
        }
    )
