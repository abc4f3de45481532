"""The node's terminal API and manager UI, assembled over the node's parts: the terminal
registry, the UI's users, the store's employees, the command line's changes to the store
document, the idempotency store, the KDS board and the HTTP server (with its connection
limits). The composition root (edge/app.py) opens the parts it shares with the rest of the
node and hands them in; tests/support/api_node.py assembles the same API over a test's
store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.access.join_codes import StoredJoinCodes
from edge.access.outbox import StoreOutbox
from edge.access.pairing_codes import PairingCodes
from edge.access.staff.store import EmployeeStore
from edge.access.terminals import TerminalRegistry
from edge.access.users import UserStore
from edge.config.model import HttpConfig, KdsSettings
from edge.config.store_document import StoreDocument
from edge.devices.assembly import Devices
from edge.http.api.events import EventHub
from edge.http.application import make_app
from edge.http.context import ApiContext
from edge.http.idempotency import IdempotencyStore
from edge.http.lan_guard import LanPolicy
from edge.http.metrics import ApiMetrics
from edge.http.server import ConnectionLimits, HttpServer
from edge.http.tls import ApiCertificate
from edge.kitchen.board import KdsBoard
from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from edge.orders.index import OrderIndex
from edge.replication.peers import PeerManager
from edge.replication.upstream import UpstreamLink
from edge.runtime.process import raise_file_limit
from sync.membership.join import join_routes
from sync.replica import Replica

log = logging.getLogger(__name__)

FILE_LIMIT = 4096  # open files the daemon asks for, as the service's LimitNOFILE
FILE_RESERVE = 256  # of them kept for the stores, devices, peers and the hub link


@dataclass(frozen=True, slots=True)
class Api:
    """The node's API as assembled: its server, what the handlers share, its KDS board,
    and what applies the command line's changes to the store document (run it)."""

    server: HttpServer
    context: ApiContext
    board: KdsBoard
    outbox: StoreOutbox


async def open_api(
    resources: contextlib.AsyncExitStack,
    book: OrderBook,
    replica: Replica,
    *,
    feed: OrderFeed,
    document: StoreDocument,
    devices: Devices,
    state_dir: Path,
    node_db: Path,
    requests_db: Path,
    http: HttpConfig,
    shutdown_timeout: float,
    now: Callable[[], dt.datetime],
    https: ApiCertificate | None = None,
    peers: PeerManager | None = None,
    upstream: UpstreamLink | None = None,
    kds_settings: KdsSettings | None = None,
) -> Api:
    """Build the API over a started order book, its feed and the node's devices (whose
    tasks the caller runs); `resources` closes what this opens, in reverse order (the
    server first, so in-flight requests finish before the files close).

    The caller starts the server and sets `context.ready`. Users and terminals that
    node.db held before the store document, and changes the command line queued, are in
    the store document before it returns.
    """
    index = OrderIndex(book, feed)
    outbox = StoreOutbox(node_db, document)
    await outbox.upgrade()
    await outbox.drain()
    terminals = TerminalRegistry(PairingCodes(node_db), document)
    resources.callback(terminals.close)
    idempotency = await IdempotencyStore.open(requests_db)
    resources.push_async_callback(idempotency.close)
    context = ApiContext(
        book,
        replica,
        feed,
        index,
        terminals,
        UserStore(node_db, document),
        EmployeeStore(document),
        devices,
        state_dir,
        now=now,
        https=https,
        peers=peers,
        upstream=upstream,
    )
    board = KdsBoard(book, feed, settings=kds_settings or KdsSettings(), now=now)
    app = make_app(
        context,
        idempotency=idempotency,
        events_hub=EventHub(book, feed),
        board=board,
        metrics=ApiMetrics(replica.store, lambda: index.open_count(book.business_date())),
        join_routes=join_routes(
            StoredJoinCodes(node_db),
            lambda: peers.creds if peers is not None else None,
            _joined,
        ),
        lan=LanPolicy(plain_kds=http.plain_kds),
    )
    limits = ConnectionLimits(
        per_address=http.max_connections_per_address,
        total=min(http.max_connections, (raise_file_limit(FILE_LIMIT) - FILE_RESERVE) // 2),
        idle_timeout=http.idle_timeout,
    )
    server = HttpServer(
        app,
        http.host,
        http.port,
        shutdown_timeout=shutdown_timeout,
        ssl_context=https.context if https is not None else None,
        plain_too=True,
        limits=limits,
    )
    resources.push_async_callback(server.stop)
    return Api(server, context, board, outbox)


def _joined(node_id: str, node_cert_pem: bytes) -> None:
    log.info("node %s joined the store; it links with this node once it runs", node_id)
