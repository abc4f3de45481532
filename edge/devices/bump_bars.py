"""Serial bump bars: keys become kitchen actions at the bar's station.

The bar's view of its station is the station's open tickets as the KDS screens show them
(edge/kitchen/tickets.py: rushed orders first, then oldest fire first), in pages of nine (`1`-`9`
select one of the page). `bump` marks the selected ticket (or the page's first) done and
`recall` brings back the last one this bar bumped; both are events in the order log, so
every node and screen agrees. When the bar's line fails, the reader reconnects with capped
backoff.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from drivers.bump_bar import BumpBarReader, BumpKey
from drivers.errors import DriverError
from edge.config.devices import BumpBarConfig
from edge.kitchen.tickets import PAGE, station_tickets
from edge.orders.book import OrderBook
from edge.orders.log import Actor
from edge.runtime.errors import OrderError
from edge.runtime.retry import Retry

log = logging.getLogger(__name__)

RETRY_CAP = 30.0


@dataclass(slots=True)
class BumpBarRail:
    """One bar's selection and page, and the bumps it can recall."""

    page: int = 0
    selected: int | None = None
    bumped: list[tuple[str, str]] = field(default_factory=list)  # (order id, bump event id)


class BumpBar:
    """Reads one serial bump bar and acts on its station's tickets."""

    def __init__(self, config: BumpBarConfig, book: OrderBook) -> None:
        self.config = config
        self.book = book
        self.rail = BumpBarRail()
        self.actor = Actor(f"{config.name} (bump bar)")

    async def run(self) -> None:
        """Read keys and act on them until cancelled, reconnecting after failures."""
        retry = Retry(log, base=0.5, cap=RETRY_CAP)
        while True:
            reader = BumpBarReader(self.config.url)
            try:
                async for key in reader.keys():
                    retry.succeeded("bump bar %s works again", self.config.name)
                    await self.press(key)
            except DriverError as exc:
                retry.failed("bump bar %s: %s; reconnecting", self.config.name, exc)
                await asyncio.sleep(retry.delay())

    async def press(self, key: BumpKey) -> None:
        """Do what one key asks at this bar's station."""
        rail = self.rail
        if key.action == "select" and key.index is not None:
            rail.selected = rail.page * PAGE + key.index - 1
        elif key.action == "next_page":
            rail.page, rail.selected = rail.page + 1, None
        elif key.action == "previous_page":
            rail.page, rail.selected = max(0, rail.page - 1), None
        elif key.action == "home":
            rail.page, rail.selected = 0, None
        elif key.action == "bump":
            await self._bump()
        elif key.action == "recall":
            await self._recall()

    async def _bump(self) -> None:
        tickets = station_tickets(await self.book.list_orders(), self.config.station)
        rail = self.rail
        index = rail.selected if rail.selected is not None else rail.page * PAGE
        rail.selected = None
        if not 0 <= index < len(tickets):
            return
        ticket = tickets[index]
        try:
            view = await self.book.bump(
                self.actor, ticket.order_id, fire_id=ticket.fire_id, station=self.config.station
            )
        except OrderError as exc:
            log.warning("bump bar %s: cannot bump %s: %s", self.config.name, ticket.number, exc)
            return
        bump = max(
            (e for e in view.events if e.kind == "bump" and e.detail.get("fire") == ticket.fire_id),
            key=lambda e: e.at,
        )
        rail.bumped.append((ticket.order_id, bump.id))

    async def _recall(self) -> None:
        if not self.rail.bumped:
            return
        order_id, bump_id = self.rail.bumped.pop()
        try:
            await self.book.recall(self.actor, order_id, bump_id=bump_id)
        except OrderError as exc:
            log.warning("bump bar %s: cannot recall: %s", self.config.name, exc)
