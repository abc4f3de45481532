"""`posedge hub`: the chain's hub — the stores' sync endpoint (sync/hub/endpoint.py) and HQ's API.

Everything lives in the hub's directory: `hub.db` (every store's documents, the same store
as a node's), `stores.db` (the stores and their tokens), `hub.pem`/`hub.key` (its TLS
certificate, made on first start unless `--cert`/`--key` are given) and `hq.token` (the
bearer token of HQ's API, made on first start, readable by root only).

HQ's API, under /hq/v1 with `Authorization: Bearer <hq.token>`:
- `GET /hq/v1/stores`: every store, its last contact and the nodes linked now;
- `GET /hq/v1/stores/{store}/days`: the business days the hub holds for it;
- `GET /hq/v1/stores/{store}/orders?date=YYYY-MM-DD[&format=csv]`: that day's orders, as
  the nodes' API shows them (JSON) or one row per order (CSV);
- `GET /hq/v1/stores/{store}/catalog` and `PATCH` it: entries in the shape of
  `posedge catalog --import` (items, taxes, stations, categories, modifier_groups,
  settings), each replacing the entry of the same key; refused when it would break the
  catalog's rules (catalog.change_problems). A change flows down to the store's nodes as
  they link.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from edge.http.server import HttpServer
from edge.hub.hq import hq_application
from edge.orders.documents import HubDocuments
from edge.runtime.lifecycle import Stopping, run_until_stopped
from sync.hub.endpoint import Hub
from sync.hub.tls import ensure_self_signed, server_context
from sync.hub.tokens import HubStores
from sync.replica import Replica
from sync.store import DocStore

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0  # seconds each closing step may take before it is abandoned


def ensure_hq_token(path: Path) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("hq_" + secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


@dataclass(frozen=True, slots=True)
class HubSetup:
    directory: Path
    cert: Path
    key: Path
    hq_token: str

    def path(self, name: str) -> Path:
        return self.directory / name


def prepare_hub(
    directory: Path, *, cert: Path | None, key: Path | None, names: list[str] | None
) -> HubSetup:
    """The hub's directory, with its certificate (made unless given) and HQ token."""
    directory.mkdir(parents=True, exist_ok=True)
    if cert is None or key is None:
        hosts = names or [socket.gethostname(), "localhost", "127.0.0.1"]
        cert, key = ensure_self_signed(directory, hosts)
    return HubSetup(directory, cert, key, ensure_hq_token(directory / "hq.token"))


async def run_hub(
    setup: HubSetup, *, host: str, port: int, shutdown_timeout: float = SHUTDOWN_TIMEOUT
) -> None:
    """Serve until SIGTERM or SIGINT, then stop as a node does: stop accepting, end the
    nodes' links, let in-flight requests finish and close the store, each within
    `shutdown_timeout` seconds (a second signal skips the wait)."""
    stopping = Stopping()
    with stopping.on_signals():
        store = await DocStore.open(setup.path("hub.db"))
        try:
            hub = Hub(Replica(store), HubStores(setup.path("stores.db")), HubDocuments())
            app = web.Application()
            app.add_routes(hub.routes())
            app.add_subapp("/hq/v1", hq_application(hub, setup.hq_token))
            server = HttpServer(
                app,
                host,
                port,
                shutdown_timeout=shutdown_timeout,
                ssl_context=server_context(setup.cert, setup.key),
                name="hub",
            )
            await server.start()
            try:
                log.info("hub on https://%s:%d (certificate %s; HQ token in %s)",
                         host, server.port, setup.cert, setup.path("hq.token"))  # fmt: skip
                print(json.dumps({"hub": f"https://{host}:{server.port}"}), flush=True)
                await run_until_stopped({"hub checks": hub.run()}, stopping.stop)
            finally:
                hub.stopping.set()  # the nodes' links end; they redial another hub process
                await stopping.finish(server.stop(), within=shutdown_timeout, what="the hub")
        finally:
            await stopping.finish(store.close(), within=shutdown_timeout, what="the store")
