"""Archiving past business days: read-only, compacted, and out of memory.

A business day stays live (writable, replicated with the peers, pushed to the hub) while
the peers keep it in sync (`peers.days`, today's included). Then, once the hub has
acknowledged all of it (when the store has a hub) and none of its orders is still open, it
is archived: closed (read-only;
a peer's late change to it stays on that peer, and reaches the hub from there), compacted
into one snapshot, and dropped from memory. It stays readable: asking for one of its orders
loads it again, and the next sweep drops it again. So what a node holds in memory, and what
it opens at start, is today and the few days before it, however long it has run.

A day with an open order is not archived (it is logged once): a manager closes or voids
the order, and the next sweep archives the day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from edge.orders.book import OrderBook
from edge.replication.upstream import UpstreamLink
from edge.runtime.errors import OrderNotEditable
from sync.errors import StoreUnavailable
from sync.store import DocStore

log = logging.getLogger(__name__)

SWEEP_EVERY = 600.0  # seconds between sweeps (and one at start)


class DayArchive:
    """Archives the days that are due (`sweep`); `run` sweeps until cancelled."""

    def __init__(
        self,
        book: OrderBook,
        store: DocStore,
        *,
        after_days: int,
        upstream: UpstreamLink | None = None,
        every: float = SWEEP_EVERY,
    ) -> None:
        self.book = book
        self.store = store
        self.after_days = after_days
        self.upstream = upstream
        self.every = every
        self._open_orders_logged: set[str] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except StoreUnavailable as exc:
                log.warning("archiving past business days: %s; trying again later", exc)
            await asyncio.sleep(self.every)

    def due(self, day: dt.date) -> bool:
        return day <= self.book.business_date() - dt.timedelta(days=self.after_days)

    async def sweep(self) -> list[dt.date]:
        """Archive every day that is due; drop archived days read since from memory.
        Returns the days archived now."""
        store = self.store
        waiting = set(await self.upstream.unacknowledged("orders")) if self.upstream else set()
        archived = []
        for info in store.documents(kind="orders"):
            day = dt.date.fromisoformat(info.meta["business_date"])
            if not self.due(day) or info.guid in waiting:
                continue
            if not info.closed:
                if not await self._close(day, info.guid):
                    continue
                await store.compact(info.guid)
                archived.append(day)
                log.info("business day %s archived: read-only and out of memory", day)
            self.book.forget_day(day)
        return archived

    async def _close(self, day: dt.date, guid: str) -> bool:
        try:
            await self.book.close_business_day(day)
        except OrderNotEditable as exc:
            if guid not in self._open_orders_logged:
                self._open_orders_logged.add(guid)
                log.warning("%s; it is archived once they are closed or voided", exc)
            return False
        return True
