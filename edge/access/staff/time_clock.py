"""The time clock's punches and the hours they make. Pure: facts in, hours out; `now` is
passed in, never read.

A business day's document holds its punches in the root map `time_clock` (TIME_CLOCK), one
entry per punch under the key `<employee id>:<shift>:<in|out>`: the employee's shifts of
the day are numbered from 0, and a shift's clock-in and clock-out each have one key, so a
punch retried, or made at once on two nodes, is one punch once the nodes meet. An entry is
`{"employee", "name", "kind", "shift", "time", "at", "by"}`: `time` is the wall time of
the punch (ISO 8601, UTC), `at` its hybrid-logical-clock stamp, `by` the terminal.
A shift belongs to the business day it was clocked in on, its clock-out included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TIME_CLOCK = "time_clock"  # the business day's root map of punches
KINDS = ("in", "out")


@dataclass(frozen=True, slots=True)
class Punch:
    """One punch of the clock: an employee's clock-in or clock-out of one shift."""

    employee: str  # the employee's id
    name: str  # their name when they punched
    kind: str  # "in" or "out"
    shift: int  # the employee's shifts of the day are numbered from 0
    time: dt.datetime  # aware, UTC
    at: str  # its hybrid-logical-clock stamp
    by: str  # the terminal, as "name (id)"

    @property
    def key(self) -> str:
        return punch_key(self.employee, self.shift, self.kind)

    def entry(self) -> dict:
        """The punch as the business day's document keeps it."""
        return {
            "employee": self.employee,
            "name": self.name,
            "kind": self.kind,
            "shift": self.shift,
            "time": self.time.isoformat(timespec="seconds"),
            "at": self.at,
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift: clocked in, and out (None: still on the clock), and its length."""

    shift: int
    clock_in: dt.datetime
    clock_out: dt.datetime | None
    seconds: int  # until the clock-out, or until `now` for an open shift


@dataclass(frozen=True, slots=True)
class Worked:
    """An employee's time on the clock over one business day."""

    employee: str
    name: str
    shifts: tuple[Shift, ...]

    @property
    def seconds(self) -> int:
        return sum(shift.seconds for shift in self.shifts)

    @property
    def hours(self) -> float:
        """The hours worked, to the hundredth."""
        return round(self.seconds / 3600, 2)

    @property
    def on_the_clock(self) -> bool:
        """Whether a shift is still open."""
        return any(shift.clock_out is None for shift in self.shifts)


def punch_key(employee: str, shift: int, kind: str) -> str:
    """The key of a punch in the day's `time_clock` map."""
    return f"{employee}:{shift}:{kind}"


def read_punch(entry: object) -> Punch | None:
    """The punch an entry holds, or None if it is not one (a peer's malformed entry: kept
    in the document, never counted)."""
    if not isinstance(entry, dict):
        return None
    employee, name, kind, shift, time, at, by = (
        entry.get(k) for k in ("employee", "name", "kind", "shift", "time", "at", "by")
    )
    if not all(isinstance(v, str) for v in (employee, name, time, at, by)) or kind not in KINDS:
        return None
    if not isinstance(shift, int) or isinstance(shift, bool) or shift < 0:
        return None
    try:
        moment = dt.datetime.fromisoformat(time)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return Punch(employee, name, kind, shift, moment.astimezone(dt.UTC), at, by)


def read_punches(facts: Mapping[str, object]) -> list[Punch]:
    """The punches among a day's `time_clock` facts (key -> entry), oldest first; an entry
    that is not well formed, or not under its own key, is left out."""
    found = [
        punch
        for key, entry in facts.items()
        if (punch := read_punch(entry)) is not None and punch.key == key
    ]
    return sorted(found, key=lambda p: (p.time, p.at))


def open_shift(punches: Iterable[Punch], employee: str) -> Punch | None:
    """The clock-in of `employee`'s shift that has no clock-out yet, if any (the latest)."""
    mine = [p for p in punches if p.employee == employee]
    out = {p.shift for p in mine if p.kind == "out"}
    open_ins = [p for p in mine if p.kind == "in" and p.shift not in out]
    return max(open_ins, key=lambda p: p.shift, default=None)


def next_shift(punches: Iterable[Punch], employee: str) -> int:
    """The number of `employee`'s next shift of the day."""
    return 1 + max((p.shift for p in punches if p.employee == employee), default=-1)


def hours_worked(facts: Mapping[str, object], *, now: dt.datetime) -> dict[str, Worked]:
    """Each employee's time on the clock over one business day, by employee id.

    `facts` is the day's `time_clock` map as the order book reads it
    (`await book.day_facts(day, TIME_CLOCK)`: key -> entry). A shift counts from its
    clock-in to its clock-out; a shift with no clock-out yet counts until `now` (an aware
    datetime), and a clock-out without its clock-in counts nothing. A clock-out stamped
    before its clock-in (two nodes' clocks apart) counts zero. Employees are named as on
    their latest punch of the day; shifts come in order.
    """
    punches = read_punches(facts)
    ins: dict[tuple[str, int], Punch] = {}
    outs: dict[tuple[str, int], Punch] = {}
    for punch in punches:
        (ins if punch.kind == "in" else outs)[(punch.employee, punch.shift)] = punch
    names = {punch.employee: punch.name for punch in punches}
    shifts: dict[str, list[Shift]] = {}
    for (employee, number), clock_in in sorted(ins.items()):
        clock_out = outs.get((employee, number))
        until = clock_out.time if clock_out is not None else now
        seconds = max(0, int((until - clock_in.time).total_seconds()))
        shifts.setdefault(employee, []).append(
            Shift(number, clock_in.time, clock_out.time if clock_out else None, seconds)
        )
    return {
        employee: Worked(employee, names[employee], tuple(found))
        for employee, found in shifts.items()
    }
