"""Time for the order log: a hybrid logical clock and the business date.

Pure logic: the wall clock is passed in, never read here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

_HLC_FORMAT = "%Y-%m-%dT%H:%M:%S"


def format_hlc(wall_ms: int, counter: int, node: str) -> str:
    """The text form of an HLC timestamp; sorts in time order as a plain string."""
    moment = dt.datetime.fromtimestamp(wall_ms / 1000, dt.UTC)
    return f"{moment.strftime(_HLC_FORMAT)}.{wall_ms % 1000:03d}Z/{counter:04d}/{node}"


def parse_hlc(text: str) -> tuple[int, int, str]:
    """(wall_ms, counter, node) of an HLC timestamp; raises ValueError if malformed."""
    stamp, counter, node = text.split("/", 2)
    if not stamp.endswith("Z") or len(counter) < 4:
        raise ValueError(f"not an HLC timestamp: {text!r}")
    seconds, millis = stamp[:-1].split(".")
    moment = dt.datetime.fromisoformat(seconds).replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1000 + int(millis), int(counter), node


def hlc_to_datetime(text: str) -> dt.datetime:
    """The wall-clock part of an HLC timestamp, as an aware UTC datetime."""
    wall_ms, _, _ = parse_hlc(text)
    return dt.datetime.fromtimestamp(wall_ms / 1000, dt.UTC)


class HybridClock:
    """Hybrid logical clock: timestamps never go backwards, whatever the wall clock does.

    A node whose wall clock jumps back keeps issuing timestamps above everything it has
    issued or observed, so it cannot reorder history.
    """

    def __init__(self, node: str, wall_ms: Callable[[], int]) -> None:
        if "/" in node:
            raise ValueError("an HLC node name cannot contain '/'")
        self.node = node
        self._wall_ms = wall_ms
        self._last_ms = 0
        self._counter = 0

    def now(self) -> str:
        """A fresh timestamp, above every one issued or observed before."""
        physical = self._wall_ms()
        if physical > self._last_ms:
            self._last_ms, self._counter = physical, 0
        else:
            self._counter += 1
        return format_hlc(self._last_ms, self._counter, self.node)

    def observe(self, timestamp: str) -> None:
        """Move past a timestamp seen elsewhere (a peer's, or one loaded from disk)."""
        wall_ms, counter, _ = parse_hlc(timestamp)
        if (wall_ms, counter) > (self._last_ms, self._counter):
            self._last_ms, self._counter = wall_ms, counter


def business_date(now: dt.datetime, zone: ZoneInfo, rollover_hour: int) -> dt.date:
    """The store business day that `now` belongs to.

    A business day runs from `rollover_hour` local time to the same hour the next day, so a
    sale at 01:30 with a 04:00 rollover belongs to the previous calendar day.
    """
    local = now.astimezone(zone)
    if local.hour < rollover_hour:
        return local.date() - dt.timedelta(days=1)
    return local.date()
