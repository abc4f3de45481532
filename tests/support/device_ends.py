"""The far ends of device transports, made of real parts: a TCP server on 127.0.0.1 with a
port the OS picks, and pty pairs whose slave is the device node a transport opens (serial://,
file://, usb://) and whose master plays the device.

For usb://, the sysfs tree under tmp_path is the one part made up: a test cannot plug a USB
printer in, so the tree copies the layout the kernel's usblp driver creates
(class/usbmisc/lpN -> .../usbmisc/lpN, its `device` link to the USB interface, idVendor and
idProduct one level up, DEVNAME in uevent), and its DEVNAME names a real pty slave, so the
bytes still travel through a real device node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tty
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path

from drivers.device_url import DeviceUrl, parse_device_url
from drivers.transport import Transport, open_transport
from tests.support.tcp_peer import TcpPeer

WAIT = 10.0  # seconds: the bound on every wait for the far end
USB_IDS = ("04b8", "0e15")  # the printer a made-up sysfs tree holds
RESET = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER on, 0 s: close() sends a reset


def open_fds() -> int:
    """How many file descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


class PtyPair:
    """A pty pair: the master's fd and the slave's path. The slave end is raw, as an emulator
    leaves it, and closed: whoever opens the path holds it."""

    def __init__(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self.master: int | None = master

    def close(self) -> None:
        """Close the master: the line hangs up. Safe twice."""
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def read_master(master: int, count: int) -> bytes:
    """Read `count` bytes from a pty master, within a bounded number of tries."""
    data = b""
    for _ in range(500):
        with contextlib.suppress(BlockingIOError):
            data += os.read(master, count - len(data))
        if len(data) >= count:
            return data
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(data)} of {count} bytes arrived")


def fake_usblp(sysfs: Path, index: int, vendor: str, product: str, devname: str) -> None:
    """Add the sysfs entries usblp creates for printer `lp<index>` (see the module docstring)."""
    usb_device = sysfs / "devices/pci0000:00/0000:00:14.0/usb1" / f"1-{index + 1}"
    interface = usb_device / f"1-{index + 1}:1.0"
    lp = interface / "usbmisc" / f"lp{index}"
    lp.mkdir(parents=True)
    (usb_device / "idVendor").write_text(f"{vendor}\n")
    (usb_device / "idProduct").write_text(f"{product}\n")
    (lp / "device").symlink_to(os.path.relpath(interface, lp))
    (lp / "uevent").write_text(f"MAJOR=180\nMINOR={index}\nDEVNAME={devname}\n")
    usbmisc = sysfs / "class" / "usbmisc"
    usbmisc.mkdir(parents=True, exist_ok=True)
    (usbmisc / f"lp{index}").symlink_to(os.path.relpath(lp, usbmisc))


class DeviceEnd(ABC):
    """The device at the far end of one transport: it takes, sends and stops on command.

    Unless told to `receive`, it reads nothing, as a printer that stopped taking data.
    """

    url: DeviceUrl
    absent_url: DeviceUrl  # where no such device is
    sysfs: Path

    async def open(self) -> Transport:
        """A transport to this device, opened as the drivers open it."""
        return await open_transport(self.url, timeout=WAIT, sysfs=self.sysfs)

    async def open_absent(self) -> Transport:
        """Open `absent_url` as the drivers would (it raises)."""
        return await open_transport(self.absent_url, timeout=WAIT, sysfs=self.sysfs)

    @abstractmethod
    async def receive(self, count: int) -> bytes:
        """The next `count` bytes the transport wrote."""

    @abstractmethod
    async def send(self, data: bytes) -> None:
        """Send `data` to the transport."""

    @abstractmethod
    async def go_away(self) -> None:
        """The device goes away at once: unplugged, powered off, reset."""


class TcpEnd(DeviceEnd):
    """tcp://: a server holding the latest connection (as a printer's port 9100, one at a
    time: a new connection lets the one before go). Serves while `running`."""

    def __init__(self, tmp_path: Path) -> None:
        self.sysfs = tmp_path / "sys"
        with socket.socket() as sock:  # a port nobody listens on once it is closed
            sock.bind(("127.0.0.1", 0))
            self.absent_url = parse_device_url(f"tcp://127.0.0.1:{sock.getsockname()[1]}")
        self._peer = TcpPeer(self._hold)
        self._held: tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event] | None = None
        self._accepted = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TcpEnd]:
        """Listen on 127.0.0.1 with a port the OS picks; every connection ends on the way out."""
        async with self._peer:
            self.url = self._peer.url
            yield self

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._held is not None:
            self._held[2].set()
        released = asyncio.Event()
        self._held = reader, writer, released
        self._accepted.set()
        await released.wait()

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(WAIT):
            await self._accepted.wait()
        assert self._held is not None
        return self._held[0], self._held[1]

    async def receive(self, count: int) -> bytes:
        reader, _ = await self._connection()
        async with asyncio.timeout(WAIT):
            return await reader.readexactly(count)

    async def send(self, data: bytes) -> None:
        _, writer = await self._connection()
        writer.write(data)
        async with asyncio.timeout(WAIT):
            await writer.drain()

    async def go_away(self) -> None:
        _, writer = await self._connection()
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
        writer.transport.abort()


class PtyEnd(DeviceEnd):
    """serial://, file:// or usb:// (through a made-up sysfs tree) to a pty slave; the
    master is the device."""

    def __init__(self, scheme: str, pty: PtyPair, tmp_path: Path) -> None:
        self.pty = pty
        self.sysfs = tmp_path / "sys"
        if scheme == "usb":
            vendor, product = USB_IDS
            fake_usblp(self.sysfs, 0, vendor, product, pty.path.removeprefix("/dev/"))
            self.url = parse_device_url(f"usb://{vendor}:{product}")
            self.absent_url = parse_device_url(f"usb://{vendor}:0202")
        else:
            self.url = parse_device_url(f"{scheme}://{pty.path}")
            self.absent_url = parse_device_url(f"{scheme}://{tmp_path}/no-such-device")

    def _device(self) -> int:
        assert self.pty.master is not None, "the device went away"
        return self.pty.master

    async def receive(self, count: int) -> bytes:
        return await read_master(self._device(), count)

    async def send(self, data: bytes) -> None:
        os.write(self._device(), data)

    async def go_away(self) -> None:
        self._device()
        self.pty.close()


SCHEMES = ("tcp", "serial", "file", "usb")


@contextlib.asynccontextmanager
async def device_end(scheme: str, tmp_path: Path) -> AsyncIterator[DeviceEnd]:
    """A device at the far end of a `scheme` transport (one of SCHEMES), gone on the way out."""
    if scheme == "tcp":
        async with TcpEnd(tmp_path).running() as end:
            yield end
        return
    with PtyPair() as pty:
        yield PtyEnd(scheme, pty, tmp_path)
