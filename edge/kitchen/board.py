"""The kitchen display board: today's tickets, kept current from the order feed.

The KDS screens (edge/http/api/kds.py) show a station's open tickets, or every order's progress
(expo). The board holds the views of today's fired orders and follows the order feed, which
carries this node's writes and its peers' alike, so a fire, bump or recall made anywhere in
the store reaches every screen of every node. A screen watches the board for changes at its
station and asks for a snapshot: the whole list, never a diff, so a screen that missed
something is right again with the next one.

The board covers the current business day; when the day rolls over it starts afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from edge.config.model import KdsSettings
from edge.kitchen.tickets import (
    all_day,
    expo_orders,
    order_tickets,
    recent_bumps,
    station_tickets,
)
from edge.orders.book import OrderBook
from edge.orders.feed import OrderChange, OrderFeed
from edge.orders.view import OrderView

EXPO = "expo"  # the view of every station, in place of a station's id
EXPO_READY_SECONDS = 300  # how long expo keeps showing an order whose tickets are all bumped

Poke = Callable[[], None]


class KdsBoard:
    """Today's fired orders, and who to tell when a station's tickets change.

    Call it on the event loop only (the order book's documents live there).
    """

    def __init__(
        self,
        book: OrderBook,
        feed: OrderFeed,
        *,
        settings: KdsSettings,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.book = book
        self.settings = settings
        self.now = now
        self._day: dt.date | None = None
        self._views: dict[str, OrderView] = {}  # order id → view, for orders with tickets
        self._watchers: dict[Poke, str] = {}  # poke → the station it shows, or EXPO
        feed.subscribe(self._on_change)

    def watch(self, station: str, poke: Poke) -> Callable[[], None]:
        """Call `poke()` whenever `station`'s tickets (or, for EXPO, any) may have changed;
        returns the unwatcher."""
        self._watchers[poke] = station
        return lambda: self._watchers.pop(poke, None)

    async def _current(self) -> list[OrderView]:
        """The views of today's fired orders, loaded again when the day has rolled over."""
        today = self.book.business_date()
        if today != self._day:
            views = await self.book.list_orders(today)
            self._views = {view.id: view for view in views if order_tickets(view)}
            self._day = today
        return list(self._views.values())

    def _on_change(self, change: OrderChange) -> None:
        if change.catalog:  # station names may have changed
            self._poke(None)
            return
        if self._day is None:
            return  # nothing loaded yet: the first snapshot reads the day as it is
        if change.guid != self.book.day_guid(self._day):
            if change.guid == self.book.day_guid(self.book.business_date()):
                self._day, self._views = None, {}  # the day rolled over: start afresh
                self._poke(None)
            return
        stations: set[str] = set()
        for order_id in change.order_ids:
            before = self._views.pop(order_id, None)
            if before is not None:
                stations.update(t.station for t in order_tickets(before))
            view = self.book.loaded_view(order_id)
            tickets = order_tickets(view) if view is not None else []
            if tickets:
                self._views[order_id] = view
                stations.update(t.station for t in tickets)
        if stations:
            self._poke(stations)

    def _poke(self, stations: set[str] | None) -> None:
        for poke, station in list(self._watchers.items()):
            if stations is None or station == EXPO or station in stations:
                poke()

    async def station_names(self) -> dict[str, str]:
        """The catalog's stations: id → name."""
        return dict((await self.book.catalog()).stations)

    def _common(self) -> dict:
        return {
            "now": int(self.now().timestamp() * 1000),
            "zone": self.book.zone.key,  # the store's time zone, for the screen's clock
            "warn_after": round(self.settings.warn_after * 60),
            "late_after": round(self.settings.late_after * 60),
        }

    async def snapshot(self, station: str) -> dict:
        """What a screen of `station` (or EXPO) shows now, as JSON-ready data."""
        views = await self._current()
        names = await self.station_names()
        if station == EXPO:
            common = self._common()
            return {
                "type": "snapshot",
                "view": EXPO,
                **common,
                "stations": [{"id": key, "name": name} for key, name in names.items()],
                "orders": expo_orders(
                    views, now_ms=common["now"], ready_for_ms=EXPO_READY_SECONDS * 1000
                ),
            }
        tickets = station_tickets(views, station)
        return {
            "type": "snapshot",
            "view": "station",
            **self._common(),
            "station": {"id": station, "name": names.get(station, station)},
            "tickets": [ticket.to_dict() for ticket in tickets],
            "all_day": [{"name": name, "qty": qty} for name, qty in all_day(tickets)],
            "recent_bumps": [bump.to_dict() for bump in recent_bumps(views, station)],
        }

    def tick(self) -> dict:
        """A keep-alive for screens: the server's time, so a quiet screen knows it is live."""
        return {"type": "tick", "now": self._common()["now"]}
