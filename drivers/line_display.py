"""Customer line display (Epson DM-D compatible, 2 lines of 20 columns).

`frame` is pure (text to display bytes); `LineDisplay` sends frames over any transport.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from drivers.device_line import DeviceLine
from drivers.device_url import DeviceUrl

WIDTH = 20
CLEAR = b"\x0c"  # clear screen, cursor home
# ESC @ (initialise), US 01 (overwrite mode), ESC t 0 (code page 437)
SETUP = b"\x1b\x40\x1f\x01\x1b\x74\x00"

# Letters and marks that cp437 lacks and that NFKD does not reduce to plain ASCII.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "œ": "oe",
        "Œ": "OE",
        "‘": "'",
        "’": "'",
        "‚": ",",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "−": "-",
        "\u00a0": " ",
    }
)


def fold_cp437(text: str) -> str:
    """`text` with every character cp437 can show; others unaccented, or '?'."""
    out = []
    for char in unicodedata.normalize("NFC", text).translate(_FOLD):
        if char.isspace():
            out.append(" ")  # tabs and newlines would move the display's cursor
        elif unicodedata.category(char) == "Cc":
            out.append("?")  # control bytes are display commands
        elif _in_cp437(char):
            out.append(char)
        else:
            bare = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            if all(_in_cp437(c) and not c.isspace() for c in bare):
                out.append(bare)  # empty for a stray combining mark: the accent goes
            else:
                out.append("?")
    return "".join(out)


def _in_cp437(char: str) -> bool:
    try:
        char.encode("cp437")
    except UnicodeEncodeError:
        return False
    return True


def fit(text: str, width: int = WIDTH) -> bytes:
    """One display line: folded to cp437, cut or padded with spaces to `width`."""
    return fold_cp437(text)[:width].ljust(width).encode("cp437")


def frame(line1: str, line2: str, width: int = WIDTH) -> bytes:
    """The bytes that show `line1` over `line2`: clear, line 1, cursor to line 2, line 2."""
    if width < 1:
        raise ValueError(f"display width must be at least 1, not {width}")
    return CLEAR + fit(line1, width) + b"\x1f\x24\x01\x02" + fit(line2, width)


class LineDisplay:
    """A customer display on a serial line (or any device URL); opened on first use.

    `show` may be called from one task at a time or many: calls are serialised. After a
    failure the line is closed and reopened by the next `show`.
    """

    def __init__(
        self, url: DeviceUrl, *, timeout: float = 2.0, width: int = WIDTH, sysfs=Path("/sys")
    ) -> None:
        self.url = url
        self.width = width
        # A display may have been power-cycled: each new line sets it up again.
        self._line = DeviceLine(url, timeout=timeout, greeting=SETUP, sysfs=sysfs)

    async def show(self, line1: str, line2: str = "") -> None:
        """Show two lines; raises a DriverError if the display cannot be reached."""
        await self._line.send(frame(line1, line2, self.width))

    async def close(self) -> None:
        """Close the line; safe twice."""
        await self._line.close()
