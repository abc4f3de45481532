"""Hours from a business day's punches: shifts from clock-in to clock-out, an open one
until now, malformed or orphaned punches counting nothing."""

from __future__ import annotations

import datetime as dt

from edge.access.staff.time_clock import (
    hours_worked,
    next_shift,
    open_shift,
    punch_key,
    read_punches,
)

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


def punch(employee: str, shift: int, kind: str, at: dt.datetime, name: str = "Sam") -> tuple:
    entry = {
        "employee": employee,
        "name": name,
        "kind": kind,
        "shift": shift,
        "time": at.isoformat(timespec="seconds"),
        "at": f"{at:%Y-%m-%dT%H:%M:%S}.000Z/0000/node-a",
        "by": "Counter 1 (t-1a2b3c4d)",
    }
    return punch_key(employee, shift, kind), entry


def facts(*punches: tuple) -> dict:
    return dict(punches)


def test_shifts_count_from_clock_in_to_clock_out_and_an_open_one_until_now():
    day = facts(
        punch("e-000001", 0, "in", T0),
        punch("e-000001", 0, "out", T0 + dt.timedelta(hours=4)),
        punch("e-000001", 1, "in", T0 + dt.timedelta(hours=5)),
        punch("e-000002", 0, "in", T0 + dt.timedelta(hours=1), name="Dana"),
    )
    now = T0 + dt.timedelta(hours=6, minutes=30)
    worked = hours_worked(day, now=now)
    sam, dana = worked["e-000001"], worked["e-000002"]
    assert [s.seconds for s in sam.shifts] == [4 * 3600, 90 * 60]
    assert sam.seconds == 5.5 * 3600 and sam.hours == 5.5 and sam.on_the_clock
    assert dana.name == "Dana" and dana.hours == 5.5 and dana.shifts[0].clock_out is None
    later = hours_worked(day, now=now + dt.timedelta(hours=1))  # open shifts go on counting
    assert later["e-000001"].hours == 6.5 and later["e-000002"].hours == 6.5


def test_malformed_orphaned_and_backwards_punches_count_nothing():
    good_in = punch("e-000001", 0, "in", T0)
    day = facts(
        good_in,
        punch("e-000001", 0, "out", T0 - dt.timedelta(minutes=5)),  # clocks of two nodes apart
        punch("e-000003", 0, "out", T0),  # its clock-in never arrived
        ("e-000004:0:in", {"employee": "e-000004", "kind": "in"}),  # not a punch
        ("e-000005:9:in", punch("e-000005", 0, "in", T0)[1]),  # not under its own key
    )
    worked = hours_worked(day, now=T0 + dt.timedelta(hours=1))
    assert set(worked) == {"e-000001"}
    assert worked["e-000001"].seconds == 0 and not worked["e-000001"].on_the_clock
    assert {p.key for p in read_punches(day)} == {
        "e-000001:0:in",
        "e-000001:0:out",
        "e-000003:0:out",
    }


def test_the_open_shift_and_the_next_shift_number():
    punches = read_punches(
        facts(
            punch("e-000001", 0, "in", T0),
            punch("e-000001", 0, "out", T0 + dt.timedelta(hours=1)),
            punch("e-000001", 1, "in", T0 + dt.timedelta(hours=2)),
        )
    )
    assert open_shift(punches, "e-000001").shift == 1
    assert next_shift(punches, "e-000001") == 2
    assert open_shift(punches, "e-000002") is None and next_shift(punches, "e-000002") == 0
