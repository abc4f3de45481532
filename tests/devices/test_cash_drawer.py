"""Serial cash drawer driver against the drawer emulator (a real pty)."""

import pytest

from drivers.cash_drawer import SerialDrawer
from drivers.device_url import parse_device_url
from drivers.emulators.serial_devices import SerialDrawerEmulator
from drivers.errors import DeviceUnreachable, DriverError


@pytest.fixture
async def emulator():
    async with SerialDrawerEmulator() as emulator:
        yield emulator


async def test_open_sends_bel_and_the_drawer_opens(emulator):
    drawer = SerialDrawer(parse_device_url(f"serial://{emulator.device_path}?baudrate=9600"))
    try:
        await drawer.open()
        assert await emulator.wait_for_opens(1, timeout=5) == 1
        await drawer.open()
        assert await emulator.wait_for_opens(2, timeout=5) == 2
        assert emulator.received == b"\x07\x07"
    finally:
        await drawer.close()
        await drawer.close()


async def test_a_drawer_with_its_own_open_bytes():
    async with SerialDrawerEmulator(b"\x1bp\x00") as emulator:
        drawer = SerialDrawer(
            parse_device_url(f"file://{emulator.device_path}"), open_bytes=b"\x1bp\x00"
        )
        try:
            await drawer.open()
            assert await emulator.wait_for_opens(1, timeout=5) == 1
        finally:
            await drawer.close()


async def test_a_drawer_that_goes_away_fails_with_a_driver_error(emulator):
    drawer = SerialDrawer(parse_device_url(f"serial://{emulator.device_path}"))
    try:
        await drawer.open()
        await emulator.wait_for_opens(1, timeout=5)
        await emulator.close()  # unplugged
        with pytest.raises(DriverError):
            await drawer.open()
    finally:
        await drawer.close()


async def test_a_drawer_replugged_under_its_udev_name_opens_on_the_next_try(tmp_path):
    # udev keeps /dev/serial/by-id/... pointing at whatever node the adapter gets; the link in
    # tmp_path plays that part, re-pointed from the first drawer's pty to the second's.
    link = tmp_path / "usb-drawer-if00"
    drawer = SerialDrawer(parse_device_url(f"serial://{link}"))
    try:
        async with SerialDrawerEmulator() as first:
            link.symlink_to(first.device_path)
            await drawer.open()
            await first.wait_for_opens(1, timeout=5)
        link.unlink()
        async with SerialDrawerEmulator() as second:
            link.symlink_to(second.device_path)
            await drawer.open()  # the old line is dead: reopened under the same name
            assert await second.wait_for_opens(1, timeout=5) == 1
    finally:
        await drawer.close()


async def test_a_missing_drawer_is_unreachable(tmp_path):
    drawer = SerialDrawer(parse_device_url(f"serial://{tmp_path}/ttyS9"))
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        await drawer.open()
    await drawer.close()


def test_a_drawer_needs_open_bytes():
    with pytest.raises(ValueError):
        SerialDrawer(parse_device_url("serial:///dev/ttyS0"), open_bytes=b"")
