"""Opening, moving cash in and out of, and closing cash drawer sessions, written to the
business day's `drawer_sessions` map through the order log (see sessions.py)."""

from __future__ import annotations

import datetime as dt

from edge.orders.book import OrderBook
from edge.orders.cash.sessions import DRAWER_SESSIONS, MOVEMENTS, CashDay, DrawerSession, cash_day
from edge.orders.ids import entry_id
from edge.orders.log import Actor
from edge.orders.refund_book import require_manager
from edge.orders.validation import MAX_AMOUNT, require_int, require_text
from edge.runtime.errors import DrawerSessionConflict, InvalidInput, UnknownDrawerSession

MAX_PIECES = 100_000  # of one denomination in one count


def counted(amount: object, denominations: object, field: str) -> tuple[int, dict | None]:
    """A count of cash: a total (`amount`), or pieces per denomination (minor units, as
    text: {"2000": 3, "25": 8}), or both when they agree."""
    if denominations is None:
        if amount is None:
            raise InvalidInput(f"/{field}", "give the amount, or the denominations counted")
        return require_int(amount, f"/{field}", 0, MAX_AMOUNT), None
    if not isinstance(denominations, dict) or not denominations:
        raise InvalidInput("/denominations", 'must be an object such as {"2000": 3, "25": 8}')
    pieces = {}
    for value, count in denominations.items():
        if not value.isdigit() or int(value) <= 0 or len(value) > 9:
            raise InvalidInput(f"/denominations/{value}", "must name a value in minor units")
        pieces[str(int(value))] = require_int(count, f"/denominations/{value}", 0, MAX_PIECES)
    total = sum(int(value) * count for value, count in pieces.items())
    if amount is not None and require_int(amount, f"/{field}", 0, MAX_AMOUNT) != total:
        raise InvalidInput(f"/{field}", f"the denominations come to {total}, not {amount}")
    return total, pieces


def session_day(session_id: str) -> dt.date:
    """The business day a session was opened on, from its id (`YYYYMMDD-…`)."""
    try:
        return dt.datetime.strptime(session_id[:8], "%Y%m%d").date()
    except ValueError:
        raise UnknownDrawerSession(f"no drawer session {session_id!r}") from None


class DrawerSessions:
    """The store's cash drawer sessions, over the order book."""

    def __init__(self, book: OrderBook) -> None:
        self.book = book

    async def day(self, day: dt.date) -> CashDay:
        """Business day `day`'s sessions, with the cash of its orders."""
        entries = await self.book.day_facts(day, DRAWER_SESSIONS)
        return cash_day(entries, await self.book.list_orders(day))

    async def get(self, session_id: str) -> DrawerSession:
        session = (await self.day(session_day(session_id))).session(session_id)
        if session is None:
            raise UnknownDrawerSession(f"no drawer session {session_id!r}")
        return session

    async def open(
        self,
        actor: Actor,
        drawer: str,
        *,
        amount: object = None,
        denominations: object = None,
        request_key: str | None = None,
    ) -> DrawerSession:
        """Open a session on `drawer` with its float; refused while it has one open."""
        total, pieces = counted(amount, denominations, "amount")
        day = self.book.business_date()
        session_id = f"{day:%Y%m%d}-{entry_id(request_key, 'drawer session')}"
        known = await self.day(day)
        if known.session(session_id) is not None:
            return await self.get(session_id)  # the retry of the request that opened it
        already = known.open_session(drawer)
        if already is not None:
            raise DrawerSessionConflict(
                f"drawer {drawer} has session {already.id} open since {already.opened.at}; "
                "close it with a count first"
            )
        entry = {"kind": "open", "amount": total, "denominations": pieces}
        await self._write(actor, day, session_id, drawer, session_id, entry)
        return await self.get(session_id)

    async def move(
        self,
        actor: Actor,
        session_id: str,
        *,
        kind: str,
        amount: object,
        reason: object,
        request_key: str | None = None,
    ) -> DrawerSession:
        """Pay cash in, pay it out (managers) or drop it to the safe, with a reason."""
        if kind not in MOVEMENTS:
            raise InvalidInput("/kind", f"must be one of {', '.join(MOVEMENTS)}")
        amount = require_int(amount, "/amount", 1, MAX_AMOUNT)
        reason = require_text(reason, "/reason")
        if kind == "paid_out":
            require_manager(actor, "pay cash out of a drawer")
        session = await self._open_one(session_id, "move cash")
        entry = {"kind": kind, "amount": amount, "reason": reason}
        key = entry_id(request_key, f"drawer {kind}")
        await self._write(actor, session_day(session_id), key, session.drawer, session_id, entry)
        return await self.get(session_id)

    async def close(
        self,
        actor: Actor,
        session_id: str,
        *,
        amount: object = None,
        denominations: object = None,
    ) -> DrawerSession:
        """Close a session with the cash counted in its drawer; closing it twice is once."""
        total, pieces = counted(amount, denominations, "amount")
        session = await self.get(session_id)
        if session.closed is not None:
            return session
        entry = {"kind": "close", "amount": total, "denominations": pieces}
        key = entry_id(None, "drawer close")  # of two nodes' closes, the first counts
        await self._write(actor, session_day(session_id), key, session.drawer, session_id, entry)
        return await self.get(session_id)

    async def _open_one(self, session_id: str, doing: str) -> DrawerSession:
        session = await self.get(session_id)
        if session.closed is not None:
            raise DrawerSessionConflict(
                f"drawer session {session_id} was closed at {session.closed.at}; cannot {doing}"
            )
        return session

    async def _write(
        self, actor: Actor, day: dt.date, key: str, drawer: str, session_id: str, entry: dict
    ) -> None:
        fact = {
            **entry,
            "session": session_id,
            "drawer": drawer,
            **actor.stamp(self.book.clock.now()),
        }
        await self.book.record_day_fact(day, DRAWER_SESSIONS, key, fact)
