"""The hub's sync endpoint: where every store's documents meet.

Nodes connect out to `GET /sync/store` over TLS with their store's token (tokens.py)
and the node's id in `X-Posedge-Node`, and speak the peers' protocol (sync/links/session.py):
the link carries that store's documents and nothing else (another store's guid ends it).
Which documents those are is the caller's policy (`StorePolicy`): what a node may send, and
what the hub offers each node (documents written at the hub reach every node that links).
The hub takes each change once (a node's step 1s take turns with the other nodes' across
the hub, and nodes push only what they made).
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
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from sync.hub.tokens import HubStores
from sync.links.peer_link import run_session
from sync.links.request_turns import RequestTurns
from sync.links.session import DocumentKind, PeerSession
from sync.membership.trust import TrustError, check_node_id
from sync.protocol import MAX_FRAME_BYTES
from sync.replica import Replica

log = logging.getLogger(__name__)

PATH = "/sync/store"
NODE_HEADER = "X-Posedge-Node"
CHECK_EVERY = 2.0  # seconds between checks for revoked tokens
UNLOAD_AFTER = 60.0  # seconds a document stays in memory unused


class StorePolicy(Protocol):
    """Which documents belong to a store, as the hub syncs them with its nodes."""

    def accept(self, store_id: str) -> Callable[[str], DocumentKind | None]:
        """How to register a document a node of `store_id` names (None: not the store's)."""

    def offered(self, store_id: str) -> list[str]:
        """The documents the hub offers every node of `store_id`, when it holds them."""


class Hub:
    """The hub's sync endpoint over `replica`; `run` owns its background check."""

    def __init__(
        self,
        replica: Replica,
        stores: HubStores,
        policy: StorePolicy,
        *,
        unload_after: float = UNLOAD_AFTER,
    ) -> None:
        self.replica = replica
        self.unload_after = unload_after
        self.stores = stores
        self.policy = policy
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
            # Not drained: a send the pump cut short leaves aiohttp's one drain waiter cancelled.
            await ws.close(code=code, message=reason.encode()[:120], drain=False)
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
        def offered() -> list[str]:
            return [g for g in self.policy.offered(store_id) if self.replica.known(g)]

        session = PeerSession(
            self.replica,
            link=f"{store_id}/{node_id}",
            offered=offered,
            accept=self.policy.accept(store_id),
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
