"""This node's link to the chain's hub: store-and-forward of the store's documents.

The node connects out (the store's firewall lets HTTPS out, nothing in) to `upstream.url`
with the store's token, and speaks the peers' protocol (sync/peer_session.py) as link
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
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from sync.hub import NODE_HEADER
from sync.hub import PATH as HUB_PATH
from sync.hub_tls import client_context
from sync.peer_link import run_link
from sync.peer_session import DocumentKind, PeerSession
from sync.request_turns import RequestTurns

from .config import UpstreamConfig
from .order_feed import OrderFeed
from .orderbook import OrderBook
from .upstream_backlog import Backlog, BacklogTracker

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


def retry_delay(failures: int, *, base: float = RETRY_BASE, cap: float = RETRY_CAP) -> float:
    """Full jitter: anywhere from 0 to the capped exponential bound."""
    return random.uniform(0, min(cap, base * 2 ** min(failures, 16)))


class UpstreamLink:
    """Keeps the link with the hub (`run`) and reports its state and backlog."""

    def __init__(
        self,
        book: OrderBook,
        config: UpstreamConfig,
        *,
        feed: OrderFeed | None = None,
        linked_peers: Callable[[], list[str]] = list,
        retry_cap: float = RETRY_CAP,
    ) -> None:
        """`feed` is the node's order feed (by default the link makes its own)."""
        self.book = book
        self._backlog = BacklogTracker(
            book, feed or OrderFeed(book.replica, store_id=book.store_id), LINK
        )
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
        guids += [info.guid for info in self.book.replica.store.documents()]
        return list(dict.fromkeys(g for g in guids if self.book.replica.known(g)))

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
        failures = 0
        stopping = asyncio.Event()
        async with aiohttp.ClientSession() as http:
            try:
                while True:
                    self._set("connecting", self.last_error)
                    try:
                        ssl = client_context(self.config.ca) if url.startswith("wss:") else False
                        await self._link(http, url, stopping, headers=headers, ssl=ssl)
                        failures = 0
                    except aiohttp.WSServerHandshakeError as exc:
                        failures += 1
                        why = (
                            "the hub refused the store token (upstream.token)"
                            if exc.status in (401, 403)
                            else f"the hub answered {exc.status}"
                        )
                        self._failed(url, why, failures, refused=exc.status in (401, 403))
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        failures += 1
                        self._failed(url, str(exc) or type(exc).__name__, failures)
                    await asyncio.sleep(retry_delay(failures, cap=self.retry_cap))
            finally:
                stopping.set()

    def _failed(self, url: str, why: str, failures: int, *, refused: bool = False) -> None:
        if failures == 1 or (refused and self.state != "refused"):
            log.warning("hub link to %s: %s; retrying with backoff", url, why)
        self._set("refused" if refused else "offline", why)

    async def _link(self, http, url: str, stopping: asyncio.Event, **connect) -> None:
        """One connection: linked until it ends; offers after this node's stagger."""
        up = asyncio.Event()

        def make_session(_peer: str) -> PeerSession:
            up.set()
            self.session = PeerSession(
                self.book.replica,
                link=LINK,
                offered=self.offered,
                accept=lambda guid: CATALOG if guid == self.book.catalog_guid else None,
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
        store = self.book.replica.store
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
