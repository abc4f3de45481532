"""The upstream backlog: orders, bytes and age of what the hub has not acknowledged.

Reading every order of a busy day to find the ones changed since the hub's last
acknowledgement takes about a second of the event loop for 5,000 orders, and the status
line, /metrics and the API ask every few seconds, the most while the internet is down on a
Friday night. So the backlog is kept as changes become durable: each business-day update's
sequence number, size and the orders it touched (from the order feed), forgotten once the
hub's acknowledgement covers it. Only changes made before this process started (it
remembers none of them) are found by reading the day, once per day.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from edge.orders.book import OrderBook
from edge.orders.clock import parse_hlc
from edge.orders.feed import OrderChange, OrderFeed
from sync.errors import UnknownDocument
from sync.replica import Replica
from sync.store import DocStore


@dataclass(slots=True)
class Backlog:
    """What the hub has not acknowledged yet."""

    documents: int = 0
    orders: int = 0
    bytes: int = 0  # the changes' size, before the link deflates them
    oldest_age: float | None = None  # seconds since the oldest change not acknowledged

    def to_dict(self) -> dict:
        return {
            "documents": self.documents,
            "orders": self.orders,
            "bytes": self.bytes,
            "oldest_age": self.oldest_age,
        }


@dataclass(slots=True)
class _Pending:
    """One durable update of a day the hub has not acknowledged."""

    at: float  # time.time() when it became durable (or, read at start, the order's change)
    bytes: int = 0
    order_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class _Day:
    updates: dict[int, _Pending] = field(default_factory=dict)  # seq -> update
    read_at_start: bool = False


class BacklogTracker:
    """Follows a store's business days for one link (the hub's) and reports its backlog."""

    def __init__(self, book: OrderBook, replica: Replica, feed: OrderFeed, link: str) -> None:
        self.book = book
        self.link = link
        self._replica = replica
        self._store: DocStore = replica.store
        self._floor = self._store.last_seq  # updates up to here happened before this process
        self._days: dict[str, _Day] = {}
        replica.add_listener(self._on_durable)
        feed.subscribe(self._on_change)

    def _day(self, guid: str) -> _Day:
        return self._days.setdefault(guid, _Day())

    def _on_durable(self, guid: str, update: bytes, origin: str, seq: int) -> None:
        if self._is_day(guid):
            self._day(guid).updates.setdefault(seq, _Pending(time.time())).bytes = len(update)

    def _on_change(self, change: OrderChange) -> None:
        if not change.catalog:
            updates = self._day(change.guid).updates
            updates.setdefault(change.cursor, _Pending(time.time())).order_ids = change.order_ids

    def _is_day(self, guid: str) -> bool:
        try:
            return self._store.document(guid).kind == "orders"
        except UnknownDocument:
            return False

    async def backlog(self) -> Backlog:
        backlog = Backlog()
        oldest: float | None = None
        for info in self._store.documents(kind="orders"):
            progress = await self._store.link_progress(self.link, info.guid)
            acked = progress.acked_seq if progress is not None else 0
            day = self._days.get(info.guid)
            if await self._store.last_seq_of(info.guid) <= acked:
                if day is not None:
                    day.updates.clear()
                continue
            day = self._day(info.guid)
            if acked < self._floor and not day.read_at_start:
                await self._read_at_start(info.guid, day, progress)
            for seq in [seq for seq in day.updates if seq <= acked]:
                del day.updates[seq]
            if not day.updates:
                continue
            backlog.documents += 1
            backlog.bytes += sum(p.bytes for p in day.updates.values())
            backlog.orders += len({o for p in day.updates.values() for o in p.order_ids})
            first = min(p.at for p in day.updates.values())
            oldest = first if oldest is None else min(oldest, first)
        backlog.oldest_age = None if oldest is None else max(0.0, time.time() - oldest)
        return backlog

    async def _read_at_start(self, guid: str, day: _Day, progress) -> None:
        """The day's changes the hub lacks that predate this process, read from the day:
        kept under the process's first sequence number, so the hub's first
        acknowledgement past it clears them."""
        day.read_at_start = True
        doc = await self._replica.open(guid)
        missing = doc.get_update(progress.state_vector if progress else b"\x00")
        acked_at = progress.updated_at if progress is not None else 0.0
        date = dt.date.fromisoformat(self._store.document(guid).meta["business_date"])
        changed = {}
        for view in await self.book.list_orders(date):
            at = max(_ms(step["at"]) for step in view.history()) / 1000
            if at > acked_at:
                changed[view.id] = at
        if changed:
            since_start = sum(p.bytes for p in day.updates.values())  # in `missing` too
            size = max(0, len(missing) - since_start)
            day.updates[self._floor] = _Pending(min(changed.values()), size, tuple(changed))


def _ms(stamp: str) -> int:
    try:
        return parse_hlc(stamp)[0]
    except ValueError:
        return 0
