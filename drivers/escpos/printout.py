"""What an ESC/POS printer puts on paper, as the decoder reports it (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Style:
    """How characters are printed; width and height are multipliers (1-8)."""

    bold: bool = False
    underline: bool = False
    width: int = 1
    height: int = 1
    font: str = "a"
    invert: bool = False


@dataclass(frozen=True)
class Span:
    """A run of characters of one style within a line."""

    text: str
    style: Style = Style()


@dataclass(frozen=True)
class PrintedLine:
    """One printed line; the attributes are those of its first visible character."""

    text: str
    align: str = "left"
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    underline: bool = False
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class QrCode:
    """A QR code printed by the printer itself (GS ( k)."""

    data: str
    module_size: int = 3
    error_level: str = "L"
    align: str = "left"


@dataclass(frozen=True)
class Barcode:
    """A 1D barcode (GS k) or a 2D symbol other than QR; hri 0 none, 1 above, 2 below, 3 both."""

    symbology: str
    data: str
    height: int = 162
    module_width: int = 3
    hri: int = 0
    align: str = "left"


@dataclass(frozen=True)
class RasterImage:
    """A bitmap: rows of ceil(width / 8) bytes, most significant bit left, 1 = black."""

    width: int
    height: int
    bits: bytes = field(repr=False)
    align: str = "left"
    scale: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class Feed:
    """Blank paper fed by a number of dots."""

    dots: int


Item = PrintedLine | QrCode | Barcode | RasterImage | Feed


@dataclass
class Paper:
    """One piece of paper: what was printed on it, in order, up to a cut."""

    items: list[Item] = field(default_factory=list)
    cut: bool = False
    unknown: list[bytes] = field(default_factory=list)

    @property
    def lines(self) -> list[PrintedLine]:
        return [item for item in self.items if isinstance(item, PrintedLine)]

    @property
    def text(self) -> str:
        return "\n".join(line.text.rstrip() for line in self.lines).rstrip()

    @property
    def qr_codes(self) -> list[str]:
        return [item.data for item in self.items if isinstance(item, QrCode)]

    @property
    def barcodes(self) -> list[tuple[str, str]]:
        return [(i.symbology, i.data) for i in self.items if isinstance(i, Barcode)]

    @property
    def images(self) -> list[tuple[int, int]]:
        return [(i.width, i.height) for i in self.items if isinstance(i, RasterImage)]


@dataclass(frozen=True)
class DrawerPulse:
    """A drawer kick pulse on connector pin 2 or 5; realtime for DLE DC4 (fn 1), else ESC p."""

    pin: int
    on_ms: int
    off_ms: int
    realtime: bool = False


@dataclass(frozen=True)
class Cut:
    """The paper was cut; `paper` is the finished piece."""

    paper: Paper
    partial: bool = False


@dataclass(frozen=True)
class Control:
    """A command for the printer's I/O side met in order (DLE EOT/ENQ/DC4, GS r, GS I ...)."""

    command: str
    raw: bytes


@dataclass(frozen=True)
class Unknown:
    """Bytes the decoder does not understand (an unknown command or garbage)."""

    raw: bytes


Event = Item | Cut | DrawerPulse | Control | Unknown
