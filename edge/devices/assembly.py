"""This node's devices, assembled: the print queue and its printers, kitchen routing, cash
drawers, customer displays and bump bars. `Devices.run` owns every device task.

`Devices.reload` swaps in new settings (the daemon's SIGHUP): `run` stops every device task,
puts a job caught mid-send back in the queue (marked REPRINT, as after a crash), and starts
the tasks again on the new settings. Jobs live in print.db, so none queued is lost; the
kitchen router's catch-up finds every fire already queued by its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.config.devices import DeviceSettings
from edge.config.model import PrintSettings, ReceiptConfig
from edge.devices.bump_bars import BumpBar
from edge.devices.customer_displays import CustomerDisplay
from edge.devices.drawers import CashDrawers
from edge.devices.ownership import DeviceOwnership
from edge.devices.standins import Standins
from edge.kitchen.print_facts import PrintFacts
from edge.kitchen.routing import KitchenRouter
from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from edge.orders.refunds import RefundView
from edge.orders.view import OrderView
from edge.printing.documents import ReceiptSettings, receipt_document, refund_document
from edge.printing.jobs import Job, JobStore
from edge.printing.logo import ReceiptLogo
from edge.printing.queue import PrintQueue
from edge.printing.worker import PrinterState
from edge.runtime.errors import InvalidInput

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceSetup:
    """What `Devices.reload` can change: the devices and stations, receipt.* and print.*,
    which of the store's network printers this node drives (ownership.py), and the
    (printer, backup) pairs where a printer of this node stands in for another node's
    (standins.py)."""

    devices: DeviceSettings
    print_settings: PrintSettings
    receipt: ReceiptConfig
    driven: frozenset[str] = frozenset()
    stand_ins: frozenset[tuple[str, str]] = frozenset()


class Devices:
    """Everything this node drives."""

    def __init__(
        self,
        book: OrderBook,
        feed: OrderFeed,
        jobs: JobStore,
        setup: DeviceSetup,
        *,
        store_name: str,
        now: Callable[[], dt.datetime],
        ownership: DeviceOwnership | None = None,
        facts: PrintFacts | None = None,
        standins: Standins | None = None,
    ) -> None:
        self.book = book
        self.facts = facts
        self.standins = standins
        self.feed = feed
        self.jobs = jobs
        self.store_name = store_name
        self.ownership = ownership
        self.now = now
        self._reloads: asyncio.Queue[tuple[_Parts, asyncio.Future[None]]] = asyncio.Queue()
        self._use(self._assemble(setup))

    def _assemble(self, setup: DeviceSetup) -> _Parts:
        book, now = self.book, self.now
        driven = self.driven(setup)
        store_printers = frozenset(setup.devices.network) & driven
        routes = {s: p for s, p in setup.devices.stations.items() if p in driven}
        stand_ins = {}
        for printer, backup in setup.stand_ins:
            for station in (s for s, p in setup.devices.stations.items() if p == printer):
                routes[station] = backup
                stand_ins[station] = self.printer_name(printer, setup.devices)
        queue = PrintQueue(
            self.jobs,
            {p: c for p, c in setup.devices.printers.items() if p in driven},
            settings=setup.print_settings,
            zone=book.zone,
            now=lambda: now().timestamp(),
            logo=ReceiptLogo(setup.receipt.logo),
            facts=self.facts,
            store_printers=store_printers | {b for _, b in setup.stand_ins},
            remote=self.standins,
        )
        ownership = self.ownership
        return _Parts(
            setup,
            queue,
            KitchenRouter(
                book,
                self.feed,
                queue,
                routes=routes,
                now=now,
                store_printers=store_printers,
                taken=lambda p: ownership.taken.get(p) if ownership is not None else None,
                stand_ins=stand_ins,
            ),
            CashDrawers(
                book,
                queue,
                {
                    d: c
                    for d, c in setup.devices.drawers.items()
                    if c.printer is None or c.printer in driven
                },
            ),
            [CustomerDisplay(c, book, self.feed) for c in setup.devices.displays.values()],
            [BumpBar(c, book) for c in setup.devices.bump_bars.values()],
        )

    def driver_of(self, printer_id: str) -> str | None:
        """The node that drives printer `printer_id` now (None: none does)."""
        preferred = self.settings.network.get(printer_id)
        if preferred is None:
            return self.book.node.name
        if self.ownership is None:
            return preferred or None
        return self.ownership.driver(printer_id, preferred) or None

    def moved(self, printer_id: str) -> dict | None:
        """The last takeover or return of store printer `printer_id`, if it moved."""
        if self.ownership is None or printer_id not in self.settings.network:
            return None
        return self.ownership.moved(printer_id)

    def store_drivers(self) -> dict[str, str]:
        """The store's network printers, each with the node driving it ("none")."""
        return {
            p: self.driver_of(p) or "none"
            for p in self.settings.printers
            if p in self.settings.network
        }

    @staticmethod
    def printer_name(printer: str, settings: DeviceSettings) -> str:
        """The name people see of `printer`: another node's own printer is known by id."""
        config = settings.printers.get(printer)
        return config.name if config is not None else printer

    async def hand_back(self) -> None:
        """Let go of the tickets of every printer that is taking them back from a printer
        this node drives (standins.py, step 4)."""
        if self.standins is None:
            return
        for printer, backup in self.standins.returning(set(self.queue.workers)).items():
            name = self.printer_name(printer, self.settings)
            kept = await self.jobs.skip_waiting(
                backup, error=f"{name} prints it again", backup_for=name
            )
            await self.standins.handed_back(printer)
            log.info("%d ticket(s) for %s left on %s: it prints them itself", kept, name, backup)

    @staticmethod
    def driven(setup: DeviceSetup) -> set[str]:
        """The printers this node drives: its own, and the store's it drives now."""
        return driven_printers(setup.devices, setup.driven)

    def own_printers(self) -> set[str]:
        """The printers plugged into this node (not the store's network printers)."""
        return {p for p in self.settings.printers if p not in self.settings.network}

    def _use(self, parts: _Parts) -> None:
        self.setup = parts.setup
        self.settings = parts.setup.devices
        self.receipt = parts.setup.receipt
        self.queue = parts.queue
        self.router = parts.router
        self.drawers = parts.drawers
        self.displays = parts.displays
        self.bump_bars = parts.bump_bars

    def reload(self, setup: DeviceSetup) -> asyncio.Future[None]:
        """Drive the devices of `setup` from now on; `run` swaps them in, and then sets the
        future returned (so a caller can use a device it just added)."""
        swapped = asyncio.get_running_loop().create_future()
        self._reloads.put_nowait((self._assemble(setup), swapped))
        return swapped

    async def run(self) -> None:
        """Run every device task until cancelled, restarting them on each reload."""
        while True:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.queue.run(), name="print queue")]
                tasks.append(group.create_task(self.router.run(), name="kitchen routing"))
                for display in self.displays:
                    tasks.append(
                        group.create_task(display.run(), name=f"display {display.config.id}")
                    )
                for bar in self.bump_bars:
                    tasks.append(group.create_task(bar.run(), name=f"bump bar {bar.config.id}"))
                parts, swapped = await self._reloads.get()  # until a reload, or cancelled
                for task in tasks:
                    task.cancel()
            await self.jobs.requeue_interrupted()
            self._use(parts)
            if not swapped.done():
                swapped.set_result(None)
            await self._tell_orphans()

    async def _tell_orphans(self) -> None:
        """Hand over the jobs waiting for a store printer another node drives now (it
        prints what the order log says was not printed), and log the jobs left waiting for
        a printer the settings no longer have."""
        waiting: dict[str, int] = {}
        for (printer, _state), count in (await self.jobs.waiting_counts()).items():
            waiting[printer] = waiting.get(printer, 0) + count
        for printer, count in sorted(waiting.items()):
            if printer in self.settings.printers and printer not in self.queue.workers:
                driver = self.driver_of(printer) or "no node"
                skipped = await self.jobs.skip_waiting(printer, error=f"handed over to {driver}")
                log.warning(
                    "%d print job(s) of printer %s handed over to %s", skipped, printer, driver
                )
            elif printer not in self.settings.printers:
                log.warning(
                    "%d print job(s) wait for printer %r, which the configuration no longer "
                    "has; they print if it comes back",
                    count,
                    printer,
                )

    async def print_receipt(
        self, view: OrderView, *, key: str, printer: str | None, requested_by: str
    ) -> tuple[Job, bool]:
        """Queue the receipt of an order as it stands; returns (job, created)."""
        target = self.receipt_printer(printer)
        return await self.queue.submit(
            key=key,
            kind="receipt",
            printer=target,
            document=await self.receipt_of(view),
            order_id=view.id,
            requested_by=requested_by,
        )

    async def print_refund(
        self, view: OrderView, refund: RefundView, *, key: str, requested_by: str
    ) -> tuple[Job, bool]:
        """Queue the slip of one of an order's refunds on the receipt printer."""
        document = refund_document(
            view,
            refund,
            ReceiptSettings(self.store_name, self.receipt.header, self.receipt.footer),
            currency=(await self.book.catalog()).currency,
            printed_at=self.now(),
        )
        return await self.queue.submit(
            key=key,
            kind="refund",
            printer=self.receipt_printer(None),
            document=document,
            order_id=view.id,
            requested_by=requested_by,
        )

    async def receipt_of(self, view: OrderView) -> dict:
        """The print document of an order's receipt as it stands."""
        return receipt_document(
            view,
            ReceiptSettings(self.store_name, self.receipt.header, self.receipt.footer),
            currency=(await self.book.catalog()).currency,
            printed_at=self.now(),
        )

    def receipt_printer(self, asked: str | None) -> str:
        """The printer a receipt goes to: the one asked for, the configured one, or the only one."""
        if asked is not None:
            self.queue.worker(asked)
            return asked
        if self.receipt.printer:
            return self.receipt.printer
        printers = list(self.settings.printers)
        if len(printers) == 1:
            return printers[0]
        raise InvalidInput(
            "/printer",
            f"name one of this node's printers: {', '.join(printers)}"
            if printers
            else "this node has no printer",
        )

    def describe(self) -> list[dict]:
        """Every device with its kind, address and (for printers) its live state."""
        states = self.queue.states()
        found = []
        for printer_id, config in self.settings.printers.items():
            found.append(
                {
                    "id": printer_id,
                    "kind": "printer",
                    "name": config.name,
                    "url": config.url.text,
                    "backup": config.backup,
                    "stations": sorted(
                        s for s, p in self.settings.stations.items() if p == printer_id
                    ),
                    "driven_by": self.driver_of(printer_id),
                    "preferred_by": self.settings.network.get(printer_id) or None,
                    "moved": self.moved(printer_id),
                    **states.get(printer_id, PrinterState(state="elsewhere")).to_dict(),
                }
            )
        for drawer_id, drawer in self.settings.drawers.items():
            found.append(
                {
                    "id": drawer_id,
                    "kind": "drawer",
                    "name": drawer.name,
                    "url": drawer.url.text if drawer.url else None,
                    "printer": drawer.printer,
                    "open": _drawer_open(states.get(drawer.printer)) if drawer.printer else None,
                }
            )
        for display in self.displays:
            found.append(
                {
                    "id": display.config.id,
                    "kind": "display",
                    "name": display.config.name,
                    "url": display.config.url.text,
                    "showing": list(display.showing) if display.showing else None,
                }
            )
        for bar in self.bump_bars:
            found.append(
                {
                    "id": bar.config.id,
                    "kind": "bump_bar",
                    "name": bar.config.name,
                    "url": bar.config.url.text,
                    "station": bar.config.station,
                }
            )
        return found


def standing_in_here(
    standins: Standins | None, settings: DeviceSettings, driven: frozenset[str]
) -> frozenset[tuple[str, str]]:
    """The (printer, backup) pairs where a printer this node drives (its own of `settings`,
    and those of the store's it drives, `driven`) stands in for another node's now."""
    if standins is None:
        return frozenset()
    return frozenset(standins.standing_in(driven_printers(settings, driven)).items())


def driven_printers(settings: DeviceSettings, driven: frozenset[str]) -> set[str]:
    """The printers of `settings` this node drives: its own, and those of the store's
    network printers it drives now (`driven`)."""
    return {p for p in settings.printers if p not in settings.network or p in driven}


def _drawer_open(state) -> bool | None:
    if state is None or state.status is None:
        return None
    return state.status.drawer_open


@contextlib.asynccontextmanager
async def open_devices(
    book: OrderBook,
    feed: OrderFeed,
    settings: DeviceSettings,
    *,
    print_db: Path,
    print_settings: PrintSettings,
    receipt: ReceiptConfig,
    store_name: str,
    now: Callable[[], dt.datetime],
    ownership: DeviceOwnership | None = None,
    facts: PrintFacts | None = None,
    standins: Standins | None = None,
):
    """The node's devices over the job store at `print_db` (driving the store's printers
    `ownership` says, if given, recording in `facts` what they print, handing tickets to
    and from backups on other nodes through `standins`), closed on exit."""
    jobs = await JobStore.open(print_db, now=now().timestamp())
    driven = ownership.driving() if ownership is not None else frozenset()
    stand_ins = standing_in_here(standins, settings, driven)
    try:
        yield Devices(
            book,
            feed,
            jobs,
            DeviceSetup(settings, print_settings, receipt, driven, stand_ins),
            store_name=store_name,
            now=now,
            ownership=ownership,
            facts=facts,
            standins=standins,
        )
    finally:
        await jobs.close()


@dataclass(frozen=True, slots=True)
class _Parts:
    """The device objects assembled from one DeviceSetup."""

    setup: DeviceSetup
    queue: PrintQueue
    router: KitchenRouter
    drawers: CashDrawers
    displays: list[CustomerDisplay]
    bump_bars: list[BumpBar]
