"""Transports against real things, one by one: TCP sockets on 127.0.0.1, pty pairs, and a
made-up sysfs tree (tests/support/device_ends.py). What every transport shares is in
test_transport_conformance.py; here are each one's own ways: connecting over TCP, serial line
settings and ownership, file and usb nodes that cannot be opened, finding usb printers.
"""

import asyncio
import contextlib
import os
import socket
import termios
from pathlib import Path

import pytest

from drivers.device_url import parse_device_url
from drivers.errors import ConnectionLost, DeviceTimeout, DeviceUnreachable
from drivers.transport import find_usb_printer, open_transport
from tests.support.device_ends import PtyPair, fake_usblp, open_fds, read_master
from tests.support.tcp_peer import TcpPeer

ALL_BYTES = bytes(range(256))


@pytest.fixture
def no_leaked_fds():
    before = open_fds()
    yield
    assert open_fds() == before, "the test leaked file descriptors"


@pytest.fixture
def pty():
    """A pty pair: (master fd, slave path). The slave end is raw, as an emulator leaves it."""
    with PtyPair() as pair:
        yield pair.master, pair.path


async def test_tcp_round_trip_of_every_byte_value(no_leaked_fds):
    async with TcpPeer() as server:
        transport = await open_transport(server.url, timeout=5)
        assert transport.name == server.url.text
        await transport.write(ALL_BYTES, timeout=5)
        echoed = b""
        for _ in range(256):
            echoed += await transport.read(512, timeout=5)
            if len(echoed) == 256:
                break
        assert echoed == ALL_BYTES
        await transport.close()
        await transport.close()


async def test_tcp_read_times_out_when_the_peer_is_silent():
    async def silent(reader, writer):
        await reader.read()

    async with TcpPeer(silent) as server:
        transport = await open_transport(server.url, timeout=5)
        with pytest.raises(DeviceTimeout, match=r"did not answer within 0\.2 s"):
            await transport.read(timeout=0.2)
        # the timeout left the stream usable
        with pytest.raises(DeviceTimeout):
            await transport.read(timeout=0.05)
        await transport.close()


async def test_tcp_read_reports_the_peer_closing_as_connection_lost():
    async def hang_up(reader, writer):
        writer.write(b"\x12")
        await writer.drain()

    async with TcpPeer(hang_up) as server:
        transport = await open_transport(server.url, timeout=5)
        assert await transport.read(timeout=5) == b"\x12"
        with pytest.raises(ConnectionLost, match="closed the connection"):
            await transport.read(timeout=5)
        await transport.close()
        with pytest.raises(ConnectionLost):
            await transport.write(b"x", timeout=1)


async def test_tcp_write_to_a_reset_peer_is_connection_lost():
    async def reset(reader, writer):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    async with TcpPeer(reset) as server:
        transport = await open_transport(server.url, timeout=5)
        with pytest.raises(ConnectionLost):
            for _ in range(200):
                await transport.write(b"x" * 1024, timeout=5)
                await asyncio.sleep(0.01)
        await transport.close()


async def test_tcp_write_times_out_when_the_peer_stops_reading():
    stop = asyncio.Event()

    async def never_read(reader, writer):
        await stop.wait()

    async with TcpPeer(never_read) as server:
        transport = await open_transport(server.url, timeout=5)
        with pytest.raises(DeviceTimeout, match="did not take data"):
            for _ in range(64):  # bounded: 64 × 1 MiB is far beyond the socket buffers
                await transport.write(b"\0" * (1 << 20), timeout=0.3)
        await transport.close()  # aborts the stuck socket instead of waiting on it
        stop.set()


async def test_tcp_connect_refused_is_unreachable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nobody listens there now
    with pytest.raises(DeviceUnreachable, match="refused"):
        await open_transport(parse_device_url(f"tcp://127.0.0.1:{port}"), timeout=5)


async def test_tcp_connect_that_gets_no_answer_is_unreachable_within_the_timeout():
    # A listener whose accept queue is full drops new SYNs: connect() gets no answer.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        with pytest.raises(DeviceUnreachable, match=r"no answer to connect within 0\.3 s"):
            await open_transport(parse_device_url(f"tcp://127.0.0.1:{port}"), timeout=0.3)
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_tcp_unknown_host_is_unreachable():
    with pytest.raises(DeviceUnreachable, match="cannot connect"):
        await open_transport(parse_device_url("tcp://no-such-printer.invalid:9100"), timeout=5)


async def test_serial_configures_the_line_and_passes_every_byte_value(pty, no_leaked_fds):
    master, path = pty
    # A pty keeps the speed and stop bits it is given but forces 8 bits without parity,
    # so those two are left at their defaults here.
    url = parse_device_url(f"serial://{path}?baudrate=9600&stopbits=2&xonxoff=1")
    transport = await open_transport(url, timeout=5)
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)  # a look at the line's settings
    try:
        iflag, oflag, cflag, lflag, ispeed, ospeed, _ = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    assert ispeed == ospeed == termios.B9600
    assert cflag & termios.CSIZE == termios.CS8
    assert cflag & termios.CSTOPB
    assert iflag & termios.IXON and iflag & termios.IXOFF
    assert not lflag & (termios.ICANON | termios.ECHO)  # raw: no echo, no line editing
    assert not oflag & termios.OPOST  # raw: LF is not turned into CR LF

    await transport.write(b"\x1b@\n\r", timeout=5)
    assert await read_master(master, 4) == b"\x1b@\n\r"
    await transport.close()
    await transport.close()


async def test_serial_passes_every_byte_value_both_ways(pty, no_leaked_fds):
    master, path = pty
    transport = await open_transport(parse_device_url(f"serial://{path}"), timeout=5)
    await transport.write(ALL_BYTES, timeout=5)
    assert await read_master(master, 256) == ALL_BYTES
    os.write(master, ALL_BYTES)
    received = b""
    for _ in range(256):
        received += await transport.read(512, timeout=5)
        if len(received) == 256:
            break
    assert received == ALL_BYTES
    await transport.close()


async def test_serial_write_times_out_when_nobody_reads(pty):
    _master, path = pty
    transport = await open_transport(parse_device_url(f"serial://{path}"), timeout=5)
    with pytest.raises(DeviceTimeout, match=r"did not take data within 0\.2 s"):
        await transport.write(b"\0" * (1 << 20), timeout=0.2)
    await transport.close()


async def test_a_serial_line_has_one_owner(pty):
    _master, path = pty
    url = parse_device_url(f"serial://{path}")
    first = await open_transport(url, timeout=5)
    try:
        with pytest.raises(DeviceUnreachable, match="in use"):
            await open_transport(url, timeout=5)
    finally:
        await first.close()
    second = await open_transport(url, timeout=5)
    await second.close()


async def test_serial_missing_port_and_non_tty_are_unreachable(tmp_path, no_leaked_fds):
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        await open_transport(parse_device_url(f"serial://{tmp_path}/ttyUSB0"), timeout=5)
    with pytest.raises(DeviceUnreachable, match="/dev/null"):
        await open_transport(parse_device_url("serial:///dev/null"), timeout=5)


async def test_file_url_opens_a_device_node_as_is(pty, no_leaked_fds):
    master, path = pty
    transport = await open_transport(parse_device_url(f"file://{path}"), timeout=5)
    await transport.write(b"\x1b@receipt\n", timeout=5)
    assert await read_master(master, 10) == b"\x1b@receipt\n"
    os.write(master, b"\x12\x12")
    assert await transport.read(timeout=5) == b"\x12\x12"
    with pytest.raises(DeviceTimeout):
        await transport.read(timeout=0.05)
    await transport.close()
    await transport.close()


async def test_file_url_that_cannot_be_opened_is_unreachable(tmp_path):
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        await open_transport(parse_device_url(f"file://{tmp_path}/lp0"), timeout=5)
    with pytest.raises(DeviceUnreachable, match="cannot open"):
        await open_transport(parse_device_url(f"file://{tmp_path}"), timeout=5)


async def test_usb_url_finds_the_printer_by_ids_and_opens_its_node(tmp_path, pty):
    master, path = pty
    sysfs = tmp_path / "sys"
    fake_usblp(sysfs, 0, "0519", "0001", "usb/lp0")  # another vendor's printer
    fake_usblp(sysfs, 1, "04b8", "0e15", path.removeprefix("/dev/"))
    url = parse_device_url("usb://04B8:0E15")
    assert find_usb_printer(0x04B8, 0x0E15, sysfs=sysfs) == Path(path)
    assert find_usb_printer(0x0519, 0x0001, sysfs=sysfs) == Path("/dev/usb/lp0")

    transport = await open_transport(url, timeout=5, sysfs=sysfs)
    assert path in transport.name
    await transport.write(b"\x10\x04\x01", timeout=5)
    assert await read_master(master, 3) == b"\x10\x04\x01"
    os.write(master, b"\x16")
    assert await transport.read(timeout=5) == b"\x16"
    await transport.close()


async def test_usb_printer_without_devname_is_assumed_at_dev_usb(tmp_path):
    sysfs = tmp_path / "sys"
    fake_usblp(sysfs, 3, "04b8", "0202", "usb/lp3")
    (sysfs / "class/usbmisc/lp3/uevent").write_text("MAJOR=180\nMINOR=3\n")
    assert find_usb_printer(0x04B8, 0x0202, sysfs=sysfs) == Path("/dev/usb/lp3")


async def test_usb_url_with_no_such_printer_is_unreachable(tmp_path):
    sysfs = tmp_path / "sys"
    url = parse_device_url("usb://04b8:0e15")
    with pytest.raises(DeviceUnreachable, match="usblp"):
        await open_transport(url, timeout=5, sysfs=sysfs)  # no usbmisc class at all
    fake_usblp(sysfs, 0, "04b8", "0202", "usb/lp0")
    with pytest.raises(DeviceUnreachable, match="usb://04b8:0e15: no USB printer"):
        await open_transport(url, timeout=5, sysfs=sysfs)


async def test_usb_printer_found_but_node_missing_is_unreachable(tmp_path):
    sysfs = tmp_path / "sys"
    fake_usblp(sysfs, 0, "04b8", "0e15", "usb/no-such-lp9")
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        await open_transport(parse_device_url("usb://04b8:0e15"), timeout=5, sysfs=sysfs)


async def test_opening_and_closing_many_times_leaks_no_descriptor(pty, no_leaked_fds):
    _master, path = pty
    async with TcpPeer() as server:
        for url in (
            parse_device_url(f"serial://{path}"),
            parse_device_url(f"file://{path}"),
            server.url,
        ):
            for _ in range(20):
                transport = await open_transport(url, timeout=5)
                await transport.write(b"x", timeout=5)
                await transport.close()
        await asyncio.sleep(0)
