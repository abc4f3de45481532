"""The composition root: the one place a node's parts are built and wired together.

The daemon opens the store, the replica, the order book, its feed, the devices, the links
with peers and the hub, and the HTTP servers here, passing each its dependencies, and
closes them in reverse: the store is first up and last down. Its background tasks run in
one TaskGroup, which cancels and awaits them on the way down.
SIGTERM or SIGINT starts a graceful stop bounded by `daemon.shutdown_timeout`; a second
signal skips the drain. SIGHUP reloads the devices, kitchen routing, receipt.*, print.*,
kds.* and store.name from the configuration file (a bad file is logged and changes
nothing); the manager UI applies its changes to the file the same way
(`ApiContext.config_editor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from edge.config.layers import NODE, ConfigEditor, LayeredConfig
from edge.config.model import Config
from edge.config.store_document import StoreDocument
from edge.config.store_settings import DEVICE, OWNER, SETTING, STATION
from edge.devices.assembly import Devices, DeviceSetup, open_devices, standing_in_here
from edge.devices.ownership import DeviceOwnership, store_printers
from edge.devices.standins import KIND as STANDIN
from edge.devices.standins import Standins
from edge.http.assembly import open_api
from edge.http.server import HttpServer
from edge.http.tls import ApiCertificate, node_names
from edge.kitchen.board import KdsBoard
from edge.kitchen.print_facts import PrintFacts
from edge.orders.availability import Availability
from edge.orders.book import OrderBook
from edge.orders.clock import HybridClock
from edge.orders.documents import store_guid
from edge.orders.feed import OrderFeed
from edge.orders.log import NodeIdentity
from edge.replication.archive import DayArchive
from edge.replication.directory import NodeDirectory
from edge.replication.peers import PeerManager
from edge.replication.upstream import UpstreamLink
from edge.runtime.errors import ConfigError, StorageError
from edge.runtime.lifecycle import Stopping, run_until_stopped
from edge.runtime.process import (
    freeze_startup_objects,
    state_dir_lock,
    utc_now,
)
from edge.runtime.systemd import SystemdNotifier, run_watchdog, watchdog_interval
from sync.errors import SyncError
from sync.membership.credentials import load as load_credentials
from sync.membership.trust import StoreCredentials, TrustError
from sync.replica import Replica
from sync.store import DocStore

log = logging.getLogger(__name__)

Service = Callable[[OrderBook, Devices], Awaitable[None]]
"""An extra long-running task given the order book and the devices (the demo's cashier)."""

RELOADED = ("devices", "print", "receipt", "kds")  # the Config fields SIGHUP applies
# store registers the devices follow
CONFIG_KINDS = {SETTING, DEVICE, STATION, OWNER, NODE, STANDIN}
NEEDS_RESTART = {  # the other fields, as the operator knows them
    "state_dir": "paths.state_dir",
    "log_level": "log.level",
    "shutdown_timeout": "daemon.shutdown_timeout",
    "status_interval": "daemon.status_interval",
}
SWAP_TIMEOUT = 10.0  # seconds the devices may take to restart on new settings
HAND_BACK_RETRY = 1.0  # seconds before a failed hand-back of tickets is tried again


def order_book(config: Config, replica: Replica, store_id: str | None = None) -> OrderBook:
    """The order book of the configured store (or of `store_id`) and node over `replica`."""
    return OrderBook(
        replica,
        store_id=store_id or config.store.id,
        node=NodeIdentity(config.node.name, config.node.letter),
        zone=config.store.zone,
        rollover_hour=config.store.rollover_hour,
        now=utc_now,
    )


async def open_store_document(replica: Replica, store_id: str, node: str) -> StoreDocument:
    """The store document of store `store_id` as node `node` writes it, open
    (docs/store-document.md). It has a clock of its own: it is read before the order book
    exists, since the store's time zone and rollover are in it."""
    clock = HybridClock(node, lambda: int(utc_now().timestamp() * 1000))
    document = StoreDocument(replica, store_guid(store_id), clock)
    await document.open()
    return document


@contextlib.asynccontextmanager
async def serving_peers(peers: PeerManager, host: str, port: int) -> AsyncIterator[HttpServer]:
    """The peer links' endpoint listening over TLS while in the block (raises OSError when
    the address is taken); run `peers.run(server.port)` meanwhile."""
    server = HttpServer(
        peers.application(), host, port, ssl_context=peers.server_ssl_context(), name="peer links"
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _nothing() -> None:
    """A node without peers has no links to flush."""


class Daemon:
    """One posedge node: the store, the replica, the order book and their tasks."""

    def __init__(
        self,
        config: Config,
        *,
        notifier: SystemdNotifier | None = None,
        services: tuple[Service, ...] = (),
    ) -> None:
        self.config = config
        self.notifier = notifier or SystemdNotifier()
        self.services = services
        self.book: OrderBook | None = None
        self.upstream: UpstreamLink | None = None
        self.failed = False
        self.layers: LayeredConfig | None = None  # None when it runs without a file
        self._stopping = Stopping()
        self._hangup = asyncio.Event()

    def request_stop(self, signum: int | None = None) -> None:
        """Begin a graceful stop; asked twice, stop without draining."""
        self._stopping.request(signum)

    async def run(self) -> None:
        """Run until asked to stop; every resource is released on return.

        If a background task fails, the daemon stops and `failed` is set, so that the
        process exits non-zero and systemd restarts it. One daemon per state directory: a
        second one started on it exits at once.
        """
        config = self.config
        with self._stopping.on_signals(hangup=self._hangup.set):
            config.state_dir.mkdir(parents=True, exist_ok=True)
            with state_dir_lock(config.state_dir) as locked:
                if not locked:
                    log.error("another posedge daemon is running on %s", config.state_dir)
                    self.failed = True
                    return
                store = await DocStore.open(config.store_path)
                try:
                    await self._serve(store)
                finally:
                    await self._stopping.finish(
                        store.close(), within=config.shutdown_timeout, what="closing the store"
                    )
                    log.info("stopped")

    async def _serve(self, store: DocStore) -> None:
        replica = Replica(store)
        document = await open_store_document(replica, self.config.store.id, self.config.node.name)
        if self.config.source != "<defaults>":
            self.layers = LayeredConfig(Path(self.config.source), document, self.config.node.name)
            await self._move_store_settings()
            self.config = self.layers.effective()
        config = self.config
        book = order_book(config, replica)
        book.availability = Availability(document)  # what is 86'd: the store's, not the menu's
        await book.start()
        self.book = book
        async with contextlib.AsyncExitStack() as resources:  # closed in reverse order
            resources.callback(document.close)
            resources.callback(document.subscribe(self._store_changed))
            feed = OrderFeed(replica, store_id=book.store_id)
            creds = self._credentials()
            https = ApiCertificate(creds) if creds is not None else None
            peers = self._peer_manager(book, replica, creds) if creds is not None else None
            ownership = DeviceOwnership(
                document,
                config.node.name,
                printers=lambda: store_printers(self.config.devices),
                peers=lambda: peers.peers if peers is not None else {},
                changed=self._hangup.set,
            )
            await ownership.step()
            standins = Standins(
                document,
                config.node.name,
                peers=lambda: peers.peers if peers is not None else {},
                owners=lambda: self.config.devices.network,
                clock=time.time,
            )
            devices = await resources.enter_async_context(
                open_devices(
                    book,
                    feed,
                    config.devices,
                    print_db=config.print_db_path,
                    print_settings=config.print,
                    receipt=config.receipt,
                    store_name=config.store.name,
                    now=utc_now,
                    ownership=ownership,
                    facts=PrintFacts(book, peers.flushed if peers is not None else _nothing),
                    standins=standins,
                )
            )
            upstream = self._upstream_link(book, replica, feed, peers)
            self.upstream = upstream
            api = await open_api(
                resources,
                book,
                replica,
                feed=feed,
                document=document,
                devices=devices,
                state_dir=config.store_path.parent,
                node_db=config.node_db_path,
                requests_db=config.requests_db_path,
                http=config.http,
                shutdown_timeout=config.shutdown_timeout,
                now=utc_now,
                https=https,
                peers=peers,
                upstream=upstream,
                kds_settings=config.kds,
            )
            peer_server = None
            address = (config.http.host, config.http.port)
            try:
                await api.server.start()
                if peers is not None:
                    address = (config.peers.host, config.peers.port)
                    peer_server = await resources.enter_async_context(
                        serving_peers(peers, *address)
                    )
            except OSError as exc:
                log.error(
                    "cannot listen on %s:%d: %s (is another posedge running?)",
                    *address,
                    exc.strerror or exc,
                )
                self.failed = True
                return
            directory = None
            if https is not None:  # where terminals find this node: its bound port
                directory = NodeDirectory(
                    document,
                    book.node,
                    host=config.http.host,
                    port=api.server.port,
                    addresses=lambda: node_names()[1],
                    printers=lambda: sorted(devices.own_printers()),
                )
                api.context.directory = directory
            api.context.ready = True
            resources.callback(setattr, api.context, "ready", False)
            apply = functools.partial(self.apply_config, devices, api.board)
            if self.layers is not None:
                api.context.config_editor = ConfigEditor(self.layers, apply)
            tasks: dict[str, Awaitable[None]] = {
                "status": self._refresh_status(),
                "devices": devices.run(),
                "reload": self._reload_on_hangup(apply),
                "store outbox": api.outbox.run(),
                "printer ownership": ownership.run(),
                "archive": DayArchive(
                    book, store, after_days=config.peers.days, upstream=upstream
                ).run(),
            }
            if https is not None:
                tasks["https certificate"] = https.run()
            if directory is not None:
                tasks["node directory"] = directory.run()
            if peers is not None and peer_server is not None:
                tasks["peers"] = peers.run(peer_server.port)
            if upstream is not None:
                tasks["upstream"] = upstream.run()
            if interval := watchdog_interval():
                tasks["watchdog"] = run_watchdog(self.notifier, interval)
            for index, service in enumerate(self.services):
                tasks[f"service {index}"] = service(book, devices)
            await self._run_tasks(tasks)

    def _credentials(self) -> StoreCredentials | None:
        """This node's store credentials, once it is a member of a store."""
        config = self.config
        if not (config.trust_dir / "node.pem").exists():
            log.info(
                "not a member of a store yet: no links with other nodes, and the API serves "
                "only this machine (run posedge init on the first node, posedge join on the "
                "others)"
            )
            return None
        creds = load_credentials(config.trust_dir)
        if creds.store_id != config.store.id:
            raise TrustError(
                f"{config.trust_dir} holds the credentials of store {creds.store_id!r}, "
                f"but {config.source} says store.id = {config.store.id!r}"
            )
        return creds

    def _peer_manager(
        self, book: OrderBook, replica: Replica, creds: StoreCredentials
    ) -> PeerManager:
        """The links with the store's other nodes."""
        config = self.config
        return PeerManager(
            book,
            replica,
            creds,
            interfaces=list(config.peers.interfaces) or None,
            static=list(config.peers.static),
            days=config.peers.days,
            use_mdns=config.peers.mdns,
        )

    def _upstream_link(
        self, book: OrderBook, replica: Replica, feed: OrderFeed, peers: PeerManager | None
    ) -> UpstreamLink | None:
        """The link with the hub, when one is configured."""
        if not self.config.upstream.enabled:
            return None

        def linked_peers() -> list[str]:
            if peers is None:
                return []
            return [node for node, status in peers.peers.items() if status.session is not None]

        return UpstreamLink(
            book, replica, self.config.upstream, feed=feed, linked_peers=linked_peers
        )

    async def _run_tasks(self, tasks: dict[str, Awaitable[None]]) -> None:
        """Run the node's background tasks in one TaskGroup until a stop is asked for or
        one of them fails (then `failed` is set); all are cancelled and awaited on return."""
        config = self.config
        freeze_startup_objects()
        self.notifier.ready(self.status_line())
        log.info(
            "ready: %s",
            self.status_line(),
            extra={"store_id": config.store.id, "node": config.node.name},
        )
        try:
            if not await run_until_stopped(tasks, self._stopping.stop):
                self.failed = True
        finally:
            self.notifier.stopping("Stopping: finishing in-flight writes")

    async def _reload_on_hangup(self, apply: Callable[[Config], Awaitable[list[str]]]) -> None:
        while True:
            await self._hangup.wait()
            self._hangup.clear()
            await self.reload(apply)

    async def reload(self, apply: Callable[[Config], Awaitable[list[str]]]) -> None:
        """Apply the configuration file as it is now (SIGHUP); a file that does not load is
        logged, and the devices keep their settings."""
        if self.layers is None:
            log.warning("SIGHUP: this daemon runs without a configuration file; nothing reloaded")
            return
        try:
            await self.layers.move_from_file()
            fresh = self.layers.effective()
        except ConfigError as exc:
            log.error(
                "configuration not reloaded: %s (the devices keep their settings)",
                exc,
                extra={"config_file": exc.path, "config_key": exc.key},
            )
            return
        await apply(fresh)

    async def _move_store_settings(self) -> None:
        """At start, move the store's settings found in the file into the store document; a
        file whose store settings do not load is logged, and runs on the store's."""
        assert self.layers is not None
        try:
            await self.layers.move_from_file()
        except ConfigError as exc:
            log.error("the store's settings stay in the file for now: %s", exc)

    def _store_changed(self, keys: set[str]) -> None:
        """A change of the store's settings, made here or on any node: apply it."""
        if any(key.partition(":")[0] in CONFIG_KINDS for key in keys):
            self._hangup.set()

    async def apply_config(self, devices: Devices, board: KdsBoard, fresh: Config) -> list[str]:
        """Drive the devices, stations, receipt.*, print.*, kds.* and store.name (on receipts)
        of `fresh`; returns the other changed settings, which take effect at restart."""
        running = self.config
        driven = frozenset()
        if devices.ownership is not None:  # a printer just added is decided on at once
            await devices.ownership.step(store_printers(fresh.devices))
            driven = devices.ownership.driving()
        stand_ins = standing_in_here(devices.standins, fresh.devices, driven)
        setup = DeviceSetup(fresh.devices, fresh.print, fresh.receipt, driven, stand_ins)
        if setup == devices.setup:  # nothing of theirs changed: the printers stay connected
            swapped = asyncio.get_running_loop().create_future()
            swapped.set_result(None)
        else:
            swapped = devices.reload(setup)
        board.settings = fresh.kds
        devices.store_name = fresh.store.name
        self.config = dataclasses.replace(
            running,
            store=dataclasses.replace(running.store, name=fresh.store.name),
            **{name: getattr(fresh, name) for name in RELOADED},
        )
        stale = [
            NEEDS_RESTART.get(f.name, f"{f.name}.*")
            for f in dataclasses.fields(running)
            if f.name not in (*RELOADED, "source")
            and getattr(running, f.name) != getattr(fresh, f.name)
        ]
        log.info(
            "reloaded %s: %d printers, stations %s",
            running.source,
            len(fresh.devices.printers),
            ", ".join(f"{s} -> {p}" for s, p in sorted(fresh.devices.stations.items())) or "none",
        )
        if stale:
            log.warning("changed settings that take effect at restart: %s", ", ".join(stale))
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that
            # lands as the future finishes, and a SIGTERM just after SIGHUP then hung the stop.
            async with asyncio.timeout(SWAP_TIMEOUT):
                await asyncio.shield(swapped)
        except TimeoutError:
            log.warning("the devices took over %.0f s to restart on new settings", SWAP_TIMEOUT)
        try:
            await devices.hand_back()
        except (SyncError, StorageError) as exc:  # looked at again in a second
            log.warning("tickets not handed back to their printer yet: %s", exc)
            asyncio.get_running_loop().call_later(HAND_BACK_RETRY, self._hangup.set)
        return stale

    def status_line(self) -> str:
        """One line for `systemctl status`: store, business day, orders today."""
        book = self.book
        if book is None:
            return "starting"
        today = book.business_date()
        count = book.loaded_order_count(today)
        return (
            f"store {self.config.store.id}, node {self.config.node.name}: "
            f"business day {today}, {count} orders"
        )

    async def _refresh_status(self) -> None:
        while True:
            await asyncio.sleep(self.config.status_interval)
            line = self.status_line()
            if self.upstream is not None:
                status = await self.upstream.status()
                backlog = status["backlog"]
                line += f"; hub {status['state']}, {backlog['orders']} orders not yet synced"
            self.notifier.status(line)
