"""An ESC/POS decoder: what a receipt printer would put on paper for the bytes it receives (pure).

The command table (where each command ends) is in `escpos_commands`; this module is the state
machine: text style, alignment, code page, the line being assembled, and the pieces of paper.
"""

from __future__ import annotations

from dataclasses import replace

from drivers.escpos.commands import (
    BARCODES_A,
    BARCODES_B,
    CODE_PAGES,
    CONTROL,
    IGNORED,
    IGNORED_PREFIXES,
    SYMBOLS_2D,
    columns_to_rows,
    parse_command,
)
from drivers.escpos.printout import (
    Barcode,
    Control,
    Cut,
    DrawerPulse,
    Event,
    Feed,
    Item,
    Paper,
    PrintedLine,
    QrCode,
    RasterImage,
    Span,
    Style,
    Unknown,
)

__all__ = [
    "Barcode",
    "Control",
    "Cut",
    "DrawerPulse",
    "EscPosDecoder",
    "Event",
    "Feed",
    "Item",
    "Paper",
    "PrintedLine",
    "QrCode",
    "RasterImage",
    "Span",
    "Style",
    "Unknown",
]

PAPER_DOTS = 576  # 80 mm paper at 203 dpi
FONT_DOTS = {"a": 12, "b": 9}  # character width in dots
ALIGNS = ("left", "center", "right")


class EscPosDecoder:
    """Incremental decoder: `feed` bytes, get events; finished pieces are in `papers`.

    `execute` runs one complete command (as measured by `parse_command`), which lets a caller
    pace the processing (a printer that pauses at paper out) without re-parsing.
    """

    def __init__(self) -> None:
        self.papers: list[Paper] = []
        self.current = Paper()
        self.pulses: list[DrawerPulse] = []
        self._pending = bytearray()
        self._events: list[Event] = []
        self.initialise()

    def initialise(self) -> None:
        """ESC @: default settings; the line being assembled is lost."""
        self.style = Style()
        self.align = "left"
        self.code_page = 0
        self._tabs = list(range(8, 256, 8))
        self._barcode = {"height": 162, "module_width": 3, "hri": 0}
        self._qr = {"module_size": 3, "error_level": "L"}
        self._symbols: dict[int, bytes] = {}
        self._graphics: RasterImage | None = None
        self._reset_line()

    def clear_print_buffer(self) -> None:
        """Forget the line being assembled and any partial command (DLE DC4 fn 8)."""
        self._reset_line()
        self._pending.clear()

    def _reset_line(self) -> None:
        self._line: list[tuple[str, Style]] = []
        self._line_dots = 0
        self._line_align = self.align
        self._stripe_open = self._stripe_lf = False

    def feed(self, data: bytes) -> list[Event]:
        """Decode `data` (a partial command at the end waits for the next call)."""
        self._pending += data
        events: list[Event] = []
        pos = 0
        while (parsed := parse_command(self._pending, pos)) is not None:
            name, end = parsed
            events += self.execute(name, bytes(self._pending[pos:end]))
            pos = end
        del self._pending[:pos]
        return events

    def execute(self, name: str, raw: bytes) -> list[Event]:
        """Run one complete command named by `parse_command`; return what it produced."""
        self._events = []
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, raw)
        elif name in CONTROL:
            self._events.append(Control(name, raw))
        elif name not in IGNORED and not name.startswith(IGNORED_PREFIXES):
            self._unknown(raw)
        return self._events

    # -- paper ----------------------------------------------------------------------------

    def _add(self, item: Item, *, stripe: bool = False) -> None:
        self._stripe_open = stripe
        self.current.items.append(item)
        self._events.append(item)

    def _unknown(self, raw: bytes) -> None:
        self.current.unknown.append(raw[:64])
        self._events.append(Unknown(raw))

    def _put(self, char: str) -> None:
        dots = FONT_DOTS[self.style.font] * self.style.width
        if self._line_dots + dots > PAPER_DOTS:
            self._print_line()
        if not self._line:
            self._line_align = self.align  # ESC a counts at the beginning of a line only
        self._line.append((char, self.style))
        self._line_dots += dots

    def _print_line(self) -> None:
        if not self._line:
            s = self.style
            self._add(PrintedLine("", self.align, s.bold, s.width > 1, s.height > 1, s.underline))
            return
        spans: list[Span] = []
        for char, style in self._line:
            if spans and spans[-1].style == style:
                spans[-1] = Span(spans[-1].text + char, style)
            else:
                spans.append(Span(char, style))
        first = next((st for ch, st in self._line if not ch.isspace()), self._line[0][1])
        text = "".join(ch for ch, _ in self._line)
        self._line, self._line_dots = [], 0
        line = PrintedLine(
            text, self._line_align, first.bold, first.width > 1, first.height > 1,
            first.underline, tuple(spans),
        )  # fmt: skip
        self._add(line)

    def _flush(self) -> None:
        if self._line:
            self._print_line()

    def _cut(self, partial: bool, feed_dots: int = 0) -> None:
        self._flush()
        if feed_dots:
            self._add(Feed(feed_dots))
        paper, self.current = self.current, Paper()
        paper.cut = True
        self.papers.append(paper)
        self._events.append(Cut(paper, partial))

    # -- handlers -------------------------------------------------------------------------

    def _text(self, raw: bytes) -> None:
        for char in raw.decode(CODE_PAGES.get(self.code_page, "cp437"), errors="replace"):
            self._put(char)

    def _lf(self, raw: bytes) -> None:
        if self._stripe_lf and not self._line:
            self._stripe_lf = False  # the LF that prints a column image stripe
            return
        self._print_line()

    def _tab(self, raw: bytes) -> None:
        char_dots = FONT_DOTS[self.style.font] * self.style.width
        column = self._line_dots // char_dots
        stop = next((t for t in self._tabs if t > column), None)
        if stop is not None:
            self._move_to(stop * char_dots)

    def _move_to(self, dots: int) -> None:
        target = min(dots, PAPER_DOTS)
        while self._line_dots + FONT_DOTS[self.style.font] * self.style.width <= target:
            self._put(" ")

    def _set_mode(self, raw: bytes) -> None:  # ESC !
        n = raw[2]
        self.style = Style(
            bool(n & 0x08), bool(n & 0x80), 2 if n & 0x20 else 1, 2 if n & 0x10 else 1,
            "b" if n & 0x01 else "a", self.style.invert,
        )  # fmt: skip

    def _set(self, **changes: object) -> None:
        self.style = replace(self.style, **changes)

    def _feed_lines(self, raw: bytes) -> None:  # ESC d n
        count = raw[2]
        if self._line:
            self._print_line()
            count -= 1
        for _ in range(max(count, 0)):
            self._print_line()

    def _feed_dots(self, raw: bytes) -> None:  # ESC J n
        if self._line:
            self._print_line()
        else:
            self._add(Feed(raw[2]))

    def _tab_stops(self, raw: bytes) -> None:  # ESC D n1 ... nk NUL
        self._tabs = sorted(set(raw[2:-1]))

    def _pulse(self, raw: bytes) -> None:  # ESC p m t1 t2
        if raw[2] not in (0, 1, 48, 49):
            self._unknown(raw)
            return
        pulse = DrawerPulse(5 if raw[2] in (1, 49) else 2, raw[3] * 2, raw[4] * 2)
        self.pulses.append(pulse)
        self._events.append(pulse)

    def _cut_command(self, raw: bytes) -> None:  # GS V m [n]
        self._cut(raw[2] in (1, 49, 66, 98, 104), raw[3] if len(raw) > 3 else 0)

    def _barcode_setting(self, raw: bytes) -> None:  # GS h / GS w / GS H
        key = {ord("h"): "height", ord("w"): "module_width", ord("H"): "hri"}[raw[1]]
        self._barcode[key] = raw[2] & 3 if key == "hri" else raw[2]

    def _barcode_print(self, raw: bytes) -> None:  # GS k
        kind = raw[2]
        if kind <= 6:
            symbology, data = BARCODES_A[kind], raw[3:-1]
        else:
            symbology, data = BARCODES_B[kind - 65], raw[4:]
        self._flush()
        self._add(Barcode(symbology, data.decode("latin-1"), align=self.align, **self._barcode))

    def _symbol(self, raw: bytes) -> None:  # GS ( k: QR and other 2D symbols
        body = raw[5:]
        if len(body) < 3 or body[0] not in SYMBOLS_2D:
            self._unknown(raw)
            return
        kind, fn, arg = body[0], body[1], body[2]
        if kind == 49 and fn == 67:
            self._qr["module_size"] = arg
        elif kind == 49 and fn == 69:
            self._qr["error_level"] = "LMQH"[(arg - 48) % 4]
        elif fn == 80:
            self._symbols[kind] = body[3:]
        elif fn == 81 and kind in self._symbols:
            self._flush()
            data = self._symbols[kind].decode("utf-8", errors="replace")
            if kind == 49:
                self._add(QrCode(data, align=self.align, **self._qr))
            else:
                self._add(Barcode(SYMBOLS_2D[kind], data, align=self.align))

    def _graphics_command(self, raw: bytes) -> None:  # GS ( L and GS 8 L
        body = raw[7:] if raw[1] == ord("8") else raw[5:]
        fn = body[1] if len(body) > 1 else -1
        if fn == 112 and len(body) >= 10:  # store raster graphics in the print buffer
            width, height = body[6] + body[7] * 256, body[8] + body[9] * 256
            bits = body[10 : 10 + (width + 7) // 8 * height]
            if len(bits) == (width + 7) // 8 * height:
                self._graphics = RasterImage(width, height, bits, scale=(body[3], body[4]))
                return
            self._unknown(raw[:16])
        elif fn in (2, 50) and self._graphics is not None:  # print the stored graphics
            graphics = self._graphics
            self._image(graphics.width, graphics.height, graphics.bits, graphics.scale)
            self._graphics = None

    def _raster(self, raw: bytes) -> None:  # GS v 0 m xL xH yL yH data
        mode = raw[3] & 3
        width, height = (raw[4] + raw[5] * 256) * 8, raw[6] + raw[7] * 256
        self._image(width, height, raw[8:], (1 + (mode & 1), 1 + (mode >> 1)))

    def _image(self, width: int, height: int, bits: bytes, scale=(1, 1)) -> None:
        self._flush()
        self._add(RasterImage(width, height, bytes(bits), self.align, scale))

    def _column_image(self, raw: bytes) -> None:  # ESC * m nL nH data: one stripe
        depth = 3 if raw[2] >= 32 else 1
        columns = raw[3] + raw[4] * 256
        stripe = RasterImage(columns, depth * 8, columns_to_rows(raw[5:], columns, depth))
        previous = self.current.items[-1] if self.current.items else None
        self._flush()
        if self._stripe_open and isinstance(previous, RasterImage):
            self.current.items[-1] = stripe = _stack(previous, stripe, self.align)
            self._events.append(stripe)
        else:
            self._add(replace(stripe, align=self.align))
        self._stripe_open = self._stripe_lf = True


def _stack(top: RasterImage, bottom: RasterImage, align: str) -> RasterImage:
    width = max(top.width, bottom.width)
    row_len = (width + 7) // 8
    rows = bytearray()
    for image in (top, bottom):
        own = (image.width + 7) // 8
        for y in range(image.height):
            rows += image.bits[y * own : (y + 1) * own].ljust(row_len, b"\x00")
    return RasterImage(width, top.height + bottom.height, bytes(rows), align)


def _style_setter(key: str, convert):
    return lambda self, raw: self._set(**{key: convert(raw[2])})


_HANDLERS = {
    "text": EscPosDecoder._text,
    "LF": EscPosDecoder._lf,
    "HT": EscPosDecoder._tab,
    "ESC @": lambda self, raw: self.initialise(),
    "ESC !": EscPosDecoder._set_mode,
    "ESC E": _style_setter("bold", lambda n: bool(n & 1)),
    "ESC G": _style_setter("bold", lambda n: bool(n & 1)),
    "ESC -": _style_setter("underline", lambda n: bool(n & 3)),
    "ESC M": _style_setter("font", lambda n: "b" if n in (1, 2, 49, 50) else "a"),
    "GS B": _style_setter("invert", lambda n: bool(n & 1)),
    "GS !": lambda self, raw: self._set(width=(raw[2] >> 4 & 7) + 1, height=(raw[2] & 7) + 1),
    "ESC a": lambda self, raw: setattr(self, "align", ALIGNS[raw[2] & 3 if raw[2] & 3 < 3 else 0]),
    "ESC t": lambda self, raw: setattr(self, "code_page", raw[2]),
    "ESC $": lambda self, raw: self._move_to(raw[2] + raw[3] * 256),
    "ESC \\": lambda self, raw: self._move_to(
        self._line_dots + int.from_bytes(raw[2:4], "little", signed=True)
    ),
    "ESC d": EscPosDecoder._feed_lines,
    "ESC J": EscPosDecoder._feed_dots,
    "ESC D": EscPosDecoder._tab_stops,
    "ESC p": EscPosDecoder._pulse,
    "ESC i": lambda self, raw: self._cut(False),
    "ESC m": lambda self, raw: self._cut(True),
    "ESC *": EscPosDecoder._column_image,
    "GS V": EscPosDecoder._cut_command,
    "GS h": EscPosDecoder._barcode_setting,
    "GS w": EscPosDecoder._barcode_setting,
    "GS H": EscPosDecoder._barcode_setting,
    "GS f": lambda self, raw: None,  # HRI font: the renderer has one
    "GS k": EscPosDecoder._barcode_print,
    "GS ( k": EscPosDecoder._symbol,
    "GS ( L": EscPosDecoder._graphics_command,
    "GS 8 L": EscPosDecoder._graphics_command,
    "GS v 0": EscPosDecoder._raster,
}
