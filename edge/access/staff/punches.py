"""Punching the clock: clock-ins and clock-outs recorded in the business day's document
(time_clock.py says how), through the order book's day facts.

A shift is clocked in on today's business day; its clock-out goes to the day it was
clocked in on, so a shift that runs past the day's end (the rollover) is closed in the day
before. Clocking in while on the clock, or out while not, is refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from edge.access.staff.employees import Employee
from edge.access.staff.errors import AlreadyClockedIn, NotClockedIn
from edge.access.staff.time_clock import (
    TIME_CLOCK,
    Punch,
    next_shift,
    open_shift,
    punch_key,
    read_punch,
    read_punches,
)


class DayFacts(Protocol):
    """What the time clock needs of the order book (edge/orders/log.py OrderLog)."""

    def business_date(self) -> dt.date: ...

    async def record_day_fact(
        self, day: dt.date, root: str, key: str, entry: dict
    ) -> tuple[dict, bool]: ...

    async def day_facts(self, day: dt.date, root: str) -> dict[str, dict]: ...


class TimeClock:
    """The store's time clock, in the business days of `days` (the order book)."""

    def __init__(self, days: DayFacts) -> None:
        self.days = days

    async def punches(self, day: dt.date) -> list[Punch]:
        """Business day `day`'s punches, oldest first."""
        return read_punches(await self.days.day_facts(day, TIME_CLOCK))

    async def clock_in(self, employee: Employee, *, by: str, now: dt.datetime) -> Punch:
        """Clock `employee` in on today's business day; raises AlreadyClockedIn (or, from
        the order book, BusinessDayClosed)."""
        today = self.days.business_date()
        for day in (today, today - dt.timedelta(days=1)):
            since = open_shift(await self.punches(day), employee.id)
            if since is not None:
                raise AlreadyClockedIn(
                    f"{employee.name} is on the clock already, since {since.time:%H:%M} UTC "
                    f"(business day {day}): clock out first"
                )
        shift = next_shift(await self.punches(today), employee.id)
        return await self._record(today, employee, "in", shift, by=by, now=now)

    async def clock_out(self, employee: Employee, *, by: str, now: dt.datetime) -> Punch:
        """Clock `employee` out of their open shift; raises NotClockedIn."""
        today = self.days.business_date()
        for day in (today, today - dt.timedelta(days=1)):
            since = open_shift(await self.punches(day), employee.id)
            if since is not None:
                return await self._record(day, employee, "out", since.shift, by=by, now=now)
        raise NotClockedIn(f"{employee.name} is not on the clock: clock in first")

    async def _record(
        self, day: dt.date, employee: Employee, kind: str, shift: int, *, by: str, now: dt.datetime
    ) -> Punch:
        entry = {
            "employee": employee.id,
            "name": employee.name,
            "kind": kind,
            "shift": shift,
            "time": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "by": by,
        }
        key = punch_key(employee.id, shift, kind)
        recorded, new = await self.days.record_day_fact(day, TIME_CLOCK, key, entry)
        punch = read_punch(recorded)
        if not new or punch is None:  # the same punch, made a moment before (or elsewhere)
            done = AlreadyClockedIn if kind == "in" else NotClockedIn
            raise done(f"{employee.name} was just clocked {kind} (business day {day})")
        return punch

    async def on_the_clock(self) -> list[Punch]:
        """The clock-ins of the shifts open now (today's and the day before's), oldest
        first."""
        today = self.days.business_date()
        found: dict[str, Punch] = {}
        for day in (today - dt.timedelta(days=1), today):
            punches = await self.punches(day)
            for employee in {p.employee for p in punches}:
                since = open_shift(punches, employee)
                if since is not None:
                    found[employee] = since
        return sorted(found.values(), key=lambda p: p.time)
