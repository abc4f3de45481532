"""Cash drawer sessions, derived from a business day's `drawer_sessions` entries and its
orders. Pure logic.

A session is opened on a drawer with a float, takes paid-ins, paid-outs and drops, and is
closed with a count. Its expected cash is the float, plus the cash its drawer took for
orders while it was open (cash payments not reversed, less the change given, less cash
refunds, over-refunds included: that money went out), plus paid-ins, less paid-outs and
drops. An order's cash goes to the drawer last opened for it (its latest `drawer` event),
or, for an order no drawer was opened for, to the only drawer with a session open at the
time; cash that fits neither is the day's unassigned cash, shown in the reports.

The entries are immutable and keyed by a fresh id, so what two nodes write never collides;
a session lives in the document of the business day it was opened on, so it follows its
drawer whichever node drives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edge.orders.entries import as_int, as_text, optional_text
from edge.orders.refunds import CASH_TENDERS
from edge.orders.view import OrderView

DRAWER_SESSIONS = "drawer_sessions"  # the root map of a business day holding them
MOVEMENTS = ("paid_in", "paid_out", "drop")
KINDS = ("open", "close", *MOVEMENTS)


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One entry: a session's open, a movement of cash, or its close."""

    id: str
    kind: str
    session: str
    drawer: str
    amount: int  # the float (open), the amount moved, or the count (close)
    denominations: dict[str, int] | None  # denomination in minor units -> how many
    reason: str
    at: str
    by: str
    employee: str | None
    approved_by: str | None


@dataclass(frozen=True, slots=True)
class CashIn:
    """Cash an order put into (or, negative, took out of) a drawer, at a moment."""

    order: str
    number: str
    amount: int
    at: str


@dataclass(slots=True)
class DrawerSession:
    """A session of a drawer as it now stands."""

    id: str
    drawer: str
    opened: SessionEntry
    movements: list[SessionEntry] = field(default_factory=list)
    closed: SessionEntry | None = None
    sales: list[CashIn] = field(default_factory=list)

    @property
    def cash_sales(self) -> int:
        return sum(c.amount for c in self.sales)

    def moved(self, kind: str) -> int:
        return sum(m.amount for m in self.movements if m.kind == kind)

    @property
    def expected(self) -> int:
        return (
            self.opened.amount
            + self.cash_sales
            + self.moved("paid_in")
            - self.moved("paid_out")
            - self.moved("drop")
        )

    @property
    def over_short(self) -> int | None:
        """Counted less expected once closed: negative is short."""
        return None if self.closed is None else self.closed.amount - self.expected

    def holds(self, at: str) -> bool:
        """Whether the session was open at stamp `at`."""
        return self.opened.at <= at and (self.closed is None or at <= self.closed.at)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "drawer": self.drawer,
            "state": "open" if self.closed is None else "closed",
            "opened_at": self.opened.at,
            "opened_by": self.opened.employee or self.opened.by,
            "float": self.opened.amount,
            "float_denominations": self.opened.denominations,
            "cash_sales": self.cash_sales,
            "orders": len({c.order for c in self.sales}),
            "paid_in": self.moved("paid_in"),
            "paid_out": self.moved("paid_out"),
            "drops": self.moved("drop"),
            "expected": self.expected,
            "counted": None if self.closed is None else self.closed.amount,
            "count_denominations": None if self.closed is None else self.closed.denominations,
            "over_short": self.over_short,
            "closed_at": None if self.closed is None else self.closed.at,
            "closed_by": None if self.closed is None else self.closed.employee or self.closed.by,
            "movements": [
                {
                    "id": m.id,
                    "kind": m.kind,
                    "amount": m.amount,
                    "reason": m.reason,
                    "at": m.at,
                    "by": m.employee or m.by,
                    "approved_by": m.approved_by,
                }
                for m in self.movements
            ],
        }


@dataclass(frozen=True, slots=True)
class CashDay:
    """A business day's drawer sessions and the cash no session took."""

    sessions: tuple[DrawerSession, ...]
    unassigned: tuple[CashIn, ...]

    def session(self, session_id: str) -> DrawerSession | None:
        return next((s for s in self.sessions if s.id == session_id), None)

    def open_session(self, drawer: str) -> DrawerSession | None:
        return next((s for s in self.sessions if s.drawer == drawer and s.closed is None), None)


def parse_entry(key: str, entry: dict) -> SessionEntry:
    """An entry of `drawer_sessions` (ValueError, KeyError, … when it is not one)."""
    kind = as_text(entry["kind"])
    if kind not in KINDS:
        raise ValueError(f"not a kind of drawer session entry: {kind!r}")
    amount = as_int(entry["amount"])
    if amount < 0 or (kind in MOVEMENTS and amount == 0):
        raise ValueError("an amount must be positive")
    denominations = entry.get("denominations")
    if denominations is not None:
        denominations = {str(k): as_int(v) for k, v in dict(denominations).items()}
    return SessionEntry(
        id=key,
        kind=kind,
        session=as_text(entry["session"]),
        drawer=as_text(entry["drawer"]),
        amount=amount,
        denominations=denominations,
        reason=as_text(entry.get("reason"), ""),
        at=as_text(entry["at"]),
        by=as_text(entry.get("by"), ""),
        employee=optional_text(entry.get("employee")),
        approved_by=optional_text(entry.get("approved_by")),
    )


def cash_of(view: OrderView) -> list[CashIn]:
    """The cash an order put into its drawer and took back out, each at its moment."""
    moves: list[CashIn] = []
    for tender in view.refunds.tenders:
        if tender.tender not in CASH_TENDERS:
            continue
        payments = [
            p
            for p in view.payments
            if p.tender == tender.tender and p.key not in view.refunds.reversed
        ]
        if payments and tender.paid > tender.change:
            at = max(p.at for p in payments)
            moves.append(CashIn(view.id, view.number, tender.paid - tender.change, at))
    for refund in view.refunds.refunds:
        if refund.tender in CASH_TENDERS:
            moves.append(CashIn(view.id, view.number, -refund.amount, refund.at))
    return moves


def drawer_of(view: OrderView) -> str | None:
    """The drawer last opened for an order, if any."""
    drawers = [
        e for e in view.events if e.kind == "drawer" and isinstance(e.detail.get("drawer"), str)
    ]
    return max(drawers, key=lambda e: (e.at, e.id)).detail["drawer"] if drawers else None


def cash_day(entries: dict[str, dict], orders: Iterable[OrderView]) -> CashDay:
    """The day's sessions from its `drawer_sessions` entries (key -> decoded entry; those
    that do not parse are left out) and its orders."""
    parsed = []
    for key, entry in entries.items():
        try:
            parsed.append(parse_entry(key, entry))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a peer's malformed entry: kept in the document, never counted
    parsed.sort(key=lambda e: (e.at, e.id))
    sessions: dict[str, DrawerSession] = {}
    for entry in parsed:
        if entry.kind == "open":
            sessions.setdefault(entry.session, DrawerSession(entry.session, entry.drawer, entry))
    for entry in parsed:
        session = sessions.get(entry.session)
        if session is None or entry.kind == "open":
            continue
        if entry.kind == "close":
            if session.closed is None:
                session.closed = entry
        else:
            session.movements.append(entry)
    unassigned = []
    ordered = sorted(sessions.values(), key=lambda s: (s.opened.at, s.id))
    for view in orders:
        drawer = drawer_of(view)
        for cash in cash_of(view):
            home = _session_for(ordered, drawer, cash.at)
            if home is None:
                unassigned.append(cash)
            else:
                home.sales.append(cash)
    return CashDay(tuple(ordered), tuple(unassigned))


def _session_for(
    sessions: Sequence[DrawerSession], drawer: str | None, at: str
) -> DrawerSession | None:
    holding = [s for s in sessions if s.holds(at) and (drawer is None or s.drawer == drawer)]
    if drawer is None and len({s.drawer for s in holding}) != 1:
        return None  # no drawer was opened for it and it is not clear whose it is
    if not holding and drawer is not None:  # rung up before its drawer's session opened
        holding = [s for s in sessions if s.drawer == drawer and s.closed is None]
    return holding[-1] if holding else None
