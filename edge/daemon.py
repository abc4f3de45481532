"""The daemon's lifecycle: open the store, serve, and shut down in order on a signal.

Resources open in one place and close in reverse: the store is first up and last down.
Background tasks belong to the daemon, which cancels and awaits them on the way down.
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
import datetime as dt
import fcntl
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from pycrdt import Map

from sync.replica import Replica
from sync.store import DocStore
from sync.trust import TrustError
from sync.trust import load as load_credentials

from .api.app import open_api
from .api.kds import KDS_BOARD
from .config import Config, load
from .config_edit import ConfigEditor
from .day_archive import DayArchive
from .devices import Devices, DeviceSetup, open_devices
from .errors import ConfigError
from .kds import KdsBoard
from .notify import SystemdNotifier, run_watchdog, watchdog_interval
from .order_feed import OrderFeed
from .orderbook import NodeIdentity, OrderBook
from .peers import PeerManager
from .upstream import UpstreamLink

log = logging.getLogger(__name__)

Service = Callable[[OrderBook, Devices], Awaitable[None]]
"""An extra long-running task given the order book and the devices (the demo's cashier)."""

RELOADED = ("devices", "print", "receipt", "kds")  # the Config fields SIGHUP applies
NEEDS_RESTART = {  # the other fields, as the operator knows them
    "state_dir": "paths.state_dir",
    "log_level": "log.level",
    "shutdown_timeout": "daemon.shutdown_timeout",
    "status_interval": "daemon.status_interval",
}
SWAP_TIMEOUT = 10.0  # seconds the devices may take to restart on new settings


def freeze_startup_objects() -> None:
    """Exempt everything alive after start-up from garbage collection scans.

    Modules, the catalog and the loaded documents live as long as the daemon; without this
    every full collection walks them again, a pause of several milliseconds that showed as
    the p99 of bench/orderlog.py.
    """
    gc.freeze()


@contextlib.contextmanager
def state_dir_lock(state_dir: Path) -> Iterator[bool]:
    """Hold an exclusive lock on the state directory; yields whether it was free.

    The kernel drops the lock when the process dies, so a crash never leaves it behind.
    """
    with open(state_dir / "posedge.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()
        self._hangup = asyncio.Event()

    def request_stop(self, signum: int | None = None) -> None:
        """Begin a graceful stop; asked twice, stop without draining."""
        if self._stop.is_set():
            log.warning("second stop signal: skipping the drain")
            self._hurry.set()
        else:
            name = signal.Signals(signum).name if signum else "request"
            log.info("stopping on %s", name, extra={"signal": name})
            self._stop.set()

    async def run(self) -> None:
        """Run until asked to stop; every resource is released on return.

        If a background task fails, the daemon stops and `failed` is set, so that the
        process exits non-zero and systemd restarts it. One daemon per state directory: a
        second one started on it exits at once.
        """
        config = self.config
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self._hangup.set)
        try:
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
                    await self._close_store(store)
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)

    async def _serve(self, store: DocStore) -> None:
        config = self.config
        book = order_book(config, Replica(store))
        await book.start()
        self.book = book
        async with contextlib.AsyncExitStack() as resources:  # closed in reverse order
            feed = OrderFeed(book.replica, store_id=book.store_id)
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
                )
            )
            peers = self._peer_manager(book)
            upstream = self._upstream_link(book, feed, peers)
            self.upstream = upstream
            api, context = await open_api(
                resources,
                book,
                feed=feed,
                devices=devices,
                peers=peers,
                upstream=upstream,
                node_db=config.node_db_path,
                requests_db=config.requests_db_path,
                host=config.http.host,
                port=config.http.port,
                shutdown_timeout=config.shutdown_timeout,
                now=utc_now,
                kds_settings=config.kds,
            )
            try:
                await api.start()
            except OSError as exc:
                log.error(
                    "cannot listen on %s:%d: %s (is another posedge running?)",
                    config.http.host,
                    config.http.port,
                    exc.strerror or exc,
                )
                self.failed = True
                return
            context.ready = True
            resources.callback(setattr, context, "ready", False)
            apply = functools.partial(self.apply_config, devices, api.app[KDS_BOARD])
            if config.source != "<defaults>":
                context.config_editor = ConfigEditor(Path(config.source), apply)
            await self._run_tasks(book, devices, peers, upstream, apply)

    def _peer_manager(self, book: OrderBook) -> PeerManager | None:
        """The links with the store's other nodes, once this node is a member."""
        config = self.config
        if not (config.trust_dir / "node.pem").exists():
            log.info(
                "not a member of a store yet: no links with other nodes "
                "(run posedge init on the first node, posedge join on the others)"
            )
            return None
        creds = load_credentials(config.trust_dir)
        if creds.store_id != config.store.id:
            raise TrustError(
                f"{config.trust_dir} holds the credentials of store {creds.store_id!r}, "
                f"but {config.source} says store.id = {config.store.id!r}"
            )
        return PeerManager(
            book,
            creds,
            host=config.peers.host,
            port=config.peers.port,
            interfaces=list(config.peers.interfaces) or None,
            static=list(config.peers.static),
            days=config.peers.days,
            use_mdns=config.peers.mdns,
        )

    def _upstream_link(
        self, book: OrderBook, feed: OrderFeed, peers: PeerManager | None
    ) -> UpstreamLink | None:
        """The link with the hub, when one is configured."""
        if not self.config.upstream.enabled:
            return None

        def linked_peers() -> list[str]:
            if peers is None:
                return []
            return [node for node, status in peers.peers.items() if status.session is not None]

        return UpstreamLink(book, self.config.upstream, feed=feed, linked_peers=linked_peers)

    async def _run_tasks(
        self,
        book: OrderBook,
        devices: Devices,
        peers: PeerManager | None,
        upstream: UpstreamLink | None,
        apply: Callable[[Config], Awaitable[list[str]]],
    ) -> None:
        config = self.config
        freeze_startup_objects()
        tasks = [
            asyncio.create_task(self._refresh_status(), name="status"),
            asyncio.create_task(devices.run(), name="devices"),
            asyncio.create_task(self._reload_on_hangup(apply), name="reload"),
        ]
        if peers is not None:
            tasks.append(asyncio.create_task(peers.run(), name="peers"))
        if upstream is not None:
            tasks.append(asyncio.create_task(upstream.run(), name="upstream"))
        archive = DayArchive(book, after_days=config.peers.days, upstream=upstream)
        tasks.append(asyncio.create_task(archive.run(), name="archive"))
        interval = watchdog_interval()
        if interval:
            tasks.append(
                asyncio.create_task(run_watchdog(self.notifier, interval), name="watchdog")
            )
        tasks += [
            asyncio.create_task(service(book, devices), name="service") for service in self.services
        ]
        self.notifier.ready(self.status_line())
        log.info(
            "ready: %s",
            self.status_line(),
            extra={"store_id": config.store.id, "node": config.node.name},
        )
        try:
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception():
                    self.failed = True
                    log.error(
                        "task %s failed, stopping", task.get_name(), exc_info=task.exception()
                    )
        finally:
            self.notifier.stopping("Stopping: finishing in-flight writes")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _reload_on_hangup(self, apply: Callable[[Config], Awaitable[list[str]]]) -> None:
        while True:
            await self._hangup.wait()
            self._hangup.clear()
            await self.reload(apply)

    async def reload(self, apply: Callable[[Config], Awaitable[list[str]]]) -> None:
        """Apply the configuration file as it is now (SIGHUP); a file that does not load is
        logged, and the devices keep their settings."""
        running = self.config
        if running.source == "<defaults>":
            log.warning("SIGHUP: this daemon runs without a configuration file; nothing reloaded")
            return
        try:
            fresh = load(Path(running.source))
        except ConfigError as exc:
            log.error(
                "configuration not reloaded: %s (the devices keep their settings)",
                exc,
                extra={"config_file": exc.path, "config_key": exc.key},
            )
            return
        await apply(fresh)

    async def apply_config(self, devices: Devices, board: KdsBoard, fresh: Config) -> list[str]:
        """Drive the devices, stations, receipt.*, print.*, kds.* and store.name (on receipts)
        of `fresh`; returns the other changed settings, which take effect at restart."""
        running = self.config
        swapped = devices.reload(DeviceSetup(fresh.devices, fresh.print, fresh.receipt))
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
            await asyncio.wait_for(asyncio.shield(swapped), SWAP_TIMEOUT)
        except TimeoutError:
            log.warning("the devices took over %.0f s to restart on new settings", SWAP_TIMEOUT)
        return stale

    async def _close_store(self, store: DocStore) -> None:
        hurry = asyncio.create_task(self._hurry.wait())
        close = asyncio.create_task(store.close())
        done, _ = await asyncio.wait(
            [close, hurry],
            timeout=self.config.shutdown_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        hurry.cancel()
        if close not in done:
            log.error(
                "the store did not close within %.1f s; abandoning pending writes",
                self.config.shutdown_timeout,
            )
            close.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await close
        log.info("stopped")

    def status_line(self) -> str:
        """One line for `systemctl status`: store, business day, orders today."""
        book = self.book
        if book is None:
            return "starting"
        today = book.business_date()
        doc = book.replica.loaded(book.day_guid(today))
        count = len(doc.get("orders", type=Map)) if doc is not None else 0
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
