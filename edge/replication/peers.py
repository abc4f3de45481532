"""This node's links with the store's other nodes: who they are, where, and the sync with
each (sync/links/session.py) over mutually authenticated TLS (sync/membership/peer_tls.py).

Peers are found by mDNS (sync/discovery.py) and, where multicast does not pass, listed in
`peers.static`. For each pair of nodes one link is enough: the node whose id sorts first
dials, the other accepts. Static addresses are dialled whatever the ids (a node learns who
answers only from its certificate), so two nodes listing each other could link twice: a
second link with a peer is turned away, except that a link dialled by the lower id replaces
one dialled by the higher, which then waits until the link it lost to ends. A link that
fails is dialled again with capped, jittered backoff.
A peer is admitted only with a certificate of this store's CA naming a node that was not
removed; a stranger's handshake fails, and a refused peer is logged with what it is.

Removing a node writes it into the store's `members` document (root map `removed`: node id
-> who, when, why), which replicates like any other: every node then ends its link with the
removed one and refuses it from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import ssl
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from pycrdt import Map

from edge.orders.book import OrderBook
from edge.orders.documents import members_guid, store_documents, store_guid
from edge.orders.view import decode_entry
from edge.runtime.errors import InvalidInput
from edge.runtime.retry import Retry
from sync.discovery import Discovery, DiscoveryError, PeerAnnouncement
from sync.links.peer_link import PATH, SILENT_AFTER, LinkExists, peer_routes, run_link
from sync.links.request_turns import RequestTurns
from sync.links.session import PeerSession
from sync.membership.peer_tls import MembershipPolicy, client_ssl_context, server_ssl_context
from sync.membership.trust import NotAMember, StoreCredentials, fingerprint
from sync.replica import Replica, root_map_contents

log = logging.getLogger(__name__)

RETRY_CAP = 10.0  # seconds: a healed LAN links again within this
FLUSH_WAIT = 0.5  # seconds `flushed` waits at most
FLUSH_POLL = 0.002
CLOSE_WAIT = 1.0  # seconds a stopping node gives its links to close


@dataclass(slots=True)
class PeerStatus:
    """What this node knows of one peer, for the API and /metrics."""

    node_id: str
    address: str | None = None  # host:port
    seen: float | None = None  # when it was last announced or configured
    session: PeerSession | None = None  # the live link, if any
    dialled_by: str | None = None  # which end dialled the live link
    since: float | None = None  # when the link came up or went down
    last_sync: float | None = None  # when the last frame came from it
    last_error: str | None = None
    ending: str | None = None  # how its last link ended (peer_link._ending), while unlinked
    heard: float | None = None  # when it was last known to be there (its link was up)

    def to_dict(self) -> dict:
        session = self.session
        return {
            "node": self.node_id,
            "address": self.address,
            "seen": self.seen,
            "connected": session is not None,
            "dialled_by": self.dialled_by if session else None,
            "since": self.since,
            "last_sync": session.last_frame_at if session else self.last_sync,
            "waiting": session.outbox.qsize() if session else 0,
            "last_error": self.last_error,
        }


class PeerManager:
    """Accepts and dials this node's peer links; owns their tasks (`run`)."""

    def __init__(
        self,
        book: OrderBook,
        replica: Replica,
        creds: StoreCredentials,
        *,
        interfaces: list[str] | None,
        static: list[str],
        days: int,
        use_mdns: bool = True,
    ) -> None:
        self.book = book
        self.replica = replica
        self.creds = creds
        self.interfaces = interfaces
        self.static = static
        self.days = days
        self.use_mdns = use_mdns
        self.node_id = creds.node_id
        self.peers: dict[str, PeerStatus] = {}
        self._members = members_guid(creds.store_id)
        self._policy = MembershipPolicy(creds.store_id, self.removed)
        self._accept = store_documents(creds.store_id)
        self._stopping = asyncio.Event()
        self._link_up = asyncio.Event()  # set (and replaced) each time a link comes up
        self._dialing: dict[str, asyncio.Task] = {}
        self._wanted: dict[str, str] = {}  # node id -> URL to dial
        self._unlinked: dict[str, asyncio.Event] = {}  # node id -> set while it has no link
        self._turns = RequestTurns()
        self._group: asyncio.TaskGroup | None = None
        self.bound_port: int | None = None  # where peers reach this node, once it listens

    def removed(self) -> dict[str, dict]:
        """The nodes removed from the store: node id -> who removed it, when and why."""
        doc = self.replica.loaded(self._members)
        if doc is None:
            return {}
        removed = {}
        for node_id, value in root_map_contents(doc, "removed").items():
            try:
                removed[node_id] = decode_entry(value)
            except ValueError:  # a malformed record still removes the node
                removed[node_id] = {}
        return removed

    async def remove(self, node_id: str, *, by: str, reason: str) -> dict:
        """Remove `node_id` from the store: recorded in the members document (so every node
        learns it), and its link here ended at once."""
        if node_id == self.node_id:
            raise InvalidInput("/node", "a node cannot remove itself; remove it from another")
        entry = {"by": by, "reason": reason, "at": self.book.clock.now(), "node": self.node_id}
        await self.replica.transact(
            self._members,
            lambda doc: doc.get("removed", type=Map).__setitem__(
                node_id, json.dumps(entry, separators=(",", ":"))
            ),
        )
        self._end_removed()
        return {"node": node_id, **entry}

    def _on_durable(self, guid: str, update: bytes, origin: str, seq: int) -> None:
        if guid == self._members:
            self._end_removed()

    def _end_removed(self) -> None:
        removed = self.removed()
        for node_id, status in self.peers.items():
            if node_id in removed and status.session is not None:
                log.warning("node %s was removed from the store: ending its link", node_id)
                status.session.end("removed from the store")
            if node_id in removed:
                self._unwant(node_id)

    async def flushed(self, within: float = FLUSH_WAIT) -> None:
        """Wait until every live link has taken what it had to send (at most `within` s):
        what this node wrote before is then in its sockets, which the kernel delivers even
        if the process is killed next."""
        for _ in range(max(1, int(within / FLUSH_POLL))):  # the outboxes have no event
            if all(p.session is None or p.session.outbox.empty() for p in self.peers.values()):
                return
            await asyncio.sleep(FLUSH_POLL)

    def offered(self) -> list[str]:
        """The documents offered to peers: the catalog, the members, the store document and
        the latest days."""
        today = self.book.business_date()
        guids = [self.book.catalog_guid, self._members]
        if self.replica.known(store := store_guid(self.book.store_id)):
            guids.append(store)
        for back in range(self.days):
            day = today - dt.timedelta(days=back)
            if self.book.day_exists(day):
                guids.append(self.book.day_guid(day))
        return guids

    def _session(self, peer: str, *, dialled_by: str) -> PeerSession:
        """A session with `peer` on a link `dialled_by` one of the two, whose state shows in
        `peers`; raises LinkExists when the live link with `peer` stays (module docstring)."""
        status = self.peers.setdefault(peer, PeerStatus(peer))
        first = min(self.node_id, peer)
        if status.session is not None:
            if status.dialled_by == first or dialled_by != first:
                raise LinkExists(f"node {self.node_id} has a link with {peer} already")
            status.session.end("replaced by the link dialled by the node whose id sorts first")
        unlinked = self._unlinked.setdefault(peer, asyncio.Event())
        unlinked.clear()

        def closed(session: PeerSession) -> None:
            if status.session is session:
                now = time.time()
                status.session, status.since = None, now
                status.last_sync = session.last_frame_at
                status.ending = session.ending
                log.info("link with %s ended (%s)", peer, session.ending, extra={"peer": peer})
                # a silent link ends SILENT_AFTER after the last thing the peer sent (peer_link)
                status.heard = now - SILENT_AFTER if session.ending == "silent" else now
                unlinked.set()

        session = PeerSession(
            self.replica,
            link=peer,
            offered=self.offered,
            accept=self._accept,
            on_close=closed,
            turns=self._turns,
        )
        status.session, status.since, status.last_error = session, time.time(), None
        status.ending = None
        self._link_up.set()  # the LAN may be back: dial the others now, not at their backoff
        self._link_up = asyncio.Event()
        status.dialled_by = dialled_by
        return session

    def _identify(self, request: web.Request) -> str:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        try:
            return self._policy.check(ssl_object)
        except NotAMember as exc:
            log.warning("peer link from %s refused: %s", request.remote, exc)
            raise web.HTTPForbidden(text="not a member of this store") from None

    def application(self) -> web.Application:
        """The peer links' endpoint, which the composition root serves over TLS."""
        app = web.Application()
        app.add_routes(
            peer_routes(
                lambda peer: self._session(peer, dialled_by=peer), self._identify, self._stopping
            )
        )
        return app

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS for the endpoint: this node's certificate, peers' required, under the store CA."""
        return server_ssl_context(self.creds)

    async def run(self, bound_port: int) -> None:
        """Discover and dial peers until cancelled, announcing the endpoint at `bound_port`."""
        await self.replica.create(self._members, "members")
        self.replica.add_listener(self._on_durable)
        self.bound_port = bound_port
        try:
            async with aiohttp.ClientSession() as http, asyncio.TaskGroup() as group:
                self._group = group
                self._http = http
                for address in self.static:
                    self._want(f"static {address}", address)
                if self.use_mdns:
                    discovery = Discovery(
                        store_id=self.creds.store_id,
                        node_id=self.node_id,
                        port=bound_port,
                        fingerprint=fingerprint(self.creds.node_cert_pem),
                        interfaces=self.interfaces,
                        on_change=self._on_announced,
                    )
                    try:
                        try:
                            await discovery.start()
                        except DiscoveryError as exc:  # another node announces this name
                            log.error("mDNS: %s; peers come from peers.static only", exc)
                        await self._until_cancelled()
                    finally:
                        await discovery.close()
                else:
                    await self._until_cancelled()
        finally:
            self.replica.remove_listener(self._on_durable)
            self._stopping.set()

    async def _until_cancelled(self) -> None:
        """Wait until cancelled; then end every link saying this node stops (GOING_AWAY),
        for at most CLOSE_WAIT seconds, so that its peers know it is gone on purpose and
        take over its printers at once (edge/devices/ownership.py)."""
        try:
            await asyncio.Event().wait()
        finally:
            self._stopping.set()
            dialled = [task for task in self._dialing.values() if not task.done()]
            if dialled:  # each ends once its link's close frame is out
                await asyncio.wait(dialled, timeout=CLOSE_WAIT)
            for _ in range(int(CLOSE_WAIT / FLUSH_POLL)):  # the links peers dialled
                if all(p.session is None for p in self.peers.values()):
                    break
                await asyncio.sleep(FLUSH_POLL)

    def _on_announced(self, peers: dict[str, PeerAnnouncement]) -> None:
        now = time.time()
        removed = self.removed()
        for node_id, peer in peers.items():
            status = self.peers.setdefault(node_id, PeerStatus(node_id))
            status.address, status.seen = f"{peer.host}:{peer.port}", now
            if self.node_id < node_id and node_id not in removed:  # the first id dials
                self._want(node_id, status.address)
        for node_id in list(self._wanted):
            if not node_id.startswith("static ") and node_id not in peers:
                self._unwant(node_id)

    def _want(self, key: str, address: str) -> None:
        url = f"https://{address}{PATH}"
        if self._wanted.get(key) == url:
            return
        self._unwant(key)
        self._wanted[key] = url
        assert self._group is not None
        self._dialing[key] = self._group.create_task(self._dial(key, url), name=f"peer {key}")

    def _unwant(self, key: str) -> None:
        self._wanted.pop(key, None)
        task = self._dialing.pop(key, None)
        if task is not None:
            task.cancel()

    async def _dial(self, key: str, url: str) -> None:
        """Keep a link with the peer at `url` (`key`: its node id, or `static host:port`)."""
        retry = Retry(log, base=0.5, cap=RETRY_CAP, jitter="equal")
        ssl_context = client_ssl_context(self.creds)
        answered: list[str] = []  # the node that answered the last connection

        def shown_as() -> str:
            return answered[0] if answered else key

        def identify(ssl_object) -> str:
            peer = self._policy.check(ssl_object)
            answered[:] = [peer]
            if key != peer:  # a static address: the peer shows under its node id
                self.peers.pop(key, None)
            return peer

        while True:
            longest = False
            try:
                await run_link(
                    self._http,
                    url,
                    lambda peer: self._session(peer, dialled_by=self.node_id),
                    identify,
                    self._stopping,
                    ssl=ssl_context,
                )
                if self._stopping.is_set():  # this node stops: the link said so, and ended
                    return
                retry.succeeded()
            except LinkExists:  # this node has the link already: wait until it ends
                await self._unlinked[answered[0]].wait()
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status != 409:
                    self._dial_failed(shown_as(), url, exc, retry)
                elif answered and answered[0] in self._unlinked:  # the peer keeps its link
                    await self._unlinked[answered[0]].wait()
                else:  # a member (TLS verified it) that has not shown its name to this dial
                    self.peers.pop(key, None)
                    longest = True
            except (aiohttp.ClientError, OSError, TimeoutError, NotAMember) as exc:
                self._dial_failed(shown_as(), url, exc, retry)
            with contextlib.suppress(TimeoutError):  # a link coming up ends the wait
                async with asyncio.timeout(retry.delay(longest=longest)):
                    await self._link_up.wait()

    def _dial_failed(self, key: str, url: str, exc: Exception, retry: Retry) -> None:
        """Record a failed dial on the peer's status, and count it in `retry`."""
        status = self.peers.setdefault(key, PeerStatus(key))
        status.last_error = str(exc) or type(exc).__name__
        retry.failed("cannot link with peer %s at %s: %s", key, url, status.last_error)
