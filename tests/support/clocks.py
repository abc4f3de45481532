"""Clocks injected into the code under test (never patched)."""

from __future__ import annotations

import datetime as dt


class SettableClock:
    """A wall clock the test moves by hand (injected, never patched)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class LiveClock(SettableClock):
    """The real wall clock, moved forward by hand when a test needs "later" (device tests,
    whose printers and timeouts run in real time)."""

    def __init__(self) -> None:
        super().__init__(dt.datetime.now(dt.UTC))
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)
