"""The paper a document is printed on: styled lines, wrapped to the paper's width, onto a
python-escpos `Dummy` printer, with text folded to what the profile's code pages hold. Pure.
"""

from __future__ import annotations

import functools
import textwrap
import unicodedata
from typing import Any

from escpos.capabilities import get_profile
from escpos.magicencode import Encoder, MagicEncode
from escpos.printer import Dummy
from PIL import Image

_QR_SIZE = 6  # dots per module: about 2 cm square for an order id


# --- The paper: styled, wrapped lines onto a python-escpos Dummy -----------------------------

_SIZES = {
    "normal": {"normal_textsize": True},
    "tall": {"double_height": True},
    "big": {"double_width": True, "double_height": True},
}


class Paper:
    """One document being printed: lines of text in a style, wrapped to the paper's width."""

    def __init__(self, profile: str, width: int) -> None:
        charset = _charset(profile)
        self.width = width
        self._fold = charset.fold
        self._printer = Dummy(profile=profile)
        self._printer.magic = _MagicEncode(self._printer, encoder=charset.encoder())
        self._supports_qr = bool(self._printer.profile.supports("qrCode"))
        # ESC @ first: a job cut short before this one may have left any mode on.
        self._printer.hw("INIT")
        self._style = ("left", False, "normal", False)  # what ESC @ leaves

    def columns(self, size: str) -> int:
        """Characters per line at `size`."""
        return self.width // 2 if size == "big" else self.width

    def line(
        self,
        text: str = "",
        *,
        align: str = "left",
        bold: bool = False,
        size: str = "normal",
        invert: bool = False,
        first: str = "",
        rest: str = "",
    ) -> None:
        """Print `text`, wrapped: `first` before its first line, `rest` before the others."""
        if not text and not first:
            self._printer.text("\n")
            return
        self._set(align, bold, size, invert)
        pieces = wrap(self._fold(text), self.columns(size), first, rest) or [first.rstrip()]
        self._printer.text("".join(piece + "\n" for piece in pieces))

    def row(
        self, left: str, right: str, *, bold: bool = False, size: str = "normal", rest: str = "  "
    ) -> None:
        """`left` wrapped on the left, `right` flush with the right edge of its first line."""
        self._set("left", bold, size, False)
        columns = self.columns(size)
        left, right = self._fold(left), self._fold(right)
        room = columns - len(right) - 1
        if not right:
            pieces = wrap(left, columns, "", rest) or [""]
        elif room >= columns // 2:
            pieces = wrap(left, room, "", rest) or [""]
            pieces[0] = pieces[0].ljust(columns - len(right)) + right
        else:  # no room beside it: `right` gets a line of its own
            pieces = [*wrap(left, columns, "", rest), right.rjust(columns)]
        self._printer.text("".join(piece + "\n" for piece in pieces))

    def headline(self, text: str, *, invert: bool = False) -> None:
        """`text` bold and centred, double size if it fits on a line, else double height.

        Inverted (the marks, VOID) it is a white-on-black box no cook can miss.
        """
        text = self._fold(text).strip()
        pad = " " if invert else ""  # a margin of black either side of the words
        size = "big" if len(text) + 2 * len(pad) <= self.columns("big") else "tall"
        self._set("center", True, size, invert)
        pieces = wrap(text, self.columns(size) - 2 * len(pad))
        self._printer.text("".join(f"{pad}{piece}{pad}\n" for piece in pieces))

    def rule(self, char: str = "-") -> None:
        """A line across the paper."""
        self.line(char * self.width)

    def image(self, image: Image.Image) -> None:
        """A picture (the store's logo), centred, as raster graphics."""
        self._set("center", False, "normal", False)
        self._printer.image(image, center=True)

    def qr(self, data: str) -> None:
        """A QR code of `data`, centred; native where the profile can, else as an image."""
        self._set("center", False, "normal", False)
        if self._supports_qr:
            self._printer.qr(data, native=True, size=_QR_SIZE)
        else:
            self._printer.qr(data, native=False, size=_QR_SIZE)

    def finish(self) -> bytes:
        """Feed the text past the cutter, cut, and return every byte of the document."""
        self._set("left", False, "normal", False)
        self._printer.cut()
        return self._printer.output

    def _set(self, align: str, bold: bool, size: str, invert: bool) -> None:
        """Send what differs from the current style."""
        was_align, was_bold, was_size, was_invert = self._style
        changes: dict[str, Any] = {}
        if size != was_size:
            # ESC ! sets the size and clears bold with it: bold is sent again after it.
            changes.update(_SIZES[size], bold=bold)
        elif bold != was_bold:
            changes["bold"] = bold
        if align != was_align:
            changes["align"] = align
        if invert != was_invert:
            changes["invert"] = invert
        if changes:
            self._printer.set(**changes)
            self._style = (align, bold, size, invert)


def wrap(text: str, columns: int, first: str = "", rest: str = "") -> list[str]:
    """`text` in lines of at most `columns` characters, long words broken."""
    if len(first) + len(text) <= columns:
        return [first + text] if text else []
    return textwrap.wrap(
        text, columns, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )


# --- Characters: what a profile's code pages can print ---------------------------------------


class _CachedEncoder(Encoder):
    """python-escpos's code-page chooser with the character tables built once per process.

    The stock Encoder builds each table afresh for every printer object, which costs
    milliseconds per document as soon as one character is missing from the first code page.
    """

    def _get_codepage_char_map(self, encoding: str) -> dict[str, int]:
        table = _char_table(encoding)
        if table is None:
            raise LookupError(encoding)
        return table

    def encode(self, text: str, encoding: str, defaultchar: str = "?") -> bytes:
        if text.isascii():  # the common case, without a Python call per character
            return text.encode("ascii")
        return super().encode(text, encoding, defaultchar)

    def can_encode(self, encoding: str, char: str) -> bool:
        table = _char_table(encoding)
        return table is not None and (char < "\x80" or char in table)


class _MagicEncode(MagicEncode):
    """python-escpos's code-page switcher, with plain ASCII written straight through."""

    def write(self, text: str) -> None:
        if self.encoding and text.isascii():  # every code page has ASCII
            self.write_with_encoding(self.encoding, text)
        else:
            super().write(text)


@functools.cache
def _char_table(encoding: str) -> dict[str, int] | None:
    """Character → byte of code page `encoding` (bytes 128-255), as python-escpos builds it."""
    try:
        chars = Encoder._get_codepage_char_list(encoding)
    except LookupError:  # a code page python-escpos has no table for ("Unknown")
        return None
    return {char: 128 + i for i, char in enumerate(chars)}


class _Charset:
    """The characters one printer profile can print, and the folding of the others."""

    def __init__(self, profile: str) -> None:
        self.code_pages = get_profile(profile).get_code_pages()
        printable: set[str] = set()
        for encoding in self.code_pages:
            table = _char_table(encoding) or {}
            # Not controls, nor combining marks: a printer gives each byte a column of its own.
            printable.update(c for c in table if unicodedata.category(c)[0] not in "CM")
        self.printable = frozenset(printable)

    def encoder(self) -> Encoder:
        """A fresh encoder: its code-page preference must not carry over between documents."""
        return _CachedEncoder(self.code_pages)

    def fold(self, text: str) -> str:
        """`text` as the printer can print it, one column per character.

        Letters the code pages lack lose their accents ("ȟ" → "h"), compatibility forms are
        unfolded ("ﬁ" → "fi"), whitespace becomes a space, controls and stray combining marks
        go, and whatever is left (emoji, CJK) becomes "?".
        """
        if text.isascii() and text.isprintable():
            return text
        out = []
        for char in unicodedata.normalize("NFC", text):
            if " " <= char <= "~" or char in self.printable:
                out.append(char)
            elif char.isspace():
                out.append(" ")
            elif unicodedata.category(char) in ("Cc", "Cf", "Mn", "Mc", "Me"):
                continue  # controls, zero-width joiners, variation selectors, lone accents
            else:
                decomposed = unicodedata.normalize("NFKD", char)
                kept = "".join(c for c in decomposed if " " <= c <= "~" or c in self.printable)
                out.append(kept or "?")
        return "".join(out)


@functools.cache
def _charset(profile: str) -> _Charset:
    return _Charset(profile)
