"""Order status as a lattice over the order's events. Pure logic.

Status is never stored: every node derives it from the same set of events, so concurrent
transitions converge to the same answer everywhere.

- `void` absorbs everything: once any node voids an order, it is void.
- A manager's `reopen` starts a new epoch; only events of the latest epoch count, so a
  reopened order is open again (and two concurrent reopens agree).
- Within the epoch, status is the highest of: `closed` if there is a close event, `paid` if
  payments cover the total, `ready` if every kitchen ticket fired in the epoch is bumped,
  `fired` if anything was fired, else `open`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum


class Status(IntEnum):
    """Order status, ordered as the lattice."""

    OPEN = 0
    FIRED = 1
    READY = 2
    PAID = 3
    CLOSED = 4
    VOID = 5

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an order's `events` map."""

    id: str
    kind: str  # fire, bump, recall, close, void, reopen, drawer
    at: str  # HLC timestamp
    by: str
    epoch: int
    detail: dict  # kind-specific fields (lines, stations, fire, station, bump, reason …)


def current_epoch(events: Iterable[Event]) -> int:
    """The epoch new events belong to: the highest any event carries."""
    return max((event.epoch for event in events), default=0)


def open_tickets(events: list[Event]) -> set[tuple[str, str]]:
    """(fire id, station) tickets of the current epoch not bumped (or bumped and recalled)."""
    epoch = current_epoch(events)
    tickets = {
        (event.id, station)
        for event in events
        if event.kind == "fire" and event.epoch == epoch
        for station in event.detail.get("stations", ())
    }
    return tickets - live_bumps(events)


def live_bumps(events: Sequence[Event]) -> set[tuple[str, str]]:
    """(fire id, station) tickets that a bump not recalled since marks done."""
    recalled = {event.detail.get("bump") for event in events if event.kind == "recall"}
    return {
        (event.detail.get("fire"), event.detail.get("station"))
        for event in events
        if event.kind == "bump" and event.id not in recalled
    }


def derive_status(events: list[Event], fully_paid: bool) -> Status:
    """The status of an order from its events and whether payments cover its total."""
    if any(event.kind == "void" for event in events):
        return Status.VOID
    epoch = current_epoch(events)
    kinds = {event.kind for event in events if event.epoch == epoch}
    if "close" in kinds:
        return Status.CLOSED
    if fully_paid:
        return Status.PAID
    if "fire" in kinds:
        return Status.READY if not open_tickets(events) else Status.FIRED
    return Status.OPEN
