"""A picture of a printed piece of paper: the decoder's `Paper` as a PNG, 576 dots wide."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from drivers.escpos.printout import (
    Barcode,
    Feed,
    Paper,
    PrintedLine,
    QrCode,
    RasterImage,
    Span,
    Style,
)

WIDTH = 576  # 80 mm paper at 203 dpi: 72 mm printable
MARGIN = 16  # blank paper above the first line and below the last
LINE_GAP = 6  # Epson's default line spacing (30 dots) minus the 24-dot character cell
CELLS = {"a": (12, 24, 20), "b": (9, 17, 15)}  # font: cell width, cell height, font size
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
QR_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def render_png(paper: Paper, path: str | Path | None = None) -> bytes:
    """Draw `paper` as a PNG (written to `path` too when given); returns the PNG bytes."""
    blocks = [_render(item) for item in paper.items]
    height = MARGIN * 2 + sum(block.height for block, _ in blocks) + (12 if paper.cut else 0)
    page = Image.new("L", (WIDTH, height), 255)
    y = MARGIN
    for block, align in blocks:
        page.paste(block.crop((0, 0, min(block.width, WIDTH), block.height)), (_x(block, align), y))
        y += block.height
    if paper.cut:
        draw = ImageDraw.Draw(page)
        for x in range(0, WIDTH, 16):  # the cut: a dashed line across the paper
            draw.line((x, height - 6, x + 8, height - 6), fill=0, width=2)
    out = io.BytesIO()
    page.save(out, format="PNG")
    data = out.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _x(block: Image.Image, align: str) -> int:
    free = max(WIDTH - block.width, 0)
    return {"center": free // 2, "right": free}.get(align, 0)


def _render(item: object) -> tuple[Image.Image, str]:
    if isinstance(item, PrintedLine):
        return _line(item), item.align
    if isinstance(item, QrCode):
        return _qr(item), item.align
    if isinstance(item, Barcode):
        return _barcode(item), item.align
    if isinstance(item, RasterImage):
        return _raster(item), item.align
    if isinstance(item, Feed):
        return Image.new("L", (1, item.dots), 255), "left"
    return Image.new("L", (1, 1), 255), "left"


@cache
def _font(font: str, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = CELLS[font][2]
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:  # no DejaVu here: Pillow's own font is good enough to read a receipt
        return ImageFont.load_default(size)


def _line(line: PrintedLine) -> Image.Image:
    spans = line.spans or (
        Span(
            line.text,
            Style(
                bold=line.bold,
                underline=line.underline,
                width=2 if line.double_width else 1,
                height=2 if line.double_height else 1,
            ),
        ),
    )
    pieces = [_span(span) for span in spans if span.text]
    cell_height = CELLS["a"][1] * (2 if line.double_height else 1)
    height = max([cell_height, *(piece.height for piece in pieces)]) + LINE_GAP
    width = max(sum(piece.width for piece in pieces), 1)
    image = Image.new("L", (width, height), 255)
    x = 0
    for piece in pieces:
        image.paste(piece, (x, height - LINE_GAP - piece.height))  # characters share a baseline
        x += piece.width
    return image


def _span(span: Span) -> Image.Image:
    style = span.style
    cell_width, cell_height, _ = CELLS.get(style.font, CELLS["a"])
    ink, paper = (255, 0) if style.invert else (0, 255)
    image = Image.new("L", (cell_width * len(span.text), cell_height), paper)
    draw = ImageDraw.Draw(image)
    font = _font(style.font if style.font in CELLS else "a", style.bold)
    for index, char in enumerate(span.text):
        draw.text((index * cell_width, 0), char, font=font, fill=ink)
    if style.underline:
        draw.line((0, cell_height - 2, image.width, cell_height - 2), fill=ink, width=2)
    if style.width > 1 or style.height > 1:
        size = (image.width * style.width, image.height * style.height)
        image = image.resize(size, Image.Resampling.NEAREST)
    return image


def _qr(code: QrCode) -> Image.Image:
    module = max(code.module_size, 1)
    qr = qrcode.QRCode(
        error_correction=QR_LEVELS.get(code.error_level, qrcode.constants.ERROR_CORRECT_L), border=0
    )
    try:
        qr.add_data(code.data.encode("utf-8"))
        qr.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError):
        return _labelled_box(f"QR: {code.data[:40]}", 160)
    matrix = qr.get_matrix()
    side = len(matrix) * module
    image = Image.new("L", (side, side + LINE_GAP * 2), 255)
    draw = ImageDraw.Draw(image)
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                x, y = column * module, LINE_GAP + row * module
                draw.rectangle((x, y, x + module - 1, y + module - 1), fill=0)
    return image


def _barcode(code: Barcode) -> Image.Image:
    """Bars drawn from the data's bits (not a scannable symbol) with the human-readable text."""
    bits = "".join(f"{byte:08b}" for byte in code.data.encode("utf-8", errors="replace"))
    module = max(1, min(code.module_width, WIDTH // max(len(bits) + 20, 1)))
    bar_height = max(16, min(code.height, 240))
    font = _font("a", False)
    text_height = CELLS["a"][1] + 4
    above = text_height if code.hri & 1 else 0
    below = text_height if code.hri & 2 else 0
    width = min((len(bits) + 20) * module, WIDTH)
    image = Image.new("L", (width, above + bar_height + below + LINE_GAP), 255)
    draw = ImageDraw.Draw(image)
    for index in range(len(bits) + 4):  # guard bars at both ends, data bits between
        dark = index < 2 or index >= len(bits) + 2 or bits[index - 2] == "1"
        x = (index + 8) * module
        if dark and x < width:
            draw.rectangle((x, above, x + module - 1, above + bar_height), fill=0)
    for y, shown in ((0, above), (above + bar_height + 2, below)):
        if shown:
            draw.text((max((width - len(code.data) * 12) // 2, 0), y), code.data, font=font, fill=0)
    return image


def _labelled_box(label: str, height: int) -> Image.Image:
    image = Image.new("L", (WIDTH, height), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH - 1, height - 1), outline=0, width=2)
    draw.text((8, height // 2 - 12), label, font=_font("a", False), fill=0)
    return image


def _raster(raster: RasterImage) -> Image.Image:
    if raster.width <= 0 or raster.height <= 0:
        return Image.new("L", (1, 1), 255)
    expected = (raster.width + 7) // 8 * raster.height
    bits = raster.bits[:expected].ljust(expected, b"\x00")
    image = Image.frombytes("1", (raster.width, raster.height), bits, "raw", "1;I").convert("L")
    scale_x, scale_y = (max(1, min(s, 8)) for s in raster.scale)
    if (scale_x, scale_y) != (1, 1):
        image = image.resize(
            (image.width * scale_x, image.height * scale_y), Image.Resampling.NEAREST
        )
    return image
