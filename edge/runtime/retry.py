"""The one retry helper of the background loops: capped, jittered backoff, quiet logs.

A loop keeps a `Retry`, tells it of each failure (`failed`, with the log message) and of
each success (`succeeded`, with the recovery message), and waits `delay()` before its next
try. The n-th failure in a row waits min(cap, base * 2**n); the first failure is logged,
then every `every`-th, and the recovery once, with the count (litestream `replica.go`
monitor; python-zeroconf `_logger.py` QuietLogger). Cancellation is never a failure.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Literal

Jitter = Literal["none", "equal", "full"]

EVERY = 10  # after the first, every this many failures in a row is logged
_MAX_DOUBLINGS = 64  # past this the cap rules anyway; keeps 2**n a float


class Retry:
    """One loop's failures in a row: the wait before its next try, and their quiet log.

    `jitter`: "none" waits the bound itself, "equal" a random 50-100 % of it (clients that
    failed together spread out), "full" anywhere from 0 to it. Not thread-safe: one loop
    owns it.
    """

    def __init__(
        self,
        log: logging.Logger,
        *,
        base: float,
        cap: float,
        jitter: Jitter = "none",
        level: int = logging.WARNING,
        every: int = EVERY,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.log = log
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.level = level
        self.every = every
        self.uniform = uniform
        self.failures = 0  # in a row, since the last success

    def failed(self, msg: str | None = None, *args: object, loud: bool = False) -> None:
        """Count a failure; log `msg % args` if it is the first, an `every`-th or `loud`
        (news, such as a new kind of failure). Without `msg` the failure is only counted.
        A CancelledError among `args` is raised again, never counted nor logged."""
        for arg in args:
            if isinstance(arg, asyncio.CancelledError):
                raise arg
        self.failures += 1
        if msg is None:
            return
        if self.failures == 1:
            self.log.log(self.level, msg, *args)
        elif loud or self.failures % self.every == 0:
            self.log.log(self.level, f"{msg} (%d failures in a row)", *args, self.failures)

    def succeeded(self, msg: str | None = None, *args: object) -> None:
        """A try worked: after failures, log `msg % args` once with their count; start over."""
        if self.failures and msg is not None:
            noun = "failure" if self.failures == 1 else "failures"
            self.log.info(f"{msg} after %d {noun}", *args, self.failures)
        self.failures = 0

    def delay(self, *, longest: bool = False) -> float:
        """Seconds to wait before the next try (`longest`: as after many failures)."""
        doublings = _MAX_DOUBLINGS if longest else min(self.failures, _MAX_DOUBLINGS)
        bound = min(self.cap, self.base * 2.0**doublings)
        if self.jitter == "equal":
            return bound * self.uniform(0.5, 1.0)
        if self.jitter == "full":
            return self.uniform(0.0, bound)
        return bound
