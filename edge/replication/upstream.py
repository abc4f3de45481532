"""This node's link to the chain's hub: store-and-forward of the store's documents.

The node connects out (the store's firewall lets HTTPS out, nothing in) to `upstream.url`
with the store's token, and speaks the peers' protocol (sync/links/session.py) as link
`hub`: what the hub acknowledged of each document is kept in the store, so after an outage
the node sends only what the hub lacks, and while linked it pushes what is made here as it
becomes durable. The hub offers the catalog, so a change made at HQ reaches the node.
A lost link is dialled again with capped exponential backoff and full jitter. A store's
internet is often the slowest link it has, and Yjs updates repeat their keys: the link asks
for permessage-deflate (live changes, compressed with the connection's shared context),
and sends big step 2s deflated at a better level (sync/protocol.py; a day's catch-up
deflates to about an eighth).

Every node of a store holds every document, but the hub should get each change once. Live,
each node pushes only the changes made on it. After an outage, the node whose id sorts
first among itself and the peers it is linked with asks the hub at once; each next one
waits `upstream.stagger` seconds more, by which time it finds the hub up to date and sends
next to nothing. A node cut off from its peers counts as first, so the changes it holds get
up whichever node is offline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from edge.config.model import UpstreamConfig
from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from edge.replication.backlog import Backlog, BacklogTracker
from edge.runtime.retry import Retry
from sync.hub.endpoint import NODE_HEADER
from sync.hub.endpoint import PATH as HUB_PATH
from sync.hub.tls import client_context
from sync.links.peer_link import run_link
from sync.links.request_turns import RequestTurns
from sync.links.session import DocumentKind, PeerSession
from sync.replica import Replica

log = logging.getLogger(__name__)

LINK = "hub"  # the link's name in the store's progress records
CATALOG = DocumentKind("catalog", {})
RETRY_BASE = 1.0  # seconds: the first retry waits up to this
RETRY_CAP = 60.0  # seconds: no retry waits longer than this
DEFLATE_WINDOW_BITS = 15  # permessage-deflate with the largest window
DEFLATE_ABOVE = 16 * 1024  # step 2s larger than this go deflated at a better level


def hub_url(url: str) -> str:
    """The hub's sync endpoint for `upstream.url` (a bare host:port gets the default path)."""
    parts = urlsplit(url)
    return url if parts.path not in ("", "/") else f"{url.rstrip('/')}{HUB_PATH}"


class UpstreamLink:
    """Keeps the link with the hub (`run`) and reports its state and backlog."""

    def __init__(
        self,
        book: OrderBook,
        replica: Replica,
        config: UpstreamConfig,
        *,
        feed: OrderFeed,
        linked_peers: Callable[[], list[str]] = list,
        retry_cap: float = RETRY_CAP,
    ) -> None:
        """`feed` is the node's order feed (the backlog follows it)."""
        self.book = book
        self.replica = replica
        self._backlog = BacklogTracker(book, replica, feed, LINK)
        self.config = config
        self.linked_peers = linked_peers
        self.retry_cap = retry_cap
        self.state = "connecting"
        self.since = time.time()
        self.last_error: str | None = None
        self.session: PeerSession | None = None
        self.last_sync: float | None = None  # when the hub's last frame came
        self._turns = RequestTurns()

    def rank(self) -> int:
        """This node's place, by id, among itself and the peers it is linked with."""
        me = self.book.node.name
        return sorted({me, *self.linked_peers()}).index(me)

    def offered(self) -> list[str]:
        """The catalog, the members and every business day: the hub keeps them all."""
        guids = [self.book.catalog_guid]
        guids += [info.guid for info in self.replica.store.documents()]
        return list(dict.fromkeys(g for g in guids if self.replica.known(g)))

    def _set(self, state: str, error: str | None = None) -> None:
        if state != self.state:
            self.state, self.since = state, time.time()
        self.last_error = error

    async def run(self) -> None:
        """Link with the hub until cancelled."""
        url = hub_url(self.config.url)
        headers = {
            "Authorization": f"Bearer {self.config.token}",
            NODE_HEADER: self.book.node.name,
        }
        retry = Retry(log, base=RETRY_BASE, cap=self.retry_cap, jitter="full")
        stopping = asyncio.Event()
        async with aiohttp.ClientSession() as http:
            try:
                while True:
                    self._set("connecting", self.last_error)
                    try:
                        ssl = client_context(self.config.ca) if url.startswith("wss:") else False
                        await self._link(http, url, stopping, headers=headers, ssl=ssl)
                        retry.succeeded()  # "hub link up" was logged as it came up
                    except aiohttp.WSServerHandshakeError as exc:
                        why = (
                            "the hub refused the store token (upstream.token)"
                            if exc.status in (401, 403)
                            else f"the hub answered {exc.status}"
                        )
                        self._failed(retry, url, why, refused=exc.status in (401, 403))
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        self._failed(retry, url, str(exc) or type(exc).__name__)
                    await asyncio.sleep(retry.delay())
            finally:
                stopping.set()

    def _failed(self, retry: Retry, url: str, why: str, *, refused: bool = False) -> None:
        # A refused token is news every time: it takes an operator to end it.
        retry.failed("hub link to %s: %s; retrying with backoff", url, why, loud=refused)
        self._set("refused" if refused else "offline", why)

    async def _link(self, http, url: str, stopping: asyncio.Event, **connect) -> None:
        """One connection: linked until it ends; offers after this node's stagger."""
        up = asyncio.Event()

        def make_session(_peer: str) -> PeerSession:
            up.set()
            self.session = PeerSession(
                self.replica,
                link=LINK,
                offered=self.offered,
                accept=lambda guid: CATALOG if guid == self.book.catalog_guid else None,
                carries=self.replica.known,  # every document goes up, as `offered` says
                turns=self._turns,
                on_close=self._closed,
                deflate_above=DEFLATE_ABOVE,
            )
            self._set("connected")
            log.info("hub link up: %s", url)
            return self.session

        linked = asyncio.ensure_future(
            run_link(
                http,
                url,
                make_session,
                lambda _ssl: LINK,
                stopping,
                offer=False,
                compress=DEFLATE_WINDOW_BITS,
                **connect,
            )
        )
        offering = asyncio.ensure_future(self._offer_when_due(up))
        try:
            await linked  # raises when the connection cannot be made
        finally:
            offering.cancel()
            await asyncio.gather(offering, return_exceptions=True)
        self._set("offline", "the hub closed the link")

    def _closed(self, session: PeerSession) -> None:
        if self.session is session:
            self.session = None
        self.last_sync = session.last_frame_at or self.last_sync

    async def _offer_when_due(self, up: asyncio.Event) -> None:
        await up.wait()
        await asyncio.sleep(self.rank() * self.config.stagger)
        if self.session is not None:
            await self.session.offer()

    async def unacknowledged(self, kind: str | None = None) -> list[str]:
        """The documents (of `kind`) holding changes the hub has not acknowledged."""
        store = self.replica.store
        waiting = []
        for info in store.documents(kind=kind):
            progress = await store.link_progress(LINK, info.guid)
            if progress is None or await store.last_seq_of(info.guid) > progress.acked_seq:
                waiting.append(info.guid)
        return waiting

    async def backlog(self) -> Backlog:
        """Documents, orders and bytes the hub has not acknowledged, and the oldest's age."""
        return await self._backlog.backlog()

    async def status(self) -> dict:
        """For the API, /metrics and the daemon's status line."""
        return {
            "enabled": True,
            "url": self.config.url,
            "state": self.state,
            "since": self.since,
            "last_error": self.last_error,
            "last_sync": (self.session.last_frame_at if self.session else None) or self.last_sync,
            "backlog": (await self.backlog()).to_dict(),
        }
