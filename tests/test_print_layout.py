"""Kitchen tickets and receipts laid out as ESC/POS bytes.

The bytes are read back two ways: by the emulators' decoder (drivers.escpos_decoder: what a
printer puts on paper), and by a strict reader below that knows only the commands this layout
may send and fails on anything else, a stray control byte included. So the tests check the
printed lines exactly, accents, styles and alignment included.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from escpos.capabilities import CAPABILITIES
from hypothesis import given
from hypothesis import strategies as st

from drivers.escpos_decoder import EscPosDecoder, Paper
from edge.print_layout import LayoutError, Marks, label, render
from edge.receipt_layout import format_amount

NEW_YORK = ZoneInfo("America/New_York")  # 12:03Z on 24 Nov is 07:03 there
ORDER_ID = "20261124-3fa2c1d0e5b6"


def ticket(**changes) -> dict:
    document = {
        "kind": "ticket",
        "ticket": "fire",
        "order_id": ORDER_ID,
        "number": "A-042",
        "channel": "dine_in",
        "table": "12",
        "guests": 2,
        "station": "grill",
        "station_name": "Grill",
        "fired_at": "2026-11-24T12:03:07.120Z",
        "fired_by": "Counter 1 (t-3fa2c1d0)",
        "lines": [
            {
                "qty": 2,
                "name": "Classic Burger",
                "modifiers": ["Add cheese", "No onion"],
                "note": "no pickles",
            }
        ],
    }
    document.update(changes)
    return document


def receipt(**changes) -> dict:
    document = {
        "kind": "receipt",
        "store": {
            "name": "Demo Store",
            "header": ["12 Main St", "Tel 555-0100"],
            "footer": ["Thank you!"],
        },
        "order_id": ORDER_ID,
        "number": "A-042",
        "channel": "dine_in",
        "table": "12",
        "opened_at": "2026-11-24T11:41:00.000Z",
        "printed_at": "2026-11-24T12:03:07.120Z",
        "currency": "USD",
        "lines": [
            {
                "qty": 2,
                "name": "Classic Burger",
                "modifiers": [{"name": "Add cheese", "price": 150}],
                "amount": 2800,
                "voided": False,
            },
            {"qty": 1, "name": "Fries", "modifiers": [], "amount": 400, "voided": True},
        ],
        "subtotal": 2800,
        "discounts": [{"reason": "Happy hour", "amount": 280}],
        "discount": 280,
        "taxes": [{"label": "Sales tax 8.875%", "amount": 224, "included": False}],
        "tax": 224,
        "total": 2744,
        "payments": [{"tender": "cash", "amount": 3000, "tip": 0}],
        "tips": 0,
        "paid": 3000,
        "change": 256,
        "balance_due": 0,
    }
    document.update(changes)
    return document


# --- A reader for the bytes ---------------------------------------------------------------

# ESC t n → the code page (the table of the printers posedge drives)
CODE_PAGES = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
}


@dataclass
class Line:
    text: str
    align: str
    bold: bool
    size: str  # normal, tall, wide, big
    invert: bool

    @property
    def columns(self) -> int:
        return len(self.text) * (2 if self.size in ("wide", "big") else 1)


@dataclass
class Printout:
    lines: list[Line] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    code_pages: list[int] = field(default_factory=list)
    images: int = 0
    cut: bool = False
    fed_before_cut: int = 0

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def find(self, text: str) -> Line:
        return next(line for line in self.lines if line.text == text)


def read(data: bytes, profile: str = "TM-T88V") -> Printout:
    """The printout of `data`; fails on a command it does not know or a stray control byte."""
    out = Printout()
    pages = CAPABILITIES["profiles"][profile]["codePages"]
    align, bold, size, invert, page = "left", False, "normal", False, None
    text, segments, i = bytearray(), [], 0  # segments: a line's text in earlier code pages
    qr_stored: str | None = None

    def decode() -> str:
        assert page is not None or not text, "text before any ESC t"
        raw = bytes(text)
        text.clear()
        if page in CODE_PAGES:
            return raw.decode(CODE_PAGES[page])
        return "\ufffd" * len(raw)  # a page of the profile this reader has no table for

    def flush_line() -> None:
        out.lines.append(Line("".join([*segments, decode()]), align, bold, size, invert))
        segments.clear()

    while i < len(data):
        byte = data[i]
        assert not out.cut, f"bytes after the cut: {data[i:]!r}"
        if byte == 0x0A:
            flush_line()
            i += 1
        elif byte == 0x1B:
            command, arg = data[i + 1], data[i + 2] if i + 2 < len(data) else None
            if command == ord("@"):
                align, bold, size, invert, page = "left", False, "normal", False, None
                i += 2
                continue
            mid_line = bool(text or segments)
            assert not mid_line or command == ord("t"), f"style change mid-line at {i}"
            if command == ord("t"):
                assert str(arg) in pages, f"ESC t {arg}: not a code page of {profile}"
                out.code_pages.append(arg)
                segments.append(decode())
                page = arg
            elif command == ord("!"):
                size = {0: "normal", 0x10: "tall", 0x20: "wide", 0x30: "big"}[arg]
                bold = False
            elif command == ord("E"):
                bold = bool(arg)
            elif command == ord("a"):
                align = {0: "left", 1: "center", 2: "right"}[arg]
            elif command == ord("d"):
                out.fed_before_cut = arg
            else:
                raise AssertionError(f"unknown command ESC {chr(command)!r} at {i}")
            i += 3
        elif byte == 0x1D:
            command = data[i + 1]
            if command == ord("B"):
                invert = bool(data[i + 2])
                i += 3
            elif command == ord("V"):
                assert data[i + 2] in (0, 1, 48, 49), "GS V with an unknown mode"
                out.cut = True
                i += 3
            elif command == ord("(") and data[i + 2] == ord("k"):
                length = data[i + 3] | data[i + 4] << 8
                body = data[i + 5 : i + 5 + length]
                assert body[0:1] == b"1", "a 2D code other than QR"
                if body[1:3] == b"P0":
                    qr_stored = body[3:].decode("utf-8")
                elif body[1:3] == b"Q0":
                    assert qr_stored is not None, "QR printed before it was stored"
                    out.qr_codes.append(qr_stored)
                i += 5 + length
            elif command == ord("v") and data[i + 2] == ord("0"):
                width_bytes = data[i + 4] | data[i + 5] << 8
                height = data[i + 6] | data[i + 7] << 8
                out.images += 1
                i += 8 + width_bytes * height
            else:
                raise AssertionError(f"unknown command GS {chr(command)!r} at {i}")
        else:
            assert byte >= 0x20 and byte != 0x7F, f"control byte {byte:#04x} in text at {i}"
            text.append(byte)
            i += 1
    assert not text and not segments, "text left unprinted at the end"
    return out


# --- Kitchen tickets --------------------------------------------------------------------------


def test_ticket_prints_every_field_in_the_store_zone():
    printout = read(render(ticket(), zone=NEW_YORK))
    assert printout.texts == [
        "Grill",
        "A-042",
        "Dine in - Table 12 - 2 guests",
        "Fired 07:03 by Counter 1",
        "-" * 48,
        "2 x Classic Burger",
        "  + Add cheese",
        "  + No onion",
        "  ! no pickles",
        "-" * 48,
        f"Order {ORDER_ID}",
    ]
    assert printout.find("A-042") == Line("A-042", "center", True, "big", False)
    assert printout.find("Grill").size == "tall"
    assert printout.find("2 x Classic Burger") == Line(
        "2 x Classic Burger", "left", True, "tall", False
    )
    assert printout.find("  + Add cheese") == Line("  + Add cheese", "left", False, "normal", False)


def test_document_ends_with_paper_fed_past_the_cutter_then_a_cut():
    data = render(ticket(), zone=NEW_YORK)
    printout = read(data)
    assert printout.cut and printout.fed_before_cut >= 3
    assert data.endswith(b"\x1dV\x00")  # GS V 0: full cut, the last thing sent
    assert data.startswith(b"\x1b@")  # ESC @: nothing left over from a job cut short


def test_ticket_without_table_or_guests_names_the_channel_only():
    printout = read(render(ticket(channel="takeaway", table=None, guests=0), zone=NEW_YORK))
    assert printout.texts[2] == "Takeaway"
    one = read(render(ticket(guests=1, channel="drive_thru"), zone=NEW_YORK))
    assert one.texts[2] == "Drive thru - Table 12 - 1 guest"


def test_void_ticket_has_a_banner_the_reason_and_void_lines():
    document = ticket(ticket="void", reason="guest left")
    printout = read(render(document, zone=NEW_YORK))
    assert printout.lines[0] == Line(" VOID ", "center", True, "big", True)
    assert printout.texts[1:4] == ["Reason: guest left", "Grill", "A-042"]
    assert "Voided 07:03 by Counter 1" in printout.texts
    assert printout.find("VOID 2 x Classic Burger").size == "tall"
    assert "  + Add cheese" in printout.texts


def test_marks_print_big_inverted_and_first():
    marks = Marks(reprint=True, late_minutes=14, backup_for="Bar")
    printout = read(render(ticket(), zone=NEW_YORK, marks=marks))
    assert printout.lines[:3] == [
        Line(" *** REPRINT *** ", "center", True, "big", True),
        Line(" LATE: fired 14 min ago ", "center", True, "big", True),
        Line(" FOR Bar (unavailable) ", "center", True, "big", True),
    ]
    assert printout.lines[3] == Line("Grill", "center", True, "tall", False)


def test_a_mark_too_long_for_double_size_prints_double_height():
    marks = Marks(backup_for="Grill printer by the door")
    printout = read(render(receipt(), zone=NEW_YORK, marks=marks, width=32))
    banner = Line(" FOR Grill printer by the door ", "center", True, "tall", True)
    assert printout.lines[0] == banner
    assert printout.lines[1] == Line(" (unavailable) ", "center", True, "tall", True)


def test_accented_text_switches_code_page_and_prints_exactly():
    line = {"qty": 1, "name": "Crème brûlée", "modifiers": ["Łódź sauce"], "note": "Ñandú"}
    data = render(ticket(lines=[line], station_name="Pâtisserie"), zone=NEW_YORK)
    printout = read(data)
    assert printout.texts[0] == "Pâtisserie"
    assert printout.texts[5:8] == ["1 x Crème brûlée", "  + Łódź sauce", "  ! Ñandú"]
    assert data.count(b"\x1bt") >= 2  # ESC t: Ł is not in the first code page
    assert b"\x1bt\x12" in data  # cp852 has it
    assert "Crème".encode("cp437") in data


def test_text_no_code_page_has_is_folded_to_one_column_per_character():
    names = {
        "Burger 🍔": "Burger ?",
        "👍🏽 ok": "?? ok",  # the skin tone is a character of its own
        "ﬁsh": "fish",
        "Ｃａｆé": "Café",
        "汉堡": "??",
        "Zero\u200bwidth\u00adjoin": "Zerowidthjoin",
        "two\nlines\tand tab": "two lines and tab",
        "e\u0301t\u0301e\u0301": "ét́é",
    }
    lines = [{"qty": 1, "name": name} for name in names]
    printout = read(render(ticket(lines=lines), zone=NEW_YORK))
    printed = [t.removeprefix("1 x ") for t in printout.texts if t.startswith("1 x ")]
    assert printed == [v.replace("t\u0301", "t") for v in names.values()]


def test_long_names_notes_and_modifiers_wrap_within_the_width():
    long = "Triple smoked bacon cheeseburger with caramelised onions and extra pickles"
    line = {"qty": 12, "name": long, "modifiers": [long], "note": long}
    printout = read(render(ticket(lines=[line]), zone=NEW_YORK, width=32))
    body = printout.texts[5:-2]
    assert all(len(text) <= 32 for text in body)
    assert body[0].startswith("12 x Triple")
    name_lines = [t for t in body if t.startswith("     ") and not t.startswith("      ")]
    assert " ".join(t.strip() for t in [body[0], *name_lines]) == f"12 x {long}"
    modifier = body[len(name_lines) + 1 :]
    note_at = next(i for i, t in enumerate(modifier) if t.startswith("  ! "))
    for first, pieces in (("  + ", modifier[:note_at]), ("  ! ", modifier[note_at:])):
        assert pieces[0].startswith(first) and all(t.startswith("    ") for t in pieces[1:])
        assert " ".join(t[4:] for t in pieces) == long


def test_a_word_longer_than_the_paper_is_broken():
    printout = read(render(ticket(lines=[{"qty": 1, "name": "x" * 100}]), zone=NEW_YORK))
    pieces = [t for t in printout.texts if "xxx" in t]
    assert all(len(t) <= 48 for t in pieces)
    assert "".join(t.strip().removeprefix("1 x ") for t in pieces) == "x" * 100


def test_rendering_is_the_same_whatever_was_rendered_before():
    first = render(ticket(), zone=NEW_YORK)
    render(ticket(station_name="Łódź Ελλάδα Москва"), zone=NEW_YORK)  # other code pages used
    assert render(ticket(), zone=NEW_YORK) == first


# --- Receipts ---------------------------------------------------------------------------------


def test_receipt_prints_every_field():
    printout = read(render(receipt(), zone=NEW_YORK))
    assert printout.texts == [
        "Demo Store",
        "12 Main St",
        "Tel 555-0100",
        "",
        "Order A-042",
        "Dine in - Table 12",
        "2026-11-24 07:03 (opened 06:41)",
        "-" * 48,
        "2 x Classic Burger" + "28.00".rjust(30),
        "    + Add cheese (+1.50)",
        "VOID 1 x Fries",
        "-" * 48,
        "Subtotal" + "28.00".rjust(40),
        "Happy hour" + "-2.80".rjust(38),
        "Sales tax 8.875%" + "2.24".rjust(32),
        "TOTAL USD" + "27.44".rjust(39),
        "Cash" + "30.00".rjust(44),
        "CHANGE" + "2.56".rjust(42),
        "",
        ORDER_ID,
        "",
        "Thank you!",
    ]
    assert printout.find("Demo Store") == Line("Demo Store", "center", True, "big", False)
    total = printout.lines[15]
    assert (total.bold, total.size) == (True, "tall")
    assert printout.lines[17].bold
    assert printout.find(ORDER_ID).align == "center"


def test_receipt_qr_code_holds_the_order_id_centred_above_it():
    data = render(receipt(), zone=NEW_YORK)
    printout = read(data)
    assert printout.qr_codes == [ORDER_ID]
    store = b"\x1d(k" + (len(ORDER_ID) + 3).to_bytes(2, "little") + b"1P0" + ORDER_ID.encode()
    assert store in data  # GS ( k fn 80: store the data
    assert b"\x1d(k\x03\x001C\x06" in data  # module size 6
    assert b"\x1ba\x01" + b"\x1d(k" in data  # centred
    printed = data.index(b"\x1d(k\x03\x001Q0")
    assert data.index(store) < printed < data.rindex(ORDER_ID.encode() + b"\n")


@pytest.mark.parametrize("width", [48, 32])
def test_receipt_amounts_are_right_aligned_at_the_paper_width(width):
    long_name = "Grilled halloumi salad with pomegranate and mint dressing"
    document = receipt(
        lines=[
            {"qty": 1, "name": long_name, "amount": 1450},
            {"qty": 10, "name": "Espresso", "amount": 3000},
        ],
        payments=[
            {"tender": "card", "amount": 2000, "tip": 300},
            {"tender": "gift_card", "amount": 500, "tip": 0},
        ],
        tips=300,
        change=0,
        balance_due=244,
    )
    printout = read(render(document, zone=NEW_YORK, width=width))
    rows = {
        "1 x Grilled": "14.50",
        "10 x Espresso": "30.00",
        "Subtotal": "28.00",
        "Happy hour": "-2.80",
        "Sales tax": "2.24",
        "TOTAL USD": "27.44",
        "Card": "20.00",
        "  Tip": "3.00",
        "Gift card": "5.00",
        "BALANCE DUE": "2.44",
    }
    for start, amount in rows.items():
        line = next(t for t in printout.texts if t.startswith(start))
        assert len(line) == width and line.endswith(" " + amount), line
    first = printout.texts.index(next(t for t in printout.texts if t.startswith("1 x G")))
    name_lines = [printout.texts[first]]
    for text in printout.texts[first + 1 :]:
        if not text.startswith("    "):
            break
        name_lines.append(text)
    assert len(name_lines) > 1  # wrapped, continued under the name, clear of the amounts
    assert all(len(t) <= width - len(" 14.50") for t in name_lines[1:])
    pieces = [name_lines[0].removesuffix("14.50"), *name_lines[1:]]  # amount on the first
    assert " ".join(t.strip() for t in pieces) == f"1 x {long_name}"
    assert all(len(t) <= width for t in printout.texts)
    assert not any(t.startswith("CHANGE") for t in printout.texts)
    assert printout.find("BALANCE DUE" + "2.44".rjust(width - 11)).size == "tall"


def test_receipt_voided_line_shows_void_and_no_amount():
    printout = read(render(receipt(), zone=NEW_YORK))
    assert "VOID 1 x Fries" in printout.texts
    assert not any("4.00" in t for t in printout.texts)


def test_receipt_included_tax_and_other_currencies():
    document = receipt(
        currency="JPY",
        lines=[{"qty": 1, "name": "Ramen", "amount": 1200}],
        subtotal=1200,
        discounts=[],
        taxes=[{"label": "Consumption tax 10%", "amount": 109, "included": True}],
        total=1200,
        payments=[{"tender": "cash", "amount": 1200}],
        change=0,
    )
    printout = read(render(document, zone=ZoneInfo("Asia/Tokyo")))
    assert "Consumption tax 10% (incl.)" + "109".rjust(21) in printout.texts
    assert "TOTAL JPY" + "1200".rjust(39) in printout.texts
    assert "2026-11-24 21:03 (opened 20:41)" in printout.texts


def test_receipt_opened_on_another_day_shows_its_date():
    document = receipt(opened_at="2026-11-23T23:50:00Z", printed_at="2026-11-24T00:10:00Z")
    printout = read(render(document, zone=ZoneInfo("UTC")))
    assert "2026-11-24 00:10 (opened 2026-11-23 23:50)" in printout.texts


def test_tips_given_apart_from_payments_get_their_own_row():
    document = receipt(payments=[{"tender": "cash", "amount": 3000, "tip": 100}], tips=250)
    texts = read(render(document, zone=NEW_YORK)).texts
    assert "  Tip" + "1.00".rjust(43) in texts
    assert "Tips" + "2.50".rjust(44) in texts


def test_format_amount_follows_the_currency_exponent():
    assert format_amount(2800, "USD") == "28.00"
    assert format_amount(-280, "EUR") == "-2.80"
    assert format_amount(5, "usd") == "0.05"
    assert format_amount(1200, "JPY") == "1200"
    assert format_amount(1234, "KWD") == "1.234"
    assert format_amount(-7, "BHD") == "-0.007"
    assert label("gift_card") == "Gift card" and label("dine_in") == "Dine in"


def test_a_profile_without_native_qr_prints_the_code_as_an_image_and_cuts_when_it_can():
    data = render(receipt(), zone=NEW_YORK, profile="TM-U220B")  # no QR, partial cut only
    printout = read(data, "TM-U220B")
    assert printout.qr_codes == [] and printout.images == 1
    assert data.endswith(b"\x1dV\x01")
    simple = read(render(ticket(), zone=NEW_YORK, profile="simple"), "simple")  # no cutter
    assert not simple.cut and simple.fed_before_cut > 0


# --- Read back by the printer emulators' decoder ---------------------------------------------


def decode(data: bytes) -> Paper:
    decoder = EscPosDecoder()
    decoder.feed(data)
    assert decoder.current.items == [], "something printed after the cut"
    [paper] = decoder.papers
    assert paper.cut and paper.unknown == []
    return paper


def test_decoded_ticket_reads_exactly_accents_included():
    line = {"qty": 1, "name": "Crème brûlée", "modifiers": ["Łódź sauce", "Über-süß"]}
    document = ticket(
        ticket="void", reason="Gäste gegangen", lines=[line], station_name="Pâtisserie"
    )
    paper = decode(render(document, zone=NEW_YORK, marks=Marks(reprint=True)))
    assert paper.text == "\n".join(
        [
            " *** REPRINT ***",  # inverted, a space either side (`text` strips the right one)
            " VOID",
            "Reason: Gäste gegangen",
            "Pâtisserie",
            "A-042",
            "Dine in - Table 12 - 2 guests",
            "Voided 07:03 by Counter 1",
            "-" * 48,
            "VOID 1 x Crème brûlée",
            "  + Łódź sauce",
            "  + Über-süß",
            "-" * 48,
            f"Order {ORDER_ID}",
        ]
    )
    reprint, void, *_ = paper.lines
    assert reprint.align == "center" and reprint.double_width and reprint.double_height
    assert reprint.bold and reprint.spans[0].style.invert and void.spans[0].style.invert
    assert paper.lines[8].double_height and paper.lines[8].bold


@pytest.mark.parametrize("width", [48, 32])
def test_decoded_receipt_reads_exactly_with_its_qr_code(width):
    document = receipt(store={"name": "Café Zoë", "header": ["Rue de l'Église"], "footer": []})
    paper = decode(render(document, zone=ZoneInfo("Europe/Paris"), width=width))

    def row(left: str, right: str) -> str:
        return left + right.rjust(width - len(left))

    assert paper.text == "\n".join(
        [
            "Café Zoë",
            "Rue de l'Église",
            "",
            "Order A-042",
            "Dine in - Table 12",
            "2026-11-24 13:03 (opened 12:41)",
            "-" * width,
            row("2 x Classic Burger", "28.00"),
            "    + Add cheese (+1.50)",
            "VOID 1 x Fries",
            "-" * width,
            row("Subtotal", "28.00"),
            row("Happy hour", "-2.80"),
            row("Sales tax 8.875%", "2.24"),
            row("TOTAL USD", "27.44"),
            row("Cash", "30.00"),
            row("CHANGE", "2.56"),
            "",
            ORDER_ID,
        ]
    )
    assert paper.qr_codes == [ORDER_ID]
    [qr] = [item for item in paper.items if type(item).__name__ == "QrCode"]
    assert (qr.module_size, qr.align) == (6, "center")


# --- Errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "pointer", "words"),
    [
        (ticket(kind="menu"), "/kind", "/kind is 'menu', an unknown kind"),
        ({"ticket": "fire"}, "/kind", "/kind is missing: expected 'ticket' or 'receipt'"),
        (ticket(ticket="refire"), "/ticket", "'fire' or 'void'"),
        (ticket(number=None), "/number", "/number is missing"),
        (ticket(fired_at="yesterday"), "/fired_at", "not an ISO 8601 timestamp"),
        (ticket(fired_at="2026-11-24T12:03:07"), "/fired_at", "has no UTC offset"),
        (ticket(lines=[]), "/lines", "is empty"),
        (ticket(lines="burger"), "/lines", "must be a list, got str"),
        (ticket(lines=[{"name": "Fries"}]), "/lines/0/qty", "/lines/0/qty is missing"),
        (ticket(lines=[{"qty": "2", "name": "x"}]), "/lines/0/qty", "must be an integer"),
        (ticket(lines=[{"qty": True, "name": "x"}]), "/lines/0/qty", "must be an integer"),
        (ticket(lines=[1]), "/lines/0", "/lines/0 must be an object"),
        (ticket(lines=[{"qty": 1, "name": "x", "modifiers": [3]}]), "/lines/0/modifiers/0", "text"),
        (ticket(order_id="bad id\n"), "/order_id", "is not an order id"),
        (receipt(store=None), "/store", "/store is missing"),
        (receipt(store={"header": []}), "/store/name", "is missing"),
        (receipt(currency="dollars"), "/currency", "ISO 4217"),
        (receipt(total=27.44), "/total", "must be an integer, got float"),
        (receipt(lines=[{"qty": 1, "name": "x"}]), "/lines/0/amount", "is missing"),
        (receipt(discounts=[{"amount": 1}]), "/discounts/0/reason", "is missing"),
        (receipt(taxes=[{"label": "t", "amount": 1, "included": "no"}]), "/taxes/0/included", ""),
        (receipt(payments=[{"amount": 1}]), "/payments/0/tender", "is missing"),
    ],
)
def test_a_malformed_document_raises_layout_error_naming_the_field(document, pointer, words):
    with pytest.raises(LayoutError, match=None) as caught:
        render(document, zone=NEW_YORK)
    assert caught.value.field == pointer
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_every_required_field_is_named_when_missing():
    for document, required in (
        (ticket(), ["ticket", "order_id", "number", "channel", "fired_at", "lines"]),
        (receipt(), ["store", "order_id", "number", "channel", "printed_at", "currency"]),
        (receipt(), ["lines", "subtotal", "total"]),
    ):
        for key in required:
            broken = copy.deepcopy(document)
            del broken[key]
            with pytest.raises(LayoutError, match=f"/{key} is missing"):
                render(broken, zone=NEW_YORK)


def test_an_unknown_profile_is_refused_with_valid_names():
    with pytest.raises(LayoutError) as caught:
        render(ticket(), zone=NEW_YORK, profile="TM-T88X")
    message = str(caught.value)
    assert "'TM-T88X'" in message and "TM-T88V" in message and "TM-T20II" in message
    assert "did you mean" in message


def test_a_paper_too_narrow_or_a_document_not_an_object_is_refused():
    with pytest.raises(LayoutError, match="too narrow"):
        render(ticket(), zone=NEW_YORK, width=16)
    with pytest.raises(LayoutError, match="JSON object"):
        render(["ticket"], zone=NEW_YORK)  # type: ignore[arg-type]


# --- Any text at all ---------------------------------------------------------------------------

# emoji (also joined and flags), a lone surrogate, controls, bidi, accents, a combining mark, CJK
SPECIALS = st.sampled_from(
    "🍔 👨\u200d👩\u200d👧 🇫🇷 \ud800 \x1b \x1d \x00 \x7f \x9b \u202e é Ł € \u0301 汉".split(" ")
)
ANY_TEXT = st.lists(st.one_of(st.characters(exclude_categories=()), SPECIALS), max_size=40).map(
    "".join
)


@given(
    name=ANY_TEXT,
    note=st.one_of(st.none(), ANY_TEXT),
    modifiers=st.lists(ANY_TEXT, max_size=3),
    station=ANY_TEXT,
    by=ANY_TEXT,
    backup=st.one_of(st.none(), ANY_TEXT),
    width=st.sampled_from([24, 32, 42, 48]),
    void=st.booleans(),
)
def test_any_ticket_text_prints_nothing_but_known_commands_and_printable_bytes(
    name, note, modifiers, station, by, backup, width, void
):
    line = {"qty": 3, "name": name, "modifiers": modifiers, "note": note}
    document = ticket(
        ticket="void" if void else "fire",
        reason=name,
        lines=[line],
        station_name=station,
        fired_by=by,
        number=name,
        table=note,
    )
    data = render(document, zone=NEW_YORK, width=width, marks=Marks(backup_for=backup))
    printout = read(data)
    assert printout.cut
    assert all(line.columns <= width for line in printout.lines)
    # every line fits: the printer wraps none (ESC d adds the blank lines before the cut)
    assert len(decode(data).lines) == len(printout.lines) + printout.fed_before_cut


@given(
    name=ANY_TEXT,
    modifier=ANY_TEXT,
    store=ANY_TEXT,
    footer=ANY_TEXT,
    tender=ANY_TEXT,
    width=st.sampled_from([24, 32, 48]),
)
def test_any_receipt_text_prints_nothing_but_known_commands_and_printable_bytes(
    name, modifier, store, footer, tender, width
):
    document = receipt(
        store={"name": store, "header": [footer], "footer": [footer]},
        lines=[{"qty": 1, "name": name, "modifiers": [{"name": modifier, "price": 50}]}],
        discounts=[{"reason": name, "amount": 5}],
        taxes=[{"label": modifier, "amount": 7, "included": True}],
        payments=[{"tender": tender, "amount": 100, "tip": 10}],
    )
    document["lines"][0]["amount"] = 2800
    data = render(document, zone=NEW_YORK, width=width)
    printout = read(data)
    assert printout.qr_codes == [ORDER_ID] and printout.cut
    assert all(line.columns <= width for line in printout.lines)
    assert decode(data).qr_codes == [ORDER_ID]
