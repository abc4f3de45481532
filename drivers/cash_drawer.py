"""Serial cash drawer: it opens when its open byte (BEL by default) arrives on the line."""

from __future__ import annotations

from pathlib import Path

from drivers.device_line import DeviceLine
from drivers.device_url import DeviceUrl

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
        self._line = DeviceLine(url, timeout=timeout, sysfs=sysfs)

    async def open(self) -> None:
        """Open the drawer; raises a DriverError if the line cannot be reached."""
        await self._line.send(self.open_bytes)

    async def close(self) -> None:
        """Close the line; safe twice."""
        await self._line.close()
