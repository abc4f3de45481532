"""The ESC/POS decoder and command table, fed with what python-escpos really emits."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from drivers.escpos.commands import CLEAR_BUFFER, RealtimeScanner, parse_command
from drivers.escpos.decoder import (
    Control,
    Cut,
    DrawerPulse,
    EscPosDecoder,
    PrintedLine,
    QrCode,
    RasterImage,
    Unknown,
)

ACCENTED = [
    "Café crème",
    "Größe",
    "€ 12",
    "Ñandú",
    "Αθήνα",  # cp737
    "Москва",  # cp866
    "Łódź",  # cp852
    "İstanbul",  # cp857
    "Ça coûte 3,50 € — déjà payé",
]


def printer() -> Dummy:
    return Dummy(profile="TM-T88V")


def decode(data: bytes) -> EscPosDecoder:
    decoder = EscPosDecoder()
    decoder.feed(data)
    return decoder


def small_image(width: int = 20, height: int = 10) -> Image.Image:
    image = Image.new("1", (width, height), 1)
    ImageDraw.Draw(image).rectangle((2, 2, width - 3, height - 3), fill=0)
    return image


def test_receipt_lines_keep_bold_double_size_and_centring():
    p = printer()
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text("CAFE POSEDGE\n")
    p.set(normal_textsize=True, bold=False, align="left")
    p.text("1 Latte          3.50\n")
    p.set(align="right", underline=1)
    p.text("Total 3.50\n")
    p.cut()
    decoder = decode(p.output)

    (paper,) = decoder.papers
    title, item, total = paper.lines[:3]
    assert (title.text, title.align, title.bold) == ("CAFE POSEDGE", "center", True)
    assert title.double_width and title.double_height and not title.underline
    assert (item.text, item.align, item.bold, item.double_width) == (
        "1 Latte          3.50",
        "left",
        False,
        False,
    )
    assert (total.align, total.underline) == ("right", True)
    assert paper.text == "CAFE POSEDGE\n1 Latte          3.50\nTotal 3.50"
    assert paper.cut and decoder.current.items == []


@pytest.mark.parametrize("text", ACCENTED)
def test_accented_text_survives_python_escpos_code_page_switching(text):
    p = printer()
    p.text(text + "\n")
    assert decode(p.output).current.text == text


def test_code_pages_really_switch_inside_one_line():
    p = printer()
    p.text("Größe € 12 Ñandú Αθήνα\n")
    assert p.output.count(b"\x1bt") >= 3  # the line needs several code pages
    assert decode(p.output).current.text == "Größe € 12 Ñandú Αθήνα"


def test_native_qr_code_data_size_and_error_level_are_recovered():
    p = printer()
    p.qr("https://posedge.example/r/B-042?t=3.50", native=True, size=6, ec=2)
    (item,) = decode(p.output).current.items
    assert item == QrCode("https://posedge.example/r/B-042?t=3.50", 6, "Q", "left")


def test_barcodes_of_both_command_forms():
    p = printer()
    p.barcode("4006381333931", "EAN13")  # function A: NUL-terminated
    p.barcode("{BPOS-42", "CODE128", function_type="B")  # function B: length byte
    paper = decode(p.output).current
    assert paper.barcodes == [("EAN13", "4006381333931"), ("CODE128", "{BPOS-42")]
    assert paper.items[0].align == "center"  # python-escpos centres barcodes


@pytest.mark.parametrize(
    ("impl", "size"),
    [("bitImageRaster", (24, 10)), ("graphics", (20, 10)), ("bitImageColumn", (20, 24))],
)
def test_images_in_each_python_escpos_encoding(impl, size):
    p = printer()
    p.image(small_image(), impl=impl)
    paper = decode(p.output).current
    assert paper.images == [size]
    assert paper.lines == []  # the LF after a column stripe is not a blank line
    (image,) = (item for item in paper.items if isinstance(item, RasterImage))
    assert any(image.bits), "the black rectangle is in the bitmap"


def test_column_image_stripes_join_into_one_image():
    p = printer()
    p.image(small_image(40, 60), impl="bitImageColumn")
    assert decode(p.output).current.images == [(40, 72)]  # three 24-dot stripes


def test_cut_ends_a_piece_and_the_next_piece_starts_empty():
    p = printer()
    p.text("first\n")
    p.cut()
    p.text("second\n")
    p.cut(mode="PART")
    p.text("third, not cut yet")
    events = EscPosDecoder().feed(p.output)
    cuts = [event for event in events if isinstance(event, Cut)]
    assert [cut.partial for cut in cuts] == [False, True]
    assert [cut.paper.text for cut in cuts] == ["first", "second"]


def test_text_without_a_line_feed_stays_in_the_print_buffer():
    decoder = decode(b"pending")
    assert decoder.current.lines == []
    decoder.feed(b"\n")
    assert decoder.current.text == "pending"


def test_drawer_kicks_record_pin_and_pulse_times():
    p = printer()
    p.cashdraw(2)
    p.cashdraw(5)
    decoder = decode(p.output + b"\x1b\x70\x00\x32\xfa")
    assert decoder.pulses == [
        DrawerPulse(2, 100, 100),
        DrawerPulse(5, 100, 100),
        DrawerPulse(2, 100, 500),
    ]


def test_real_time_and_status_commands_are_control_events_in_order():
    events = EscPosDecoder().feed(b"\x10\x04\x01\x1dr\x01\x10\x14\x01\x00\x01" + CLEAR_BUFFER)
    assert [(e.command, e.raw) for e in events if isinstance(e, Control)] == [
        ("DLE EOT", b"\x10\x04\x01"),
        ("GS r", b"\x1dr\x01"),
        ("DLE DC4", b"\x10\x14\x01\x00\x01"),
        ("DLE DC4", CLEAR_BUFFER),
    ]
    assert not [e for e in events if isinstance(e, DrawerPulse | Unknown)]


def test_unknown_commands_and_stray_bytes_are_recorded_not_printed():
    decoder = decode(b"\x1b\x01\x01\x1d\x99ok\n")
    assert decoder.current.unknown == [b"\x1b\x01", b"\x01", b"\x1d\x99"]
    assert decoder.current.text == "ok"


def test_a_garbage_length_does_not_swallow_what_follows():
    decoder = decode(b"\x1dv0\x00\xff\xff\xff\xff" + b"\n\x1b@still printing\n")
    assert b"\x1dv" in decoder.current.unknown
    assert decoder.current.lines[-1].text == "still printing"


def test_long_lines_wrap_at_the_paper_width():
    decoder = decode(b"x" * 60 + b"\n\x1b! " + b"y" * 30 + b"\n")
    assert [len(line.text) for line in decoder.current.lines] == [48, 12, 24, 6]


def test_initialise_resets_style_and_drops_the_unfinished_line():
    decoder = decode(b"\x1bE\x01\x1ba\x01lost\x1b@kept\n")
    assert decoder.current.lines == [PrintedLine("kept", spans=decoder.current.lines[0].spans)]


def test_horizontal_tab_moves_to_the_next_stop():
    assert decode(b"ab\tc\n").current.text == "ab      c"


@given(data=st.binary(max_size=600), chunk=st.integers(min_value=1, max_value=40))
def test_any_bytes_in_any_chunks_decode_like_all_at_once(data, chunk):
    whole = decode(data)
    pieces = EscPosDecoder()
    for start in range(0, len(data), chunk):
        pieces.feed(data[start : start + chunk])
    assert pieces.papers == whole.papers
    assert pieces.current == whole.current
    assert pieces.pulses == whole.pulses


def test_parse_command_waits_for_incomplete_commands():
    assert parse_command(b"\x1b") is None
    assert parse_command(b"\x1d(k\x03\x001") is None
    assert parse_command(b"\x1d(k\x03\x0011Q0") == ("GS ( k", 8)
    assert parse_command(b"abc\ndef") == ("text", 3)


def test_scanner_finds_real_time_commands_split_across_reads():
    scanner = RealtimeScanner()
    stream = b"Hi\x10\x04\x01there\x10\x14\x01\x00\x02" + CLEAR_BUFFER + b"\x10\x04"
    pieces = [piece for byte in stream for piece in scanner.scan(bytes([byte]))]
    assert [data for realtime, data in pieces if realtime] == [
        b"\x10\x04\x01",
        b"\x10\x14\x01\x00\x02",
        CLEAR_BUFFER,
    ]
    assert b"".join(data for _, data in pieces) == stream[:-2]  # "\x10\x04" still held


def test_scanner_acts_inside_image_data_like_a_real_printer():
    data = b"\x1dv0\x00\x01\x00\x03\x00" + b"\x10\x04\x02"  # the image's 3 bytes
    pieces = list(RealtimeScanner().scan(data))
    assert (True, b"\x10\x04\x02") in pieces
    assert b"".join(piece for _, piece in pieces) == data  # and they are still image data
    assert decode(data).current.images == [(8, 3)]


@given(data=st.binary(max_size=300), chunk=st.integers(min_value=1, max_value=12))
def test_scanner_passes_every_byte_through_in_order(data, chunk):
    scanner, seen = RealtimeScanner(), b""
    for start in range(0, len(data), chunk):
        seen += b"".join(piece for _, piece in scanner.scan(data[start : start + chunk]))
    assert data.startswith(seen) and len(data) - len(seen) < len(CLEAR_BUFFER)
