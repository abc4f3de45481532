"""Customer line displays: the last line added and the running total, then a thank-you.

A display follows the orders written by the terminals whose names start with its `follows`
setting (every order changed on this node when unset). What it shows is derived from the
order (pure: `display_lines`); the adapter sends a frame only when the text changes, and
when the display fails it retries with capped backoff and shows the latest text on return.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from drivers.errors import DriverError
from drivers.line_display import LineDisplay
from edge.config.devices import DisplayConfig
from edge.orders.book import OrderBook
from edge.orders.feed import OrderChange, OrderFeed
from edge.orders.money import exponent
from edge.orders.status import Status
from edge.orders.view import OrderView
from edge.runtime.retry import Retry

log = logging.getLogger(__name__)

WIDTH = 20
RETRY_CAP = 30.0


def _amount(minor: int, currency: str) -> str:
    digits = exponent(currency)
    major, cents = divmod(abs(minor), 10**digits)
    text = f"{major}.{cents:0{digits}d}" if digits else str(major)
    return ("-" if minor < 0 else "") + text


def _row(left: str, right: str) -> str:
    room = WIDTH - len(right) - 1
    return f"{left[:room]:<{room}} {right}"


def display_lines(view: OrderView, currency: str) -> tuple[str, str]:
    """The two lines a customer should see for `view` now."""
    totals = view.totals
    if view.status == Status.CLOSED:
        if totals.change_due:
            return "Thank you!", _row("Change", _amount(totals.change_due, currency))
        return "Thank you!", ""
    live = [line for line in view.lines if not line.voided]
    if live:
        last = max(live, key=lambda line: (line.at, line.id))
        name = f"{last.qty} {last.name}" if last.qty > 1 else last.name
        first = _row(name, _amount(last.gross, currency))
    else:
        first = f"Order {view.number}"
    return first, _row("Total", _amount(totals.total, currency))


def _last_author(view: OrderView) -> str:
    history = view.history()
    return history[-1]["by"] if history else view.opened_by


class CustomerDisplay:
    """Keeps one line display showing the order it follows."""

    def __init__(self, config: DisplayConfig, book: OrderBook, feed: OrderFeed) -> None:
        self.config = config
        self.book = book
        self.feed = feed
        self.showing: tuple[str, str] | None = None
        self._latest: OrderView | None = None
        self._changed = asyncio.Event()

    def follows(self, view: OrderView) -> bool:
        prefix = self.config.follows
        return prefix is None or _last_author(view).startswith(prefix)

    def _on_change(self, change: OrderChange) -> None:
        for order_id in change.order_ids:
            view = self.book.loaded_view(order_id)
            if view is not None and self.follows(view):
                self._latest = view
                self._changed.set()

    async def _wanted(self) -> tuple[str, str]:
        if self._latest is None:
            return "Welcome", ""
        return display_lines(self._latest, (await self.book.catalog()).currency)

    async def run(self) -> None:
        """Show what the followed orders call for until cancelled."""
        unsubscribe = self.feed.subscribe(self._on_change)
        display = LineDisplay(self.config.url)
        retry = Retry(log, base=0.5, cap=RETRY_CAP)
        self._changed.set()
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                wanted = await self._wanted()
                if wanted == self.showing:
                    continue
                try:
                    await display.show(*wanted)
                except DriverError as exc:
                    retry.failed("customer display %s: %s", self.config.name, exc)
                    self._changed.set()
                    await asyncio.sleep(retry.delay())
                    continue
                retry.succeeded("customer display %s works again", self.config.name)
                self.showing = wanted
        finally:
            unsubscribe()
            with contextlib.suppress(DriverError):
                await display.close()
