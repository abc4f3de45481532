"""One conformance suite for every transport: each case runs over tcp://, serial://, file://
and usb://, each against a real far end (tests/support/device_ends.py): a TCP server on
127.0.0.1, a pty pair, and for usb:// a made-up sysfs tree that points at a pty.

What every transport promises (drivers/transport.py): bytes pass as they are both ways;
timeouts are seconds and leave the transport usable; a device that goes away, mid-write or
while a read waits, is ConnectionLost, and so is every call after it and after `close`;
`close` is safe twice and wakes a pending read; a device that is not there is
DeviceUnreachable, naming its URL; opening and closing leaks no descriptor. Every error is a
DriverError, never an OSError.
"""

import asyncio
import time

import pytest

from drivers.errors import ConnectionLost, DeviceTimeout, DeviceUnreachable, DriverError
from tests.support.device_ends import SCHEMES, WAIT, device_end, open_fds
from tests.support.waiting import until

ALL_BYTES = bytes(range(256))
CHUNK = 1 << 20  # 1 MiB: 64 of them are far beyond every socket and tty buffer


@pytest.fixture(params=SCHEMES)
async def end(request, tmp_path):
    """The far end of each kind of transport in turn."""
    async with device_end(request.param, tmp_path) as device:
        yield device


@pytest.fixture
async def transport(end):
    """A transport open to the device at `end`, closed (once more) on the way out."""
    transport = await end.open()
    yield transport
    await transport.close()


async def test_a_transport_passes_every_byte_value_both_ways(end, transport):
    assert transport.name.startswith(end.url.text)
    await transport.write(ALL_BYTES, timeout=5)
    assert await end.receive(256) == ALL_BYTES
    await end.send(ALL_BYTES)
    received = b""
    for _ in range(256):
        received += await transport.read(512, timeout=5)
        if len(received) == 256:
            break
    assert received == ALL_BYTES


async def test_a_read_times_out_and_the_transport_stays_usable(end, transport):
    with pytest.raises(DeviceTimeout, match=r"did not answer within 0\.1 s"):
        await transport.read(timeout=0.1)
    await end.send(b"\x12")
    assert await transport.read(timeout=5) == b"\x12"


async def test_timeouts_are_seconds(end, transport):
    async with asyncio.timeout(WAIT):  # a bound: a timeout taken for minutes fails here
        start = time.monotonic()
        with pytest.raises(DeviceTimeout):
            await transport.read(timeout=0.3)
        assert time.monotonic() - start >= 0.29  # not 0.3 ms
        with pytest.raises(DeviceTimeout, match=r"did not take data within 0\.3 s"):
            for _ in range(64):  # the device takes nothing: one of these fills every buffer
                start = time.monotonic()
                await transport.write(b"\0" * CHUNK, timeout=0.3)
        assert time.monotonic() - start >= 0.29


async def test_a_device_that_goes_away_mid_write_is_connection_lost(end, transport):
    pending = asyncio.ensure_future(transport.write(b"\0" * 64 * CHUNK, timeout=WAIT))
    await asyncio.sleep(0.1)
    assert not pending.done(), "the device took 64 MiB: the write was not left waiting"
    await end.go_away()
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConnectionLost):
            await pending
    with pytest.raises(ConnectionLost):
        await transport.write(b"x", timeout=1)
    with pytest.raises(ConnectionLost):
        await transport.read(timeout=1)


async def test_a_device_that_hangs_up_during_a_read_is_connection_lost(end, transport):
    pending = asyncio.ensure_future(transport.read(timeout=5))
    await asyncio.sleep(0.05)
    await end.go_away()
    with pytest.raises(ConnectionLost):
        await pending
    await transport.close()


async def test_closing_wakes_a_pending_read_with_connection_lost(transport):
    pending = asyncio.ensure_future(transport.read(timeout=5))
    await asyncio.sleep(0.05)
    await transport.close()
    with pytest.raises(ConnectionLost, match="closed"):
        await pending
    with pytest.raises(ConnectionLost):
        await transport.read(timeout=1)


async def test_close_is_safe_twice_and_every_call_after_it_is_connection_lost(transport):
    await transport.close()
    await transport.close()
    with pytest.raises(ConnectionLost):
        await transport.write(b"x", timeout=1)
    with pytest.raises(ConnectionLost):
        await transport.read(timeout=1)


async def test_a_device_that_is_not_there_is_unreachable_and_named(end):
    with pytest.raises(DeviceUnreachable) as raised:
        await end.open_absent()
    assert isinstance(raised.value, DriverError)
    assert str(raised.value).startswith(f"{end.absent_url.text}: ")


async def test_opening_and_closing_many_times_leaks_no_descriptor(end):
    transport = await end.open()
    await transport.write(b"x", timeout=5)
    assert await end.receive(1) == b"x"  # the device holds its end of the connection
    await transport.close()
    before = open_fds()
    for _ in range(20):
        transport = await end.open()
        await transport.write(b"x", timeout=5)
        await transport.close()
    await until(lambda: open_fds() == before, within=WAIT)
