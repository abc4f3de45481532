"""Byte transports to devices: TCP, serial lines, USB printers (usblp) and device files.

Each open, read and write takes its own timeout in seconds (ASYNC109 is silenced on them: the
deadline belongs to the call). Serial lines are configured by pyserial and then driven, like
device files, through their non-blocking file descriptor on the event loop (no threads).
usb://vendor:product is found through sysfs and opened as the kernel's usblp node
(/dev/usb/lpN), so no libusb and no detaching kernel drivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import re
import sys
import termios
from abc import ABC, abstractmethod
from pathlib import Path

import serial

from drivers.device_url import DeviceUrl, SerialSettings
from drivers.errors import ConnectionLost, DeviceTimeout, DeviceUnreachable

_CLOSE_GRACE = 1.0  # seconds a clean TCP close may take before the socket is aborted
_LOST_ERRNOS = {errno.EIO, errno.EPIPE, errno.ECONNRESET, errno.ENODEV, errno.ENXIO, errno.EBADF}


class Transport(ABC):
    """A byte stream to one device. One reader and one writer at a time; `close` is safe twice."""

    name: str

    @abstractmethod
    async def write(self, data: bytes, *, timeout: float) -> None:  # noqa: ASYNC109
        """Write all of `data`; DeviceTimeout if the device does not take it in time."""

    @abstractmethod
    async def read(self, max_bytes: int = 256, *, timeout: float) -> bytes:  # noqa: ASYNC109
        """At least one byte; DeviceTimeout if none in time, ConnectionLost at EOF or reset."""

    @abstractmethod
    async def close(self) -> None:
        """Release the device; a pending read or write fails with ConnectionLost."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class TcpTransport(Transport):
    """A TCP connection (asyncio streams), e.g. a network printer on port 9100."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._closed = False

    async def write(self, data: bytes, *, timeout: float) -> None:  # noqa: ASYNC109
        if self._closed or self._writer.transport.is_closing():
            raise ConnectionLost(f"{self.name}: the connection is closed")
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(data)
                await self._writer.drain()
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.name} did not take data within {timeout:g} s (busy, paused or stuck?)"
            ) from None
        except OSError as exc:
            raise ConnectionLost(f"{self.name} dropped the connection: {exc}") from None

    async def read(self, max_bytes: int = 256, *, timeout: float) -> bytes:  # noqa: ASYNC109
        if self._closed:
            raise ConnectionLost(f"{self.name}: the connection is closed")
        try:
            async with asyncio.timeout(timeout):
                data = await self._reader.read(max_bytes)
        except TimeoutError:
            raise DeviceTimeout(f"{self.name} did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise ConnectionLost(f"{self.name} dropped the connection: {exc}") from None
        if not data:
            raise ConnectionLost(f"{self.name} closed the connection")
        return data

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # close() waits to flush what is queued; a printer that stopped reading (paper out)
        # never takes it, so after a short grace the socket is aborted.
        self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_GRACE):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            self._writer.transport.abort()


class FdTransport(Transport):
    """A non-blocking file descriptor driven by the event loop: a tty, pty or usblp node."""

    def __init__(self, fd: int, name: str, port: serial.Serial | None = None) -> None:
        self.name = name
        self._fd = fd
        self._port = port  # owns `fd` when set: closing it releases the lock and the fd
        self._loop = asyncio.get_running_loop()
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False

    async def write(self, data: bytes, *, timeout: float) -> None:  # noqa: ASYNC109
        view = memoryview(data)
        try:
            async with asyncio.timeout(timeout):
                while view:
                    self._check_open()
                    try:
                        written = os.write(self._fd, view)
                    except BlockingIOError:
                        await self._wait(writable=True)
                        continue
                    view = view[written:]
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.name} did not take data within {timeout:g} s "
                f"({len(view)} of {len(data)} bytes left; flow control or device stuck?)"
            ) from None
        except OSError as exc:
            raise self._lost(exc) from None

    async def read(self, max_bytes: int = 256, *, timeout: float) -> bytes:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._check_open()
                    try:
                        data = os.read(self._fd, max_bytes)
                    except BlockingIOError:
                        await self._wait(writable=False)
                        continue
                    if not data:
                        raise ConnectionLost(f"{self.name}: the device hung up (end of file)")
                    return data
        except TimeoutError:
            raise DeviceTimeout(f"{self.name} did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise self._lost(exc) from None

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionLost(f"{self.name}: the device is closed")

    def _lost(self, exc: OSError) -> ConnectionLost:
        if exc.errno in _LOST_ERRNOS:
            return ConnectionLost(f"{self.name}: the device went away ({exc.strerror})")
        return ConnectionLost(f"{self.name}: I/O error: {exc}")

    async def _wait(self, *, writable: bool) -> None:
        waiter = self._loop.create_future()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        add, remove = (
            (self._loop.add_writer, self._loop.remove_writer)
            if writable
            else (self._loop.add_reader, self._loop.remove_reader)
        )
        add(self._fd, wake)
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)
            if not self._closed:
                remove(self._fd)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionLost(f"{self.name}: closed while in use"))
        try:
            if os.isatty(self._fd):
                await self._settle_output()
        finally:
            if self._port is not None:
                self._port.close()
            else:
                os.close(self._fd)

    async def _settle_output(self) -> None:
        # Closing a tty blocks the calling thread until its output queue drains (up to 30 s
        # by default); a printer holding CTS low (paper out) never drains it. So let the
        # queue go out for a short grace without blocking, then discard what is left.
        # Only a queue that did not drain is flushed: on a pty, TCOFLUSH also discards what
        # the other end has not read yet, so flushing an empty queue could lose sent bytes.
        with contextlib.suppress(OSError):
            for _ in range(int(_CLOSE_GRACE / 0.01)):
                queued = fcntl.ioctl(self._fd, termios.TIOCOUTQ, b"\0\0\0\0")
                if not int.from_bytes(queued, sys.byteorder):
                    return
                await asyncio.sleep(0.01)
            termios.tcflush(self._fd, termios.TCOFLUSH)


async def open_transport(
    url: DeviceUrl,
    *,
    timeout: float,  # noqa: ASYNC109
    sysfs: Path = Path("/sys"),
) -> Transport:
    """Open the device at `url`; raises DeviceUnreachable with what to check."""
    if url.scheme == "tcp":
        return await _open_tcp(url, timeout)
    if url.scheme == "serial":
        return _open_serial(url)
    if url.scheme == "file":
        return _open_file(url.path or "", url.text)
    if url.scheme == "usb":
        node = find_usb_printer(url.vendor_id or 0, url.product_id or 0, sysfs=sysfs)
        return _open_file(str(node), f"{url.text} ({node})")
    raise DeviceUnreachable(f"{url.text}: no transport for scheme {url.scheme!r}")


async def _open_tcp(url: DeviceUrl, seconds: float) -> Transport:
    name = url.text
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(url.host, url.port)
    except TimeoutError:
        raise DeviceUnreachable(
            f"{name}: no answer to connect within {seconds:g} s (powered off, wrong address?)"
        ) from None
    except ConnectionRefusedError:
        raise DeviceUnreachable(
            f"{name}: connection refused (printer offline, or another port?)"
        ) from None
    except OSError as exc:
        raise DeviceUnreachable(f"{name}: cannot connect: {exc.strerror or exc}") from None
    return TcpTransport(reader, writer, name)


def _open_serial(url: DeviceUrl) -> Transport:
    settings = url.serial or SerialSettings()
    port = serial.Serial()
    port.port = url.path
    port.baudrate = settings.baudrate
    port.bytesize = settings.bytesize
    port.parity = settings.parity
    port.stopbits = settings.stopbits
    port.rtscts = settings.rtscts
    port.xonxoff = settings.xonxoff
    port.exclusive = True  # one owner per device: a second opener is told it is in use
    port.timeout = 0
    try:
        # Opening and configuring a tty (termios calls) does not wait on the device.
        port.open()
        fd = port.fileno()
        os.set_blocking(fd, False)
        _read_returns_eagain(fd)
    except (serial.SerialException, OSError, ValueError) as exc:
        port.close()
        raise DeviceUnreachable(_open_failure(url.text, url.path or "", exc)) from None
    return FdTransport(fd, url.text, port)


def _open_file(path: str, name: str) -> Transport:
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise DeviceUnreachable(_open_failure(name, path, exc)) from None
    if os.isatty(fd):
        try:
            _read_returns_eagain(fd)
        except OSError as exc:
            os.close(fd)
            raise DeviceUnreachable(_open_failure(name, path, exc)) from None
    return FdTransport(fd, name)


def _read_returns_eagain(fd: int) -> None:
    # A tty with VMIN=0 and VTIME=0 (pyserial's setting) answers an empty non-blocking read
    # with 0 bytes, which looks like end of file; VMIN=1 makes it EAGAIN, so 0 bytes can only
    # mean that the line hung up.
    attrs = termios.tcgetattr(fd)
    cc = attrs[6]
    if cc[termios.VMIN] != 1 or cc[termios.VTIME] != 0:
        cc[termios.VMIN], cc[termios.VTIME] = 1, 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _open_failure(name: str, path: str, exc: Exception) -> str:
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return f"{name}: {path} does not exist (unplugged, or another name?)"
    if code in (errno.EACCES, errno.EPERM):
        return f"{name}: no permission to open {path} (is the user in the dialout or lp group?)"
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK):
        return f"{name}: {path} is in use by another program"
    if code in (errno.ENXIO, errno.ENODEV):
        return f"{name}: {path} has no device behind it (unplugged?)"
    return f"{name}: cannot open {path}: {exc}"


def find_usb_printer(vendor_id: int, product_id: int, *, sysfs: Path = Path("/sys")) -> Path:
    """The usblp node (/dev/usb/lpN) of the first USB printer with these ids."""
    wanted = f"{vendor_id:04x}:{product_id:04x}"
    lp_dirs = sorted((sysfs / "class" / "usbmisc").glob("lp*"), key=_natural)
    for lp_dir in lp_dirs:
        # `device` links to the USB interface; its parent directory is the USB device.
        # The kernel resolves "device/.." through the link, as the usblp layout requires.
        try:
            vendor = (lp_dir / "device" / ".." / "idVendor").read_text().strip().lower()
            product = (lp_dir / "device" / ".." / "idProduct").read_text().strip().lower()
        except OSError:
            continue
        if f"{vendor}:{product}" == wanted:
            return _dev_node(lp_dir)
    raise DeviceUnreachable(
        f"usb://{wanted}: no USB printer with these ids "
        f"(plugged in and powered? is the usblp module loaded? `lsusb` lists ids)"
    )


def _dev_node(lp_dir: Path) -> Path:
    # uevent's DEVNAME is the node's path under /dev (usb/lp0); without it, assume the
    # usblp default name.
    try:
        for line in (lp_dir / "uevent").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "DEVNAME" and value and not value.startswith("/") and ".." not in value:
                return Path("/dev") / value
    except OSError:
        pass
    return Path("/dev/usb") / lp_dir.name


def _natural(path: Path) -> tuple[int, str]:
    digits = re.sub(r"\D", "", path.name)
    return (int(digits) if digits else -1, path.name)
