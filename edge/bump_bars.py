"""Serial bump bars: keys become kitchen actions at the bar's station.

The bar's view of its station is the station's open tickets, oldest fire first, in pages
of nine (`1`-`9` select one of the page). `bump` marks the selected ticket (or the oldest)
done and `recall` brings back the last one this bar bumped; both are events in the order
log, so every node and screen agrees. The KDS screens (a later part) share this rail.
When the bar's line fails, the reader reconnects with capped backoff.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from drivers.bump_bar import BumpBarReader, BumpKey
from drivers.errors import DriverError

from .device_config import BumpBarConfig
from .errors import OrderError
from .order_view import OrderView
from .orderbook import Actor, OrderBook
from .status import open_tickets

log = logging.getLogger(__name__)

PAGE = 9
RETRY_CAP = 30.0


@dataclass(frozen=True, slots=True)
class Ticket:
    """One open kitchen ticket: a fire of an order at a station."""

    order_id: str
    number: str
    fire_id: str
    fired_at: str


def station_tickets(views: list[OrderView], station: str) -> list[Ticket]:
    """The open tickets of `station`, oldest fire first. Pure."""
    tickets = []
    for view in views:
        fires = {event.id: event for event in view.events if event.kind == "fire"}
        for fire_id, at_station in open_tickets(list(view.events)):
            if at_station == station and fire_id in fires:
                tickets.append(Ticket(view.id, view.number, fire_id, fires[fire_id].at))
    return sorted(tickets, key=lambda ticket: (ticket.fired_at, ticket.fire_id))


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
        failures = 0
        while True:
            reader = BumpBarReader(self.config.url)
            try:
                async for key in reader.keys():
                    if failures:
                        log.info("bump bar %s works again", self.config.name)
                    failures = 0
                    await self.press(key)
            except DriverError as exc:
                failures += 1
                if failures == 1:
                    log.warning("bump bar %s: %s; reconnecting", self.config.name, exc)
                await asyncio.sleep(min(RETRY_CAP, 0.5 * 2 ** min(failures, 8)))

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
