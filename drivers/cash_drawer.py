"""Serial cash drawer: it opens when its open byte (BEL by default) arrives on the line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.device_url import DeviceUrl
from drivers.errors import ConnectionLost
from drivers.transport import Transport, open_transport

DEFAULT_OPEN_BYTES = b"\x07"


class SerialDrawer:
    """A cash drawer on its own serial line (or any device URL); the line opens on first use.

    A serial drawer does not confirm: `open()` returns once the device took the bytes. After
    a failure the line is closed and the next `open()` reopens it.
    """

    def __init__(
        self,
        url: DeviceUrl,
        *,
        open_bytes: bytes = DEFAULT_OPEN_BYTES,
        timeout: float = 2.0,
        sysfs: Path = Path("/sys"),
    ) -> None:
        if not open_bytes:
            raise ValueError("a drawer needs at least one byte to open")
        self.url = url
        self.open_bytes = bytes(open_bytes)
        self.timeout = timeout
        self._sysfs = sysfs
        self._transport: Transport | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open the drawer; raises a DriverError if the line cannot be reached."""
        async with self._lock:
            reused = self._transport is not None
            try:
                try:
                    await self._send()
                except ConnectionLost:
                    if not reused:
                        raise
                    # The line went away while idle (adapter replugged): one more try on a
                    # freshly opened line; nothing reached the old one.
                    await self._drop()
                    await self._send()
            except BaseException:
                await self._drop()
                raise

    async def _send(self) -> None:
        if self._transport is None:
            self._transport = await open_transport(
                self.url, timeout=self.timeout, sysfs=self._sysfs
            )
        await self._transport.write(self.open_bytes, timeout=self.timeout)

    async def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def close(self) -> None:
        """Close the line; safe twice."""
        await self._drop()
