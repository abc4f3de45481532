"""The hybrid logical clock and the business date."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from edge.orders.clock import HybridClock, business_date, hlc_to_datetime, parse_hlc


def test_timestamps_keep_rising_when_the_wall_clock_jumps_back():
    wall = [1_700_000_000_000]
    clock = HybridClock("node-a", lambda: wall[0])
    first = clock.now()
    wall[0] -= 3_600_000  # someone set the clock back an hour
    second, third = clock.now(), clock.now()
    assert first < second < third
    assert parse_hlc(second)[:2] == (1_700_000_000_000, 1)
    wall[0] += 7_200_000
    assert parse_hlc(clock.now())[:2] == (1_700_003_600_000, 0)


def test_observing_a_later_timestamp_moves_the_clock_past_it():
    clock = HybridClock("a", lambda: 1_000)
    peer = HybridClock("b", lambda: 50_000)
    seen = peer.now()
    clock.observe(seen)
    assert clock.now() > seen


def test_timestamp_text_round_trips_and_reads_as_utc_time():
    clock = HybridClock("till-1", lambda: 1_763_661_600_123)
    text = clock.now()
    assert text == "2025-11-20T18:00:00.123Z/0000/till-1"
    assert parse_hlc(text) == (1_763_661_600_123, 0, "till-1")
    assert hlc_to_datetime(text) == dt.datetime(2025, 11, 20, 18, 0, 0, 123000, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        parse_hlc("yesterday")


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (dt.datetime(2026, 11, 21, 4, 59, tzinfo=dt.UTC), dt.date(2026, 11, 20)),  # 23:59
        (dt.datetime(2026, 11, 21, 8, 59, tzinfo=dt.UTC), dt.date(2026, 11, 20)),  # 03:59
        (dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC), dt.date(2026, 11, 21)),  # 04:00
        # the night clocks go back (01:00-02:00 happens twice), still the previous day
        (dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC), dt.date(2026, 10, 31)),
        (dt.datetime(2026, 11, 1, 8, 59, tzinfo=dt.UTC), dt.date(2026, 10, 31)),
    ],
)
def test_business_date_rolls_over_at_the_local_hour(utc, expected):
    assert business_date(utc, ZoneInfo("America/New_York"), 4) == expected
