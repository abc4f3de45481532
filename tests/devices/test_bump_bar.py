"""Bump bar: the keymap, decoding bytes into keys, and reading keys off a real pty."""

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.bump_bar import ACTIONS, DEFAULT_KEYMAP, BumpBarReader, BumpKey, decode_keys
from drivers.device_url import parse_device_url
from drivers.emulators.serial_devices import BumpBarEmulator
from drivers.errors import DeviceUnreachable, DriverError


def test_default_keymap_selects_one_to_nine_and_names_the_other_keys():
    assert decode_keys(b"123456789") == [BumpKey("select", n) for n in range(1, 10)]
    assert decode_keys(b"BRNPH") == [
        BumpKey("bump"),
        BumpKey("recall"),
        BumpKey("next_page"),
        BumpKey("previous_page"),
        BumpKey("home"),
    ]


def test_every_default_key_is_one_printable_ascii_byte_with_a_known_action():
    for byte, key in DEFAULT_KEYMAP.items():
        assert 0x21 <= byte <= 0x7E
        assert key.action in ACTIONS
    assert {key.action for key in DEFAULT_KEYMAP.values()} == set(ACTIONS)


def test_unknown_bytes_are_skipped_and_order_is_kept():
    assert decode_keys(b"\r\n0b3\x00B\xffZ1") == [
        BumpKey("select", 3),
        BumpKey("bump"),
        BumpKey("select", 1),
    ]
    assert decode_keys(b"") == []


def test_a_custom_keymap_replaces_the_default():
    keymap = {0x81: BumpKey("bump"), ord("1"): BumpKey("home")}
    assert decode_keys(b"\x81B1", keymap) == [BumpKey("bump"), BumpKey("home")]


@given(st.binary(max_size=200))
def test_decoding_is_byte_by_byte(data):
    keys = decode_keys(data)
    assert keys == [k for b in data for k in decode_keys(bytes([b]))]
    assert len(keys) == sum(1 for b in data if b in DEFAULT_KEYMAP)


@pytest.mark.parametrize(
    ("action", "index"),
    [("select", None), ("bump", 1), ("select", 0), ("jump", None), ("Bump", None)],
)
def test_a_bump_key_must_make_sense(action, index):
    with pytest.raises(ValueError):
        BumpKey(action, index)


@pytest.fixture
async def bump_bar():
    async with BumpBarEmulator() as bump_bar:
        yield bump_bar


def url_of(bump_bar):
    return parse_device_url(f"serial://{bump_bar.device_path}?baudrate=9600")


async def until_open(reader):
    # Bytes sent before the port is opened are flushed by the open, as on a real port.
    for _ in range(500):
        if reader.is_open:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the reader never opened its line")


async def next_keys(keys, count):
    return [await anext(keys) for _ in range(count)]


async def test_reader_yields_keys_pressed_on_the_bump_bar(bump_bar):
    reader = BumpBarReader(url_of(bump_bar))
    keys = reader.keys()
    first = asyncio.ensure_future(anext(keys))
    await until_open(reader)
    await bump_bar.press("2")
    assert await asyncio.wait_for(first, 5) == BumpKey("select", 2)
    await bump_bar.press(b"\rB\nxR")
    assert await asyncio.wait_for(next_keys(keys, 2), 5) == [BumpKey("bump"), BumpKey("recall")]
    assert reader.ignored == 3
    await keys.aclose()
    assert not reader.is_open
    await reader.close()


async def test_reader_uses_the_keymap_it_is_given(bump_bar):
    keymap = {0x81: BumpKey("bump"), ord("1"): BumpKey("home")}
    reader = BumpBarReader(url_of(bump_bar), keymap=keymap)
    keys = reader.keys()
    first = asyncio.ensure_future(anext(keys))
    await until_open(reader)
    await bump_bar.press(b"B\x811")
    assert await asyncio.wait_for(first, 5) == BumpKey("bump")
    assert await asyncio.wait_for(anext(keys), 5) == BumpKey("home")
    assert reader.ignored == 1
    await keys.aclose()


async def test_reader_fails_with_a_driver_error_when_the_bump_bar_goes_away(bump_bar):
    reader = BumpBarReader(url_of(bump_bar))
    keys = reader.keys()
    first = asyncio.ensure_future(anext(keys))
    await until_open(reader)
    await bump_bar.press("H")
    assert await asyncio.wait_for(first, 5) == BumpKey("home")
    await bump_bar.close()  # unplugged: the line hangs up
    with pytest.raises(DriverError):
        await asyncio.wait_for(anext(keys), 5)
    assert not reader.is_open
    await reader.close()


async def test_reader_of_a_missing_port_fails_as_unreachable(tmp_path):
    reader = BumpBarReader(parse_device_url(f"serial://{tmp_path}/ttyUSB9"))
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        await anext(reader.keys())


async def test_closing_the_reader_ends_the_iteration_quietly(bump_bar):
    reader = BumpBarReader(url_of(bump_bar))
    pressed = []

    async def collect():
        async for key in reader.keys():
            pressed.append(key)

    task = asyncio.ensure_future(collect())
    await until_open(reader)
    await bump_bar.press("N")
    for _ in range(500):
        if pressed:
            break
        await asyncio.sleep(0.01)
    await reader.close()
    await asyncio.wait_for(task, 5)
    assert pressed == [BumpKey("next_page")]
    await reader.close()


async def test_a_quiet_bump_bar_is_waited_on_without_end(bump_bar):
    # Idle reads time out and are retried: minutes without a key are normal in a kitchen.
    reader = BumpBarReader(url_of(bump_bar), idle_poll=0.05)
    keys = reader.keys()
    first = asyncio.ensure_future(anext(keys))
    await until_open(reader)
    await asyncio.sleep(0.3)  # several idle polls pass
    assert not first.done()
    await bump_bar.press("P")
    assert await asyncio.wait_for(first, 5) == BumpKey("previous_page")
    await keys.aclose()
