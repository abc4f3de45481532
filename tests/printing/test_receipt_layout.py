"""Receipts laid out as ESC/POS bytes, read back by the strict reader of print_samples."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from edge.printing.fields import label
from edge.printing.layout import render
from edge.printing.receipt import format_amount
from tests.support.print_samples import NEW_YORK, ORDER_ID, Line, read, receipt, ticket

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
