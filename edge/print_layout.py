"""ESC/POS layout of kitchen tickets and receipts: a document in, printer bytes out.

Pure logic: no I/O and no clock (times come from the document, the store's zone is passed
in). python-escpos's `Dummy` printer builds the bytes, so printer profiles, code-page
switching (ESC t) and QR codes follow its rules; text is first folded to what the profile's
code pages can print, one printer column per character, so wrapping and alignment hold.
"""

from __future__ import annotations

import difflib
import functools
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from escpos.capabilities import CAPABILITIES, get_profile
from escpos.magicencode import Encoder, MagicEncode
from escpos.printer import Dummy

MIN_WIDTH = 24  # columns; the narrowest common paper (58 mm) has 32
_QR_SIZE = 6  # dots per module: about 2 cm square for an order id

_T = TypeVar("_T")


class LayoutError(ValueError):
    """A document cannot be laid out: unknown kind or printer profile, missing or bad field.

    `field`, when set, is the JSON pointer of the offending field in the document.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Marks:
    """Warnings printed big and inverted at the top of a document."""

    reprint: bool = False
    late_minutes: int | None = None
    backup_for: str | None = None  # the name of the printer this one is standing in for

    def texts(self) -> list[str]:
        """The marks' words, in print order."""
        texts = []
        if self.reprint:
            texts.append("*** REPRINT ***")
        if self.late_minutes is not None:
            texts.append(f"LATE: fired {self.late_minutes} min ago")
        if self.backup_for:
            texts.append(f"FOR {self.backup_for} (unavailable)")
        return texts


NO_MARKS = Marks()


def render(
    document: dict[str, Any],
    *,
    profile: str = "TM-T88V",
    marks: Marks = NO_MARKS,
    zone: tzinfo,
    width: int = 48,
) -> bytes:
    """The ESC/POS bytes that print `document` (kind "ticket" or "receipt") and cut the paper.

    `width` is the paper's width in normal-size characters (48 on 80 mm, 32 on 58 mm).
    Raises LayoutError for an unknown kind or profile, or a missing or malformed field.
    """
    if profile not in CAPABILITIES["profiles"]:
        raise LayoutError(_unknown_profile(profile))
    if width < MIN_WIDTH:
        raise LayoutError(f"paper width {width} is too narrow: give at least {MIN_WIDTH} columns")
    if not isinstance(document, dict):
        raise LayoutError(f"a print document must be a JSON object, got {type(document).__name__}")
    kind = document.get("kind")
    if kind not in ("ticket", "receipt"):
        problem = "is missing" if kind is None else f"is {kind!r}, an unknown kind"
        raise LayoutError(
            f"print document: /kind {problem}: expected 'ticket' or 'receipt'", field="/kind"
        )
    paper = Paper(profile, width)
    for text in marks.texts():
        paper.headline(text, invert=True)
    if kind == "ticket":
        _lay_out_ticket(paper, Fields(document, "", kind), zone)
    else:
        from .receipt_layout import lay_out_receipt  # imported here: it imports this module

        lay_out_receipt(paper, Fields(document, "", kind), zone)
    return paper.finish()


def _unknown_profile(name: str) -> str:
    known = sorted(CAPABILITIES["profiles"])
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    usual = [p for p in ("TM-T88V", "TM-T20II", "TM-T88IV", "TSP600", "default") if p in known]
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return (
        f"unknown printer profile {name!r}: {hint}known profiles include "
        f"{', '.join(usual)} ({len(known)} in escpos.capabilities)"
    )


# --- Kitchen tickets ------------------------------------------------------------------------


def _lay_out_ticket(paper: Paper, doc: Fields, zone: tzinfo) -> None:
    kind = doc.text("ticket")
    if kind not in ("fire", "void"):
        raise doc.error("ticket", f"must be 'fire' or 'void', got {kind!r}")
    void = kind == "void"
    order_id = doc.order_id()
    number = doc.text("number")
    channel = label(doc.text("channel"))
    table = doc.optional_text("table")
    guests = doc.optional_count("guests")
    station = doc.optional_text("station_name") or doc.text("station")
    fired_at = doc.when("fired_at").astimezone(zone)
    fired_by = doc.optional_text("fired_by")
    lines = doc.objects("lines")
    if not lines:
        raise doc.error("lines", "is empty: a ticket needs at least one line")
    reason = doc.optional_text("reason") if void else None

    if void:
        paper.headline("VOID", invert=True)
        if reason:
            paper.line(f"Reason: {reason}", align="center", bold=True)
    paper.line(station, align="center", bold=True, size="tall")
    paper.line(number, align="center", bold=True, size="big")
    where = [channel]
    if table:
        where.append(f"Table {table}")
    if guests:
        where.append(f"{guests} guest" + ("s" if guests != 1 else ""))
    paper.line(" - ".join(where), align="center", bold=True)
    when = f"{'Voided' if void else 'Fired'} {fired_at:%H:%M}"
    if fired_by:
        when += f" by {person_name(fired_by)}"
    paper.line(when, align="center")
    paper.rule()
    for line in lines:
        qty = line.count("qty")
        head = f"{'VOID ' if void else ''}{qty} x "
        paper.line(head + line.text("name"), bold=True, size="tall", rest=" " * len(head))
        for modifier in line.texts("modifiers"):
            paper.line(modifier, first="  + ", rest="    ")
        note = line.optional_text("note")
        if note:
            paper.line(note, first="  ! ", rest="    ")
    paper.rule()
    paper.line(f"Order {order_id}", align="center")


def label(code: str) -> str:
    """A code as people read it: `"dine_in"` → `"Dine in"`, `"gift_card"` → `"Gift card"`."""
    return code.replace("_", " ").capitalize()


def person_name(actor: str) -> str:
    """`"Counter 1 (t-3fa2c1d0)"` → `"Counter 1"`: the name without its id."""
    name, sep, rest = actor.rpartition(" (")
    return name if sep and name and rest.endswith(")") else actor


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


# --- Reading the document --------------------------------------------------------------------


class Fields:
    """Typed reads from one object of a document; a bad field raises LayoutError naming it."""

    def __init__(self, data: Any, pointer: str, kind: str) -> None:
        if not isinstance(data, dict):
            where = pointer or "the document"
            raise LayoutError(f"{kind} document: {where} must be an object", field=pointer or "/")
        self._data, self._pointer, self._kind = data, pointer, kind

    def error(self, key: str, problem: str) -> LayoutError:
        """The error for field `key`, which `problem` describes ("is missing")."""
        pointer = f"{self._pointer}/{key}"
        return LayoutError(f"{self._kind} document: {pointer} {problem}", field=pointer)

    def text(self, key: str) -> str:
        """A required text field (a number is taken as its digits)."""
        return self._required(key, self.optional_text(key))

    def optional_text(self, key: str) -> str | None:
        """A text field that may be absent or null."""
        value = self._data.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise self.error(key, f"must be text, got {_type(value)}")

    def count(self, key: str) -> int:
        """A required integer field (a quantity, or an amount in minor units)."""
        return self._required(key, self.optional_count(key))

    def optional_count(self, key: str, default: int | None = None) -> int | None:
        """An integer field that may be absent or null (then `default`)."""
        value = self._data.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.error(key, f"must be an integer, got {_type(value)}")

    def flag(self, key: str) -> bool:
        """A boolean field; absent or null is false."""
        value = self._data.get(key)
        if value is None or isinstance(value, bool):
            return bool(value)
        raise self.error(key, f"must be true or false, got {_type(value)}")

    def when(self, key: str) -> datetime:
        """A required timestamp: ISO 8601 with a UTC offset (or Z)."""
        text = self.text(key)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.error(key, f"is not an ISO 8601 timestamp: {text!r}") from None
        if moment.tzinfo is None:
            raise self.error(key, f"has no UTC offset: {text!r}")
        return moment

    def order_id(self) -> str:
        """The order id: printable ASCII, short enough for a QR code a scanner reads."""
        value = self.text("order_id")
        if not (0 < len(value) <= 64 and value.isascii() and value.isprintable()):
            raise self.error("order_id", f"is not an order id: {value[:80]!r}")
        return value

    def child(self, key: str) -> Fields:
        """A required nested object."""
        return Fields(
            self._required(key, self._data.get(key)), f"{self._pointer}/{key}", self._kind
        )

    def objects(self, key: str, *, required: bool = True) -> list[Fields]:
        """A list of objects (absent is an error when `required`, else empty)."""
        return [
            Fields(item, f"{self._pointer}/{key}/{i}", self._kind)
            for i, item in enumerate(self._list(key, required))
        ]

    def texts(self, key: str) -> list[str]:
        """An optional list of text."""
        items = self._list(key, False)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.error(f"{key}/{i}", f"must be text, got {_type(item)}")
        return items

    def _list(self, key: str, required: bool) -> list[Any]:
        value = self._data.get(key)
        if value is None:
            return self._required(key, None) if required else []
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {_type(value)}")
        return value

    def _required(self, key: str, value: _T | None) -> _T:
        if value is None:
            raise self.error(key, "is missing")
        return value


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__
