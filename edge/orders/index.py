"""Summaries of a business day's orders, for listing and searching without deriving them all.

Deriving every order of a busy day costs about a second, so the index derives a day once
(in slices, letting other work run between them) and then keeps each summary current from
the order feed. Searches filter and page through the summaries.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
from dataclasses import dataclass

from edge.orders.book import OrderBook
from edge.orders.feed import OrderChange, OrderFeed
from edge.orders.status import Status
from edge.orders.view import OrderView, derive_order
from edge.runtime.errors import InvalidInput

BUILD_SLICE = 200  # orders derived between two yields to the event loop
MAX_PAGE = 500
KEPT_DAYS = 8  # days whose summaries stay in memory; an older one is read again if asked


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """What a list of orders shows of each."""

    id: str
    number: str
    business_date: str
    status: Status
    channel: str
    table: str | None
    guests: int
    opened_at: str
    lines: int  # lines not voided
    total: int
    paid: int
    balance_due: int

    @classmethod
    def of(cls, view: OrderView) -> OrderSummary:
        return cls(
            id=view.id,
            number=view.number,
            business_date=view.business_date,
            status=view.status,
            channel=view.channel,
            table=view.table,
            guests=view.guests,
            opened_at=view.opened_at,
            lines=sum(1 for line in view.lines if not line.voided),
            total=view.totals.total,
            paid=view.totals.paid,
            balance_due=view.totals.balance_due,
        )

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.opened_at, self.id)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "number": self.number,
            "business_date": self.business_date,
            "status": self.status.label,
            "channel": self.channel,
            "table": self.table,
            "guests": self.guests,
            "opened_at": self.opened_at,
            "lines": self.lines,
            "total": self.total,
            "paid": self.paid,
            "balance_due": self.balance_due,
        }


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """A search: every field left None matches everything."""

    statuses: frozenset[Status] | None = None
    number: str | None = None  # case-insensitive; "12" finds A-012 and B-112
    table: str | None = None  # exact, case-insensitive
    open_only: bool = False  # not yet closed or void
    limit: int = 50
    after: str | None = None  # the page token of the previous page

    def matches(self, summary: OrderSummary) -> bool:
        if self.open_only and summary.status >= Status.CLOSED:
            return False
        if self.statuses is not None and summary.status not in self.statuses:
            return False
        if self.number is not None and self.number.upper() not in summary.number.upper():
            return False
        return self.table is None or (summary.table or "").casefold() == self.table.casefold()


def page_token(summary: OrderSummary) -> str:
    return base64.urlsafe_b64encode(f"{summary.opened_at}|{summary.id}".encode()).decode()


def _after_key(token: str) -> tuple[str, str]:
    try:
        opened_at, order_id = base64.urlsafe_b64decode(token.encode()).decode().split("|")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("/after", "not a page token this server gave out") from None
    return opened_at, order_id


class OrderIndex:
    """Summaries of the orders of the business days asked about, kept current."""

    def __init__(self, book: OrderBook, feed: OrderFeed) -> None:
        self._book = book
        self._days: dict[str, dict[str, OrderSummary]] = {}  # day guid → id → summary
        self._building: dict[str, asyncio.Future[None]] = {}
        feed.subscribe(self._on_change)

    def _on_change(self, change: OrderChange) -> None:
        summaries = self._days.get(change.guid)
        if summaries is None:
            return  # a day nobody asked about yet: it is read whole when first asked
        for order_id in change.order_ids:
            view = self._book.loaded_view(order_id)
            if view is not None:
                summaries[order_id] = OrderSummary.of(view)

    async def day(self, day: dt.date) -> dict[str, OrderSummary]:
        """The summaries of one business day's orders, by id (built on first use)."""
        guid = self._book.day_guid(day)
        building = self._building.get(guid)
        if building is None:
            building = asyncio.ensure_future(self._build(day, guid))
            self._building[guid] = building
            self._forget_old_days()
        self._building[guid] = self._building.pop(guid)  # the most recently asked, last
        await asyncio.shield(building)
        return self._days[guid]

    def _forget_old_days(self) -> None:
        for guid in list(self._building)[: max(0, len(self._building) - KEPT_DAYS)]:
            if self._building[guid].done():
                del self._building[guid]
                self._days.pop(guid, None)

    async def _build(self, day: dt.date, guid: str) -> None:
        summaries: dict[str, OrderSummary] = {}
        self._days[guid] = summaries  # from now on the feed keeps what it touches current
        if not self._book.day_exists(day):
            return  # a day yet to start: every order it gets will come through the feed
        try:
            orders = await self._book.day_contents(day)
        except BaseException:
            del self._days[guid], self._building[guid]  # the next search tries again
            raise
        items = list(orders.items())
        for start in range(0, len(items), BUILD_SLICE):
            for order_id, order in items[start : start + BUILD_SLICE]:
                # A summary set by the feed meanwhile is newer than these contents.
                if order_id not in summaries and isinstance(order, dict):
                    summaries[order_id] = OrderSummary.of(derive_order(order))
            await asyncio.sleep(0)

    async def search(
        self, day: dt.date, query: OrderQuery
    ) -> tuple[list[OrderSummary], str | None]:
        """One page of the day's orders matching `query`, oldest first, and the next page's
        token (None on the last page)."""
        if not self._book.day_exists(day):
            return [], None
        summaries = await self.day(day)
        after = _after_key(query.after) if query.after else None
        found = sorted(
            (
                s
                for s in summaries.values()
                if query.matches(s) and (after is None or s.sort_key > after)
            ),
            key=lambda s: s.sort_key,
        )
        page = found[: query.limit]
        more = len(found) > query.limit
        return page, page_token(page[-1]) if more else None

    def open_count(self, day: dt.date) -> int | None:
        """How many orders of `day` are open (not closed or void); None if not indexed."""
        summaries = self._days.get(self._book.day_guid(day))
        if summaries is None:
            return None
        return sum(1 for s in summaries.values() if s.status < Status.CLOSED)
