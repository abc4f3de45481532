"""Customer line display: framing text for a 2×20 DM-D display, and showing it over a pty."""

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.device_url import parse_device_url
from drivers.emulators.serial_devices import LineDisplayEmulator
from drivers.errors import DeviceUnreachable, DriverError
from drivers.line_display import CLEAR, WIDTH, LineDisplay, fit, fold_cp437, frame

MOVE_TO_LINE_2 = b"\x1f\x24\x01\x02"


def test_frame_is_clear_line_one_cursor_to_line_two_line_two():
    assert frame("TOTAL", "12.50") == (
        CLEAR + b"TOTAL" + b" " * 15 + MOVE_TO_LINE_2 + b"12.50" + b" " * 15
    )


def test_lines_are_cut_and_padded_to_the_width():
    data = frame("x" * 25, "", width=20)
    assert data == CLEAR + b"x" * 20 + MOVE_TO_LINE_2 + b" " * 20
    assert frame("ab", "cd", width=4) == CLEAR + b"ab  " + MOVE_TO_LINE_2 + b"cd  "


def test_accents_cp437_has_are_kept_in_cp437():
    assert fit("Crème brûlée") == "Crème brûlée".ljust(WIDTH).encode("cp437")
    assert fit("Ñandú Äpfel ç") == "Ñandú Äpfel ç".ljust(WIDTH).encode("cp437")
    assert fit("Crème")[2] == 0x8A  # è in code page 437


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Łódź", "Lódz"),  # Ł and ź are not in cp437, ó is
        ("Smørrebrød", "Smorrebrod"),
        ("Œuf", "OEuf"),
        ("Max\u0308", "Max"),  # an accent with no precomposed letter is dropped
        ("Cre\u0300me", "Crème"),  # decomposed è is composed, then kept
        ("“Café” – 2", '"Café" - 2'),
        ("Ăő ŵ", "Ao w"),
        ("€5", "?5"),
        ("寿司", "??"),
        ("a\tb\nc", "a b c"),
        ("a\x1b@b\x0cc", "a?@b c"),  # ESC would be a display command; form feed is space
        ("a\x7fb\x00", "a?b?"),
        ("ﬁsh", "fish"),
    ],
)
def test_other_characters_lose_their_accent_or_become_a_question_mark(text, shown):
    assert fold_cp437(text) == shown


@given(st.text(max_size=40), st.text(max_size=40), st.integers(1, 40))
def test_any_text_frames_to_exactly_two_lines_of_width_without_commands(line1, line2, width):
    data = frame(line1, line2, width)
    assert data.startswith(CLEAR)
    body = data[len(CLEAR) :]
    first, second = body[:width], body[width + len(MOVE_TO_LINE_2) :]
    assert body[width : width + len(MOVE_TO_LINE_2)] == MOVE_TO_LINE_2
    assert len(first) == len(second) == width
    # no control byte inside the text: it could only be a display command
    assert all(byte >= 0x20 and byte != 0x7F for byte in first + second)


def test_a_width_below_one_is_refused():
    with pytest.raises(ValueError):
        frame("a", "b", width=0)


# -- the driver against the line display emulator (a real pty) ---------------------------------


@pytest.fixture
async def screen():
    async with LineDisplayEmulator() as screen:
        yield screen


@pytest.fixture
async def display(screen):
    display = LineDisplay(parse_device_url(f"serial://{screen.device_path}?baudrate=9600"))
    yield display
    await display.close()


async def test_show_puts_two_lines_on_the_screen(screen, display):
    await display.show("1 Burger", "TOTAL  12.50")
    await screen.wait_for_text("12.50", timeout=5)
    assert screen.lines == ("1 Burger".ljust(20), "TOTAL  12.50".ljust(20))
    assert screen.unknown == 0  # every byte sent is a command the display knows


async def test_each_show_replaces_the_whole_screen(screen, display):
    await display.show("A very long first line that goes on", "second")
    await screen.wait_for_text("second", timeout=5)
    assert screen.lines == ("A very long first li", "second".ljust(20))  # cut at 20
    await display.show("short", "")
    await screen.wait_for_text("short", timeout=5)
    assert screen.lines == ("short".ljust(20), " " * 20)


async def test_accented_text_shows_in_code_page_437(screen, display):
    await display.show("Crème brûlée", "Łódź €5")
    await screen.wait_for_text("brûlée", timeout=5)
    assert screen.lines == ("Crème brûlée".ljust(20), "Lódz ?5".ljust(20))


async def test_concurrent_shows_do_not_mix(screen, display):
    await asyncio.gather(*(display.show(f"line {n}", f"total {n}") for n in range(10)))
    await screen.wait_for_text("total 9", timeout=5)
    assert screen.lines == ("line 9".ljust(20), "total 9".ljust(20))


async def test_a_display_behind_a_device_file_works_too(screen):
    display = LineDisplay(parse_device_url(f"file://{screen.device_path}"))
    try:
        await display.show("file", "url")
        await screen.wait_for_text("url", timeout=5)
    finally:
        await display.close()
        await display.close()


async def test_a_display_that_goes_away_fails_with_a_driver_error(screen, display):
    await display.show("hello", "")
    await screen.wait_for_text("hello", timeout=5)
    await screen.close()  # unplugged: the pty is gone
    with pytest.raises(DriverError):
        await display.show("anyone", "there?")
    with pytest.raises(DeviceUnreachable):
        await display.show("still", "gone")


async def test_a_display_replugged_under_its_udev_name_is_set_up_again(tmp_path):
    # The link in tmp_path plays udev's /dev/serial/by-id/... name (see test_cash_drawer.py).
    link = tmp_path / "usb-display-if00"
    display = LineDisplay(parse_device_url(f"serial://{link}"))
    try:
        async with LineDisplayEmulator() as first:
            link.symlink_to(first.device_path)
            await display.show("before", "")
            await first.wait_for_text("before", timeout=5)
        link.unlink()
        async with LineDisplayEmulator() as second:
            link.symlink_to(second.device_path)
            await display.show("after", "replug")
            await second.wait_for_text("replug", timeout=5)
            assert second.lines == ("after".ljust(20), "replug".ljust(20))
            assert second.unknown == 0
    finally:
        await display.close()


async def test_a_missing_display_is_unreachable(tmp_path):
    display = LineDisplay(parse_device_url(f"serial://{tmp_path}/ttyUSB3"))
    with pytest.raises(DeviceUnreachable, match="does not exist"):
        await display.show("a", "b")
    await display.close()
