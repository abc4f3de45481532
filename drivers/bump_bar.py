"""Serial bump bar: each key sends one byte; a keymap turns bytes into KDS actions.

`decode_keys` is pure; `BumpBarReader` reads the line and yields keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers.device_url import DeviceUrl
from drivers.errors import ConnectionLost, DeviceTimeout
from drivers.transport import Transport, open_transport

ACTIONS = ("select", "bump", "recall", "next_page", "previous_page", "home")


@dataclass(frozen=True)
class BumpKey:
    """One key press: an action, and for `select` the 1-based ticket position."""

    action: str
    index: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown bump bar action {self.action!r}; known: {ACTIONS}")
        if (self.action == "select") != (self.index is not None):
            raise ValueError("a select key has an index, and only a select key has one")
        if self.index is not None and self.index < 1:
            raise ValueError(f"a select index starts at 1, not {self.index}")


DEFAULT_KEYMAP: dict[int, BumpKey] = {
    **{ord(str(n)): BumpKey("select", n) for n in range(1, 10)},
    ord("B"): BumpKey("bump"),
    ord("R"): BumpKey("recall"),
    ord("N"): BumpKey("next_page"),
    ord("P"): BumpKey("previous_page"),
    ord("H"): BumpKey("home"),
}


def decode_keys(data: bytes, keymap: Mapping[int, BumpKey] = DEFAULT_KEYMAP) -> list[BumpKey]:
    """The keys in `data`, in order; bytes the keymap does not know are skipped."""
    return [keymap[byte] for byte in data if byte in keymap]


class BumpBarReader:
    """Reads one bump bar line; `keys()` yields presses until the line fails.

    The line is opened when iteration starts and closed when it ends (break, error or
    cancellation). `ignored` counts the bytes that were not keys.
    """

    def __init__(
        self,
        url: DeviceUrl,
        *,
        keymap: Mapping[int, BumpKey] = DEFAULT_KEYMAP,
        timeout: float = 2.0,
        idle_poll: float = 30.0,
        sysfs: Path = Path("/sys"),
    ) -> None:
        self.url = url
        self.keymap = dict(keymap)
        self.timeout = timeout
        self.ignored = 0
        # A bump bar is silent for minutes; reads time out every `idle_poll` seconds so no
        # read waits forever, and the reader simply reads again.
        self._idle_poll = idle_poll
        self._sysfs = sysfs
        self._transport: Transport | None = None

    @property
    def is_open(self) -> bool:
        """True while `keys()` holds the line open (bytes sent before that are lost)."""
        return self._transport is not None

    async def keys(self) -> AsyncIterator[BumpKey]:
        """Yield each key pressed; raises DriverError when the line cannot be opened or fails."""
        transport = await open_transport(self.url, timeout=self.timeout, sysfs=self._sysfs)
        self._transport = transport
        try:
            while True:
                try:
                    data = await transport.read(256, timeout=self._idle_poll)
                except DeviceTimeout:
                    continue
                except ConnectionLost:
                    if self._transport is not transport:
                        return  # close() took the line away: the iteration simply ends
                    raise
                keys = decode_keys(data, self.keymap)
                self.ignored += len(data) - len(keys)
                for key in keys:
                    yield key
        finally:
            if self._transport is transport:
                self._transport = None
            await transport.close()

    async def close(self) -> None:
        """Close the line if `keys()` holds it open (its iteration then ends); safe twice."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
