"""A line to a device that is only written to (a customer display, a serial drawer).

The line opens on first use and stays open; writes are serialised. A write that finds the
line gone while it sat idle (an adapter replugged) is tried once more on a new line, since
nothing reached the old one; after any other failure the line is closed and the next write
opens it again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.device_url import DeviceUrl
from drivers.errors import ConnectionLost
from drivers.transport import Transport, open_transport


class DeviceLine:
    """Writes to the device at `url`; `greeting` goes first on every newly opened line."""

    def __init__(
        self, url: DeviceUrl, *, timeout: float, greeting: bytes = b"", sysfs: Path = Path("/sys")
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.greeting = greeting
        self._sysfs = sysfs
        self._transport: Transport | None = None
        self._lock = asyncio.Lock()

    async def send(self, data: bytes) -> None:
        """Write `data`; raises a DriverError if the device cannot be reached."""
        async with self._lock:
            reused = self._transport is not None
            try:
                try:
                    await self._send(data)
                except ConnectionLost:
                    if not reused:
                        raise
                    await self._drop()
                    await self._send(data)
            except BaseException:
                await self._drop()
                raise

    async def _send(self, data: bytes) -> None:
        if self._transport is None:
            self._transport = await open_transport(
                self.url, timeout=self.timeout, sysfs=self._sysfs
            )
            data = self.greeting + data
        await self._transport.write(data, timeout=self.timeout)

    async def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def close(self) -> None:
        """Close the line; safe twice."""
        await self._drop()
