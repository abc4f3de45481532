"""This node's devices, assembled: the print queue and its printers, kitchen routing, cash
drawers, customer displays and bump bars. `Devices.run` owns every device task.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from .bump_bars import BumpBar
from .config import PrintSettings, ReceiptConfig
from .customer_display import CustomerDisplay
from .device_config import DeviceSettings
from .drawer import CashDrawers
from .errors import InvalidInput
from .kitchen import KitchenRouter
from .logo import ReceiptLogo
from .order_feed import OrderFeed
from .order_view import OrderView
from .orderbook import OrderBook
from .print_documents import ReceiptSettings, receipt_document
from .print_jobs import Job, JobStore
from .print_queue import PrintQueue


class Devices:
    """Everything this node drives."""

    def __init__(
        self,
        book: OrderBook,
        feed: OrderFeed,
        jobs: JobStore,
        settings: DeviceSettings,
        *,
        print_settings: PrintSettings,
        receipt: ReceiptConfig,
        store_name: str,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.book = book
        self.settings = settings
        self.receipt = receipt
        self.store_name = store_name
        self.now = now
        self.queue = PrintQueue(
            jobs,
            settings.printers,
            settings=print_settings,
            zone=book.zone,
            now=lambda: now().timestamp(),
            logo=ReceiptLogo(receipt.logo),
        )
        self.router = KitchenRouter(book, feed, self.queue, routes=settings.stations, now=now)
        self.drawers = CashDrawers(book, self.queue, settings.drawers)
        self.displays = [CustomerDisplay(c, book, feed) for c in settings.displays.values()]
        self.bump_bars = [BumpBar(c, book) for c in settings.bump_bars.values()]

    async def run(self) -> None:
        """Run every device task until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.queue.run(), name="print queue")
            group.create_task(self.router.run(), name="kitchen routing")
            for display in self.displays:
                group.create_task(display.run(), name=f"display {display.config.id}")
            for bar in self.bump_bars:
                group.create_task(bar.run(), name=f"bump bar {bar.config.id}")
            await asyncio.Event().wait()  # until cancelled, even with no devices at all

    async def print_receipt(
        self, view: OrderView, *, key: str, printer: str | None, requested_by: str
    ) -> tuple[Job, bool]:
        """Queue the receipt of an order as it stands; returns (job, created)."""
        target = self.receipt_printer(printer)
        catalog = await self.book.catalog()
        document = receipt_document(
            view,
            ReceiptSettings(self.store_name, self.receipt.header, self.receipt.footer),
            currency=catalog.currency,
            printed_at=self.now(),
        )
        return await self.queue.submit(
            key=key,
            kind="receipt",
            printer=target,
            document=document,
            order_id=view.id,
            requested_by=requested_by,
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
                    **states[printer_id].to_dict(),
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
):
    """The node's devices over the job store at `print_db`, closed on exit."""
    jobs = await JobStore.open(print_db, now=now().timestamp())
    try:
        yield Devices(
            book,
            feed,
            jobs,
            settings,
            print_settings=print_settings,
            receipt=receipt,
            store_name=store_name,
            now=now,
        )
    finally:
        await jobs.close()
