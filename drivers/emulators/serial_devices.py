"""Serial device emulators on pseudo-terminals: printer, line display, bump bar, cash drawer.

Each emulator owns the master side of a pty and keeps the slave open as well, so the line does
not hang up between clients; a driver opens `device_path` (serial:// or file://) like a real
port. The slave is in raw mode: bytes pass unchanged (no CR/LF translation, no echo).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Self

from drivers.emulators.printer_engine import Notifier, PrinterEngine, Source
from drivers.escpos.commands import CODE_PAGES
from drivers.escpos.printout import Paper

log = logging.getLogger(__name__)


class PtyPort:
    """A pty pair on the running loop: reads call `on_data`; writes are buffered, never block."""

    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self._on_data = on_data
        self._master = self._slave = -1
        self._out = bytearray()
        self._drained = Notifier()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.device_path = ""

    def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.device_path = os.ttyname(self._slave)
        self._loop.add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO cannot happen while we hold the slave; anything else is fatal
            log.error("pty %s: read failed: %s", self.device_path, exc)
            self._stop_io()
            return
        if data:
            self._on_data(data)

    def write(self, data: bytes) -> None:
        """Send bytes to whoever has the device open (kept in order while the pty is full)."""
        if self._master < 0:
            return
        if self._out:
            self._out += data
            return
        written = self._write_some(data)
        if written < len(data):
            self._out += data[written:]
            assert self._loop is not None
            self._loop.add_writer(self._master, self._writable)

    def _write_some(self, data: bytes | bytearray) -> int:
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.error("pty %s: write failed: %s", self.device_path, exc)
            return len(data)  # nobody can receive it: drop it like a cable with no one at the end

    def _writable(self) -> None:
        del self._out[: self._write_some(self._out)]
        if not self._out:
            assert self._loop is not None
            self._loop.remove_writer(self._master)
            self._drained.notify()

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until everything written is in the pty (not necessarily read)."""
        await self._drained.wait_for(lambda: not self._out, timeout, lambda: "pty still full")

    def _stop_io(self) -> None:
        if self._loop is not None and self._master >= 0:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)

    def close(self) -> None:
        """Close both ends; safe twice."""
        self._stop_io()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        self._out.clear()
        self._drained.notify()


class _PtyDevice:
    """start/close/async-with and `device_path` for an emulator that owns a `PtyPort`."""

    _port: PtyPort

    @property
    def device_path(self) -> str:
        """The pty slave path, e.g. /dev/pts/3 (empty before start)."""
        return self._port.device_path

    async def start(self) -> None:
        self._port.open()

    async def close(self) -> None:
        """Close the pty; safe twice."""
        self._port.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class SerialPrinterEmulator(_PtyDevice, PrinterEngine):
    """An ESC/POS printer on a serial line: same engine and switches as the network one."""

    def __init__(
        self,
        *,
        out_dir: str | Path | None = None,
        on_paper: Callable[[Paper], None] | None = None,
    ) -> None:
        PrinterEngine.__init__(self, out_dir=out_dir, on_paper=on_paper)
        self._port = PtyPort(self._data)
        self._source = Source(self._port.write)

    def _data(self, data: bytes) -> None:
        self.receive(self._source, data)

    async def start(self) -> None:
        self._port.open()
        self.start_processing()

    async def close(self) -> None:
        self._source.open = False
        self._port.close()
        await self.stop_processing()


class DisplayScreen:
    """A 2 x 20 Epson DM-D compatible customer display's screen and cursor (pure)."""

    WIDTH, ROWS = 20, 2

    def __init__(self) -> None:
        self.unknown = 0  # bytes not understood
        self._carry = b""
        self.initialise()

    def initialise(self) -> None:
        self._cells = [[" "] * self.WIDTH for _ in range(self.ROWS)]
        self.column = self.row = 0
        self.vertical_scroll = False
        self.code_page = 0

    @property
    def lines(self) -> tuple[str, str]:
        top, bottom = ("".join(row) for row in self._cells)
        return top, bottom

    def feed(self, data: bytes) -> None:
        """Apply bytes (a command cut at the end waits for the next call)."""
        buf, i = self._carry + data, 0
        while i < len(buf):
            used = self._command(buf, i)
            if used == 0:
                break
            i += used
        self._carry = buf[i:]

    def _command(self, buf: bytes, i: int) -> int:
        """Run the command at buf[i]; return its length, 0 while incomplete."""
        byte = buf[i]
        if byte >= 0x20:
            char = bytes([byte]).decode(CODE_PAGES.get(self.code_page, "cp437"), errors="replace")
            self._put(char)
            return 1
        if byte in (0x1B, 0x1F):
            return self._escape(buf, i)
        if byte == 0x0C:  # clear screen
            self._cells = [[" "] * self.WIDTH for _ in range(self.ROWS)]
            self.column = self.row = 0
        elif byte == 0x0B:
            self.column = self.row = 0
        elif byte == 0x0A:
            self._line_feed()
        elif byte == 0x0D:
            self.column = 0
        elif byte == 0x08:
            self.column = max(self.column - 1, 0)
        elif byte == 0x09:
            self.column = min(self.column + 1, self.WIDTH)
        elif byte == 0x18:  # clear the cursor's line
            self._cells[self.row] = [" "] * self.WIDTH
        else:
            self.unknown += 1
        return 1

    def _escape(self, buf: bytes, i: int) -> int:
        if i + 1 >= len(buf):
            return 0
        key = buf[i : i + 2]
        lengths = {b"\x1b@": 2, b"\x1bt": 3, b"\x1bR": 3, b"\x1b=": 3, b"\x1f$": 4}
        lengths |= dict.fromkeys([b"\x1f\x01", b"\x1f\x02", b"\x1f\x03", b"\x1f@", b"\x1fB"], 2)
        lengths |= dict.fromkeys([b"\x1fC", b"\x1fX", b"\x1fE", b"\x1fr"], 3)
        length = lengths.get(key)
        if length is None:
            self.unknown += 2
            return 2
        if i + length > len(buf):
            return 0
        if key == b"\x1b@":
            self.initialise()
        elif key == b"\x1bt":
            self.code_page = buf[i + 2]
        elif key == b"\x1f$":
            column, row = buf[i + 2], buf[i + 3]
            if 1 <= column <= self.WIDTH and 1 <= row <= self.ROWS:
                self.column, self.row = column - 1, row - 1
        elif key in (b"\x1f\x01", b"\x1f\x02", b"\x1f\x03"):
            self.vertical_scroll = key == b"\x1f\x02"
        elif key == b"\x1fB":  # cursor to the bottom line's left end
            self.column, self.row = 0, self.ROWS - 1
        return length

    def _put(self, char: str) -> None:
        if self.column >= self.WIDTH:
            if not self.vertical_scroll:
                return  # overwrite mode: text past the last column is dropped
            self.column = 0
            self._line_feed()
        self._cells[self.row][self.column] = char
        self.column += 1

    def _line_feed(self) -> None:
        if self.row < self.ROWS - 1:
            self.row += 1
        elif self.vertical_scroll:
            self._cells = [*self._cells[1:], [" "] * self.WIDTH]
        else:
            self.row = 0  # DM-D overwrite mode: from the bottom line back to the top


class LineDisplayEmulator(_PtyDevice):
    """A 2 x 20 customer display; `lines` is the screen (two 20-character strings)."""

    def __init__(self, *, on_change: Callable[[tuple[str, str]], None] | None = None) -> None:
        self._port = PtyPort(self._data)
        self._screen = DisplayScreen()
        self._on_change = on_change
        self._changes = Notifier()
        self.frames: list[tuple[str, str]] = []  # the screen after each change

    @property
    def lines(self) -> tuple[str, str]:
        return self._screen.lines

    @property
    def unknown(self) -> int:
        """How many received bytes were not understood."""
        return self._screen.unknown

    def _data(self, data: bytes) -> None:
        self._screen.feed(data)
        lines = self._screen.lines
        if self.frames and self.frames[-1] == lines:
            return
        self.frames.append(lines)
        self._changes.notify()
        if self._on_change is not None:
            self._on_change(lines)

    async def wait_for_text(self, substring: str, timeout: float) -> tuple[str, str]:  # noqa: ASYNC109
        """Wait until either line shows `substring` (now or in a frame since the call)."""
        start = len(self.frames)

        def shown() -> bool:
            return any(
                substring in line for frame in [self.lines, *self.frames[start:]] for line in frame
            )

        await self._changes.wait_for(
            shown, timeout, lambda: f"{substring!r} not shown: {self.lines}"
        )
        return self.lines


class BumpBarEmulator(_PtyDevice):
    """A serial bump bar: `press` sends key bytes to whoever reads the device."""

    def __init__(self) -> None:
        self._port = PtyPort(self._data)
        self.received = b""  # what the host sent (a bump bar ignores it)

    def _data(self, data: bytes) -> None:
        self.received += data

    def send(self, key_bytes: bytes) -> None:
        """Send keys now, without waiting for the line (for callbacks that cannot await)."""
        self._port.write(bytes(key_bytes))

    async def press(self, key_bytes: bytes | str, timeout: float = 2.0) -> None:  # noqa: ASYNC109
        """Send the keys (str is ASCII) and wait until they are on the line."""
        keys = key_bytes.encode("ascii") if isinstance(key_bytes, str) else bytes(key_bytes)
        self._port.write(keys)
        await self._port.drain(timeout)


class SerialDrawerEmulator(_PtyDevice):
    """A serial cash drawer that opens on its open bytes (BEL by default); counts `opens`."""

    def __init__(
        self, open_bytes: bytes = b"\x07", *, on_open: Callable[[int], None] | None = None
    ) -> None:
        if not open_bytes:
            raise ValueError("open_bytes must not be empty")
        self._port = PtyPort(self._data)
        self._on_open = on_open
        self.open_bytes = bytes(open_bytes)
        self.opens = 0
        self.received = b""
        self._tail = b""
        self._changes = Notifier()

    def _data(self, data: bytes) -> None:
        self.received += data
        buf, pos = self._tail + data, 0
        while (found := buf.find(self.open_bytes, pos)) >= 0:
            self.opens += 1
            pos = found + len(self.open_bytes)
            if self._on_open is not None:
                self._on_open(self.opens)
        self._tail = buf[max(pos, len(buf) - len(self.open_bytes) + 1) :]
        self._changes.notify()

    async def wait_for_opens(self, n: int, timeout: float) -> int:  # noqa: ASYNC109
        """Wait until the drawer has opened at least n times; returns the count."""
        await self._changes.wait_for(
            lambda: self.opens >= n, timeout, lambda: f"{self.opens} of {n} opens"
        )
        return self.opens
