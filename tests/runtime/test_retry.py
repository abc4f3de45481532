"""The retry helper: capped, jittered delays and a quiet log of the failures."""

import asyncio
import logging
import random

import pytest

from edge.runtime.retry import Retry

log = logging.getLogger("tests.retry")


def delays(retry: Retry, failures: int) -> list[float]:
    """The delay after each of `failures` failures in a row."""
    waits = []
    for _ in range(failures):
        retry.failed()
        waits.append(retry.delay())
    return waits


def messages(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == log.name]


def test_delays_double_with_each_failure_up_to_the_cap():
    retry = Retry(log, base=0.5, cap=10.0)
    assert retry.delay() == 0.5  # before any failure: the base
    assert delays(retry, 6) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_delays_stay_at_the_cap_however_long_it_fails():
    retry = Retry(log, base=0.2, cap=5.0)
    assert delays(retry, 5000)[-1] == 5.0


def test_a_success_starts_the_delays_over():
    retry = Retry(log, base=0.25, cap=5.0)
    delays(retry, 4)
    retry.succeeded()
    assert retry.failures == 0
    assert delays(retry, 2) == [0.5, 1.0]


@pytest.mark.parametrize(
    ("jitter", "shortest", "longest"),
    [("none", 4.0, 4.0), ("equal", 2.0, 4.0), ("full", 0.0, 4.0)],
)
def test_jitter_spreads_the_delay_within_its_bounds(jitter, shortest, longest):
    def after_two_failures(uniform) -> float:
        return delays(Retry(log, base=1.0, cap=60.0, jitter=jitter, uniform=uniform), 2)[-1]

    assert after_two_failures(lambda a, b: a) == shortest
    assert after_two_failures(lambda a, b: b) == longest
    seeded = random.Random(7).uniform
    assert all(shortest <= after_two_failures(seeded) <= longest for _ in range(200))


def test_the_longest_delay_is_the_cap_jittered():
    retry = Retry(log, base=0.5, cap=10.0, jitter="equal", uniform=lambda a, b: a)
    assert retry.delay(longest=True) == 5.0
    assert retry.failures == 0


def test_the_first_failure_every_nth_and_the_recovery_are_logged(caplog):
    caplog.set_level(logging.INFO, logger=log.name)
    retry = Retry(log, base=1.0, cap=2.0, every=3)
    for attempt in range(1, 8):
        retry.failed("printer %s: %s; retrying", "bar", f"offline {attempt}")
    retry.succeeded("printer %s works again", "bar")
    retry.succeeded("printer %s works again", "bar")  # no failures since: nothing to say
    assert messages(caplog) == [
        (logging.WARNING, "printer bar: offline 1; retrying"),
        (logging.WARNING, "printer bar: offline 3; retrying (3 failures in a row)"),
        (logging.WARNING, "printer bar: offline 6; retrying (6 failures in a row)"),
        (logging.INFO, "printer bar works again after 7 failures"),
    ]


def test_one_failure_recovers_in_the_singular_at_the_level_chosen(caplog):
    caplog.set_level(logging.INFO, logger=log.name)
    retry = Retry(log, base=1.0, cap=2.0, level=logging.ERROR)
    retry.failed("print.db: %s", "disk full")
    retry.succeeded("print.db works again")
    assert messages(caplog) == [
        (logging.ERROR, "print.db: disk full"),
        (logging.INFO, "print.db works again after 1 failure"),
    ]


def test_a_loud_failure_is_logged_off_its_turn_and_a_bare_one_only_counted(caplog):
    caplog.set_level(logging.INFO, logger=log.name)
    retry = Retry(log, base=1.0, cap=2.0)
    retry.failed()
    retry.failed("hub: %s", "offline")
    retry.failed("hub: %s", "refused", loud=True)
    retry.succeeded()
    assert retry.failures == 0
    assert messages(caplog) == [(logging.WARNING, "hub: refused (3 failures in a row)")]


def test_cancellation_is_raised_again_never_counted_nor_logged(caplog):
    caplog.set_level(logging.DEBUG, logger=log.name)
    retry = Retry(log, base=1.0, cap=2.0)
    with pytest.raises(asyncio.CancelledError):
        retry.failed("display: %s", asyncio.CancelledError())
    assert retry.failures == 0
    assert messages(caplog) == []
