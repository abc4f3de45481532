"""A limit on failed attempts at guessing a code (pairing a terminal, joining a store),
per client address and in total, over a sliding window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class AttemptThrottle:
    """Limits failed attempts per client address and in total over a sliding window.

    With codes of about 2^40 alive for minutes, the total limit alone makes guessing
    hopeless; the per-address one keeps one noisy client from locking everyone else out.
    """

    def __init__(
        self,
        *,
        per_address: int = 5,
        total: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_address = per_address
        self._total = total
        self._window = window
        self._clock = clock
        self._failures: deque[tuple[float, str]] = deque()

    def _expire(self) -> float:
        now = self._clock()
        while self._failures and self._failures[0][0] <= now - self._window:
            self._failures.popleft()
        return now

    def retry_after(self, address: str) -> int | None:
        """Seconds `address` must wait before trying again, or None if it may try now."""
        now = self._expire()
        mine = [at for at, who in self._failures if who == address]
        if len(mine) >= self._per_address:
            oldest = mine[-self._per_address]
        elif len(self._failures) >= self._total:
            oldest = self._failures[-self._total][0]
        else:
            return None
        return max(1, int(oldest + self._window - now) + 1)

    def failed(self, address: str) -> None:
        self._expire()
        self._failures.append((self._clock(), address))

    def admit(self, address: str) -> int | None:
        """Count an attempt from `address` as failed now, before its slow check, so that a
        burst of concurrent attempts is held to the limit (checking first and counting
        after the check let 224 of 300 through); or the seconds to wait, counting nothing.
        Call `forgive(address)` once the attempt proves right."""
        wait = self.retry_after(address)
        if wait is None:
            self.failed(address)
        return wait

    def forgive(self, address: str) -> None:
        """Forget the newest failure counted for `address`: its attempt was right."""
        for index in range(len(self._failures) - 1, -1, -1):
            if self._failures[index][1] == address:
                del self._failures[index]
                return
