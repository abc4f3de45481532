"""The hub: where every store's documents meet, for HQ's reports and catalog.

Nodes connect out to `GET /sync/store` over TLS with their store's token (hub_stores.py)
and the node's id in `X-Posedge-Node`, and speak the peers' protocol (peer_session.py):
the link carries that store's documents and nothing else (another store's guid ends it).
The hub offers each node its store's catalog, so a change made at the hub reaches every
node that links; it takes whatever days the nodes send, each change once (a node's step 1s
take turns with the other nodes' across the hub, and nodes push only what they made).
Every CHECK_EVERY seconds the hub ends the links whose token was revoked, records which
stores were in contact, and drops from memory the documents no link or HQ request has used
for UNLOAD_AFTER seconds (they load again from its store when used), so its memory follows
the stores syncing now, not every store it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import web

from .hub_stores import HubStores
from .peer_link import run_session
from .peer_session import PeerSession
from .protocol import MAX_FRAME_BYTES
from .replica import Replica
from .request_turns import RequestTurns
from .store_documents import catalog_guid, store_documents
from .trust import TrustError, check_node_id

log = logging.getLogger(__name__)

PATH = "/sync/store"
NODE_HEADER = "X-Posedge-Node"
CHECK_EVERY = 2.0  # seconds between checks for revoked tokens
UNLOAD_AFTER = 60.0  # seconds a document stays in memory unused


class Hub:
    """The hub's sync endpoint over `replica`; `run` owns its background check."""

    def __init__(
        self, replica: Replica, stores: HubStores, *, unload_after: float = UNLOAD_AFTER
    ) -> None:
        self.replica = replica
        self.unload_after = unload_after
        self.stores = stores
        self._links: dict[PeerSession, tuple[str, str]] = {}  # session -> (store, token)
        self._turns = RequestTurns()
        self.stopping = asyncio.Event()

    def connected(self) -> dict[str, list[str]]:
        """Store id -> the nodes linked now."""
        linked: dict[str, list[str]] = {}
        for session, (store_id, _) in self._links.items():
            linked.setdefault(store_id, []).append(session.link.split("/", 1)[1])
        return linked

    def routes(self) -> web.RouteTableDef:
        routes = web.RouteTableDef()

        @routes.get(PATH)
        async def store_link(request: web.Request) -> web.WebSocketResponse:
            store_id, token = await self._authenticate(request)
            try:
                node_id = check_node_id(request.headers.get(NODE_HEADER, ""))
            except TrustError as exc:
                raise web.HTTPBadRequest(text=f"{NODE_HEADER}: {exc}") from None
            session = self._session(store_id, node_id, token)
            ws = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_FRAME_BYTES + 512)
            try:
                await ws.prepare(request)
                code, reason = await run_session(ws, session, session.link, self.stopping)
            finally:
                self._links.pop(session, None)
                session.close()
            await ws.close(code=code, message=reason.encode()[:120])
            return ws

        return routes

    async def _authenticate(self, request: web.Request) -> tuple[str, str]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        store_id = None
        if scheme.lower() == "bearer" and token:
            store_id = await asyncio.to_thread(self.stores.store_of, token)
        if store_id is None:
            log.warning("hub: a link from %s with no valid store token refused", request.remote)
            raise web.HTTPUnauthorized(text="no valid store token")
        return store_id, token

    def _session(self, store_id: str, node_id: str, token: str) -> PeerSession:
        catalog = catalog_guid(store_id)

        def offered() -> list[str]:
            return [catalog] if self.replica.known(catalog) else []

        session = PeerSession(
            self.replica,
            link=f"{store_id}/{node_id}",
            offered=offered,
            accept=store_documents(store_id),
            turns=self._turns,
        )
        self._links[session] = (store_id, token)
        return session

    async def run(self) -> None:
        """End revoked stores' links and note who is in contact, until cancelled."""
        try:
            while True:
                await asyncio.sleep(CHECK_EVERY)
                await self._check()
        finally:
            self.stopping.set()

    async def _check(self) -> None:
        self.replica.unload_idle(self.unload_after)
        links = list(self._links.items())
        live = {token for _, (_, token) in links}
        still = {t: await asyncio.to_thread(self.stores.store_of, t) for t in live}
        for session, (store_id, token) in links:
            if still[token] is None:
                log.warning("hub: the token of store %s was revoked: ending its links", store_id)
                session.end("store token revoked")
        in_contact = sorted({store_id for _, (store_id, _) in links})
        if in_contact:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.stores.contacted, in_contact, time.time())
