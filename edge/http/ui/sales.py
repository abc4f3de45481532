"""Today's sales for the dashboard, and the geometry of its chart of sales per hour against
the same weekday last week (drawn as inline SVG by the template). Pure logic.

A sale is an order paid or closed; its hour is the hour it was opened, in the store's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from edge.orders.clock import hlc_to_datetime
from edge.orders.index import OrderSummary
from edge.orders.money import exponent
from edge.orders.status import Status

SOLD = frozenset({Status.PAID, Status.CLOSED})
MIN_HOURS = 6  # the chart shows at least this many hours, so a quiet morning is not one bar

# the chart's drawing area, in SVG user units (the SVG scales to its box)
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 10, 26


@dataclass(frozen=True, slots=True)
class SalesFigures:
    """A business day's sales: their total, how many orders, and how many orders are open
    (not closed nor void; a paid order stays open until it is closed)."""

    total: int
    orders: int
    open_orders: int

    @property
    def average(self) -> int:
        """The average ticket, rounded half up to the minor unit."""
        return (2 * self.total + self.orders) // (2 * self.orders) if self.orders else 0


def sales_figures(summaries: Iterable[OrderSummary]) -> SalesFigures:
    total = orders = open_orders = 0
    for summary in summaries:
        if summary.status in SOLD:
            total += summary.total
            orders += 1
        if summary.status < Status.CLOSED:
            open_orders += 1
    return SalesFigures(total, orders, open_orders)


def sales_by_hour(summaries: Iterable[OrderSummary], zone: ZoneInfo) -> dict[int, int]:
    """Hour of the day (0-23, in `zone`) → sales of the orders opened in it."""
    hours: dict[int, int] = {}
    for summary in summaries:
        if summary.status not in SOLD:
            continue
        try:
            hour = hlc_to_datetime(summary.opened_at).astimezone(zone).hour
        except ValueError:
            continue  # a malformed timestamp from a peer: counted in the totals, not charted
        hours[hour] = hours.get(hour, 0) + summary.total
    return hours


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # the tooltip: hour, which day, amount


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # x of an hour label, or y of a gridline
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """What the template draws: bars of both days, hour labels, gridlines with amounts."""

    width: int
    height: int
    plot_left: int  # where the bars start; the amounts are written left of it
    plot_right: int
    today: tuple[Bar, ...]
    last_week: tuple[Bar, ...]
    hours: tuple[Tick, ...]
    gridlines: tuple[Tick, ...]


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 2.5 or 5 × 10^k that is at least `value`."""
    scale = 1
    while True:
        for step in (1, 2, 2.5, 5):
            if step * scale >= value:
                return int(step * scale)
        scale *= 10


def _major_units(amount: int, currency: str) -> str:
    return f"{amount // 10 ** exponent(currency):,}"


def hours_shown(today: dict[int, int], last_week: dict[int, int], first_hour: int) -> list[int]:
    """The hours of a business day starting at `first_hour` that have sales on either day,
    widened to MIN_HOURS; empty when neither day sold anything."""
    order = [(first_hour + i) % 24 for i in range(24)]
    busy = [i for i, hour in enumerate(order) if today.get(hour) or last_week.get(hour)]
    if not busy:
        return []
    start, end = busy[0], busy[-1]
    while end - start + 1 < MIN_HOURS:
        end, start = (end + 1, start) if end < 23 else (end, start - 1)
    return order[start : end + 1]


def hourly_chart(
    today: dict[int, int], last_week: dict[int, int], *, first_hour: int, currency: str
) -> Chart | None:
    """The chart of both days' sales per hour, or None when neither sold anything."""
    hours = hours_shown(today, last_week, first_hour)
    if not hours:
        return None
    top = _nice_ceiling(max(max(today.values(), default=0), max(last_week.values(), default=0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(hours)
    bar_w = slot * 0.38

    def bars(values: dict[int, int], offset: float, day: str) -> tuple[Bar, ...]:
        drawn = []
        for i, hour in enumerate(hours):
            height = plot_h * values.get(hour, 0) / top
            drawn.append(
                Bar(
                    round(LEFT + i * slot + offset, 1),
                    round(TOP + plot_h - height, 1),
                    round(bar_w, 1),
                    round(height, 1),
                    f"{hour:02d}:00 {day}: {_major_units(values.get(hour, 0), currency)}",
                )
            )
        return tuple(drawn)

    gap = (slot - 2 * bar_w) / 3
    label_every = 1 if len(hours) <= 12 else 2
    return Chart(
        WIDTH,
        HEIGHT,
        LEFT,
        WIDTH - RIGHT,
        today=bars(today, 2 * gap + bar_w, "today"),
        last_week=bars(last_week, gap, "last week"),
        hours=tuple(
            Tick(round(LEFT + (i + 0.5) * slot, 1), f"{hour:02d}")
            for i, hour in enumerate(hours)
            if i % label_every == 0
        ),
        gridlines=tuple(
            Tick(round(TOP + plot_h * (1 - k / 4), 1), _major_units(top * k // 4, currency))
            for k in range(5)
        ),
    )
