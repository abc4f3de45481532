"""Kitchen tickets laid out as ESC/POS bytes, documents read back by the emulators' decoder,
and the layout's errors.

The bytes are read back two ways: by the emulators' decoder (drivers.escpos.decoder: what a
printer puts on paper), and by the strict reader of tests/support/print_samples.py, which knows only
the commands the layout may send and fails on anything else, a stray control byte included.
"""

from __future__ import annotations

import copy
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.escpos.decoder import EscPosDecoder, Paper
from edge.printing.fields import LayoutError
from edge.printing.layout import Marks, render
from tests.support.print_samples import NEW_YORK, ORDER_ID, Line, read, receipt, ticket

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
        (
            {"ticket": "fire"},
            "/kind",
            "/kind is missing: expected one of 'ticket', 'receipt', 'refund', 'test'",
        ),
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
