"""The PNG picture of a decoded piece of paper."""

from __future__ import annotations

import io

from escpos.printer import Dummy
from PIL import Image, ImageDraw

from drivers.escpos import printout_image as paper_image
from drivers.escpos.decoder import EscPosDecoder, Paper, PrintedLine, QrCode, RasterImage
from drivers.escpos.printout_image import render_png


def picture(paper: Paper) -> Image.Image:
    image = Image.open(io.BytesIO(render_png(paper)))
    assert image.format == "PNG"
    return image.convert("L")


def dark_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of the dark pixels."""
    return image.point(lambda value: 255 if value < 128 else 0).getbbox()


def decoded(build) -> Paper:
    p = Dummy(profile="TM-T88V")
    build(p)
    decoder = EscPosDecoder()
    decoder.feed(p.output)
    return decoder.papers[-1] if decoder.papers else decoder.current


def test_png_is_576_dots_wide_and_grows_with_lines():
    one = picture(Paper([PrintedLine("Latte 3.50")]))
    ten = picture(Paper([PrintedLine(f"Item {n}") for n in range(10)]))
    assert one.width == ten.width == 576
    assert ten.height > one.height + 8 * 24
    assert dark_box(one) is not None, "the text is drawn"


def test_double_size_text_is_bigger_than_normal_text():
    normal = dark_box(picture(Paper([PrintedLine("TOTAL")])))
    double = dark_box(picture(Paper([PrintedLine("TOTAL", double_width=True, double_height=True)])))
    assert normal and double
    assert double[2] - double[0] > 1.8 * (normal[2] - normal[0])
    assert double[3] - double[1] > 1.8 * (normal[3] - normal[1])


def test_centred_and_right_aligned_lines_sit_where_they_should():
    centred = dark_box(picture(Paper([PrintedLine("middle", align="center")])))
    right = dark_box(picture(Paper([PrintedLine("edge", align="right")])))
    assert centred and right
    assert abs((centred[0] + centred[2]) / 2 - 288) < 12
    assert right[2] > 576 - 12


def test_a_qr_code_is_drawn_as_a_dark_square():
    image = picture(Paper([QrCode("https://posedge.example/r/B-042", module_size=6)]))
    box = dark_box(image)
    assert box is not None
    width, height = box[2] - box[0], box[3] - box[1]
    assert width == height and width >= 21 * 6  # version 1 or larger, 6 dots a module
    region = image.crop(box)
    dark = sum(1 for value in region.tobytes() if value < 128) / (width * height)
    assert 0.3 < dark < 0.7
    finder = region.crop((0, 0, 7 * 6, 7 * 6))  # the top left finder pattern's dark ring
    assert all(finder.getpixel((x, 0)) < 128 for x in range(finder.width))


def test_a_receipt_with_everything_renders_and_the_cut_is_dashed():
    logo = Image.new("1", (64, 32), 1)
    ImageDraw.Draw(logo).ellipse((0, 0, 63, 31), fill=0)

    def build(p: Dummy) -> None:
        p.set(align="center", bold=True, double_height=True, double_width=True)
        p.text("CAFÉ\n")
        p.set(normal_textsize=True, bold=False, underline=1, invert=True)
        p.text("Größe € 12\n")
        p.qr("B-042", native=True)
        p.barcode("4006381333931", "EAN13")
        p.image(logo)
        p.cut()

    paper = decoded(build)
    image = picture(paper)
    assert image.width == 576
    bottom = image.crop((0, image.height - 12, 576, image.height))
    dashes = [bottom.getpixel((x, 6)) < 128 for x in range(576)]
    assert 0.3 < sum(dashes) / len(dashes) < 0.7, "a dashed line, not a solid one"
    uncut = picture(Paper(paper.items))
    assert dark_box(uncut.crop((0, uncut.height - 12, 576, uncut.height))) is None


def test_raster_images_keep_their_pixels_and_scale():
    bits = bytes([0xFF, 0x00] * 8)  # 16 x 8: left half black
    image = picture(Paper([RasterImage(16, 8, bits, scale=(2, 2))]))
    box = dark_box(image)
    assert box is not None and (box[2] - box[0], box[3] - box[1]) == (16, 16)


def test_path_gets_the_same_png(tmp_path):
    paper = Paper([PrintedLine("saved")])
    target = tmp_path / "0001.png"
    assert render_png(paper, target) == target.read_bytes()


def test_missing_dejavu_falls_back_to_pillows_font(monkeypatch, tmp_path):
    monkeypatch.setattr(paper_image, "FONT_DIR", tmp_path)  # an empty font directory
    paper_image._font.cache_clear()
    try:
        assert dark_box(picture(Paper([PrintedLine("fallback")]))) is not None
    finally:
        paper_image._font.cache_clear()
