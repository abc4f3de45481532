"""A kitchen station's tickets, derived from orders. Pure logic.

A ticket is one fire of an order at one station: the lines of that fire cooked there. It is
open until it is bumped (and open again when the bump is recalled); only fires of the
order's current epoch count (status.open_tickets). Serial bump bars and the KDS screens
share this one notion of a station's open tickets and their order: rushed orders first,
then oldest fire first, nine to a page.

The expo view is the same tickets grouped by order: every order the kitchen is working on,
with how far each of its stations is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from edge.orders.clock import parse_hlc
from edge.orders.status import Event, Status, current_epoch, open_tickets
from edge.orders.view import OrderView

PAGE = 9  # tickets a bump bar's keys 1-9 (and a screen's page) select among
RECALLABLE = 10  # a station's latest bumps offered for recall


@dataclass(frozen=True, slots=True)
class TicketLine:
    """One line of a ticket, as a cook reads it."""

    sku: str
    qty: int
    name: str
    modifiers: tuple[str, ...]
    note: str
    voided: bool


@dataclass(frozen=True, slots=True)
class Ticket:
    """One kitchen ticket: a fire of an order at a station, and what it asks for."""

    order_id: str
    number: str
    fire_id: str
    station: str
    fired_at: str  # HLC timestamp of the fire
    channel: str
    table: str | None
    guests: int
    rush: bool
    void: bool  # the whole order was voided after the fire
    lines: tuple[TicketLine, ...]

    @property
    def key(self) -> str:
        return f"{self.fire_id}@{self.station}"

    @property
    def sort_key(self) -> tuple:
        return (not self.rush, self.fired_at, self.fire_id, self.station)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "order_id": self.order_id,
            "number": self.number,
            "fire_id": self.fire_id,
            "station": self.station,
            "fired_at": self.fired_at,
            "fired_ms": hlc_ms(self.fired_at),
            "channel": self.channel,
            "table": self.table,
            "guests": self.guests,
            "rush": self.rush,
            "void": self.void,
            "lines": [
                {
                    "qty": line.qty,
                    "name": line.name,
                    "modifiers": list(line.modifiers),
                    "note": line.note,
                    "voided": line.voided,
                }
                for line in self.lines
            ],
        }


@dataclass(frozen=True, slots=True)
class Bump:
    """A bump that closed a ticket, and can be recalled."""

    order_id: str
    number: str
    bump_id: str
    fire_id: str
    station: str
    at: str

    def to_dict(self) -> dict:
        return {
            "order_id": self.order_id,
            "number": self.number,
            "bump_id": self.bump_id,
            "fire_id": self.fire_id,
            "station": self.station,
            "at": self.at,
        }


def hlc_ms(stamp: str) -> int:
    """The wall-clock milliseconds of an HLC timestamp (0 if malformed)."""
    try:
        return parse_hlc(stamp)[0]
    except ValueError:
        return 0


def rushed(view: OrderView) -> bool:
    """Whether the order was marked rush in its current epoch."""
    epoch = current_epoch(view.events)
    return any(e.kind == "rush" and e.epoch == epoch for e in view.events)


def _fires(view: OrderView) -> list[Event]:
    epoch = current_epoch(view.events)
    return [e for e in view.events if e.kind == "fire" and e.epoch == epoch]


def order_tickets(view: OrderView) -> list[Ticket]:
    """Every ticket of the order's current epoch, open or bumped."""
    lines = {line.id: line for line in view.lines}
    void = view.status == Status.VOID
    rush = rushed(view)
    tickets = []
    for fire in _fires(view):
        fired = [lines[i] for i in fire.detail.get("lines", ()) if i in lines]
        for station in fire.detail.get("stations", ()):
            tickets.append(
                Ticket(
                    order_id=view.id,
                    number=view.number,
                    fire_id=fire.id,
                    station=station,
                    fired_at=fire.at,
                    channel=view.channel,
                    table=view.table,
                    guests=view.guests,
                    rush=rush,
                    void=void,
                    lines=tuple(
                        TicketLine(
                            line.sku,
                            line.qty,
                            line.name,
                            tuple(m["name"] for m in line.modifiers),
                            line.note,
                            line.voided or void,
                        )
                        for line in fired
                        if line.station == station
                    ),
                )
            )
    return tickets


def open_order_tickets(view: OrderView) -> list[Ticket]:
    """The order's tickets not bumped (or bumped and recalled)."""
    still_open = open_tickets(list(view.events))
    return [t for t in order_tickets(view) if (t.fire_id, t.station) in still_open]


def station_tickets(views: list[OrderView], station: str) -> list[Ticket]:
    """The open tickets of `station`: rushed orders first, then oldest fire first."""
    tickets = [
        ticket for view in views for ticket in open_order_tickets(view) if ticket.station == station
    ]
    return sorted(tickets, key=lambda ticket: ticket.sort_key)


def all_day(tickets: list[Ticket]) -> list[tuple[str, int]]:
    """(item name, quantity) still to make across `tickets`, most first. Voided lines
    count for nothing."""
    counts: Counter[str] = Counter()
    for ticket in tickets:
        for line in ticket.lines:
            if not line.voided:
                counts[line.name] += line.qty
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def recent_bumps(views: list[OrderView], station: str, limit: int = RECALLABLE) -> list[Bump]:
    """The latest bumps at `station` whose tickets are still bumped, newest first: what a
    recall brings back, in turn."""
    found = []
    for view in views:
        still_open = open_tickets(list(view.events))
        current = {fire.id for fire in _fires(view)}
        recalled = {e.detail.get("bump") for e in view.events if e.kind == "recall"}
        latest: dict[str, Event] = {}
        for event in view.events:  # sorted by time: the last bump of a ticket wins
            fire_id = event.detail.get("fire")
            if (
                event.kind == "bump"
                and event.detail.get("station") == station
                and fire_id in current
                and event.id not in recalled
                and (fire_id, station) not in still_open
            ):
                latest[fire_id] = event
        found += [
            Bump(view.id, view.number, e.id, fire_id, station, e.at)
            for fire_id, e in latest.items()
        ]
    return sorted(found, key=lambda bump: (bump.at, bump.bump_id), reverse=True)[:limit]


def expo_orders(views: list[OrderView], *, now_ms: int, ready_for_ms: int) -> list[dict]:
    """The orders the kitchen is working on, with each station's open and done tickets;
    an order whose tickets are all bumped stays `ready_for_ms` after its last bump (so
    expo can hand it out). Rushed first, then oldest first fire."""
    shown = []
    for view in views:
        tickets = order_tickets(view)
        if not tickets:
            continue
        still_open = open_tickets(list(view.events))
        stations: dict[str, dict[str, int]] = {}
        for ticket in tickets:
            count = stations.setdefault(ticket.station, {"open": 0, "done": 0})
            count["open" if (ticket.fire_id, ticket.station) in still_open else "done"] += 1
        bumps = [hlc_ms(e.at) for e in view.events if e.kind == "bump"]
        done_ms = max(bumps, default=0) if not still_open else None
        if done_ms is not None and now_ms - done_ms > ready_for_ms:
            continue
        first = min(tickets, key=lambda t: t.fired_at)
        shown.append(
            {
                "order_id": view.id,
                "number": view.number,
                "channel": view.channel,
                "table": view.table,
                "rush": first.rush,
                "void": first.void,
                "fired_ms": hlc_ms(first.fired_at),
                "done_ms": done_ms,
                "stations": [
                    {"station": station, **count} for station, count in sorted(stations.items())
                ],
            }
        )
    return sorted(shown, key=lambda o: (not o["rush"], o["fired_ms"], o["order_id"]))
