"""ESC/POS layout of kitchen tickets and receipts: a document in, printer bytes out.

Pure logic: no I/O and no clock (times come from the document, the store's zone is passed
in). python-escpos's `Dummy` printer builds the bytes, so printer profiles, code-page
switching (ESC t) and QR codes follow its rules; text is first folded to what the profile's
code pages can print, one printer column per character, so wrapping and alignment hold.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from escpos.capabilities import CAPABILITIES
from PIL import Image

from drivers.escpos.encoder import Paper
from edge.printing.fields import Fields, LayoutError, label, person_name
from edge.printing.receipt import lay_out_receipt, lay_out_refund

MIN_WIDTH = 24  # columns; the narrowest common paper (58 mm) has 32


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
    logo: Image.Image | None = None,
) -> bytes:
    """The ESC/POS bytes that print `document` (kind "ticket", "receipt" or "test") and cut
    the paper.

    `width` is the paper's width in normal-size characters (48 on 80 mm, 32 on 58 mm);
    `logo`, if given, heads a receipt.
    Raises LayoutError for an unknown kind or profile, or a missing or malformed field.
    """
    if profile not in CAPABILITIES["profiles"]:
        raise LayoutError(_unknown_profile(profile))
    if width < MIN_WIDTH:
        raise LayoutError(f"paper width {width} is too narrow: give at least {MIN_WIDTH} columns")
    if not isinstance(document, dict):
        raise LayoutError(f"a print document must be a JSON object, got {type(document).__name__}")
    kind = document.get("kind")
    if kind not in LAYOUTS:
        problem = "is missing" if kind is None else f"is {kind!r}, an unknown kind"
        raise LayoutError(
            f"print document: /kind {problem}: expected one of {', '.join(map(repr, LAYOUTS))}",
            field="/kind",
        )
    paper = Paper(profile, width)
    for text in marks.texts():
        paper.headline(text, invert=True)
    if kind in CUSTOMER_COPIES and logo is not None:
        paper.image(logo)
    LAYOUTS[kind](paper, Fields(document, "", kind), zone)
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
    server = doc.optional_text("server")
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
    if server:
        paper.line(f"Server: {person_name(server)}", align="center")
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


# --- Test pages -----------------------------------------------------------------------------


def printer_test_document(printer_name: str, url: str, requested_by: str, at: str) -> dict:
    """A short page that shows a printer works (the manager UI's "Test print")."""
    return {"kind": "test", "printer": printer_name, "url": url, "by": requested_by, "at": at}


def _lay_out_test_page(paper: Paper, doc: Fields, zone: tzinfo) -> None:
    paper.line("TEST PRINT", align="center", bold=True, size="big")
    paper.line(doc.text("printer"), align="center", bold=True, size="tall")
    paper.line(doc.text("url"), align="center")
    paper.rule()
    paper.line(f"Sent {doc.when('at').astimezone(zone):%Y-%m-%d %H:%M} by {doc.text('by')}")
    paper.line("If you can read this, the printer works.")


LAYOUTS = {
    "ticket": _lay_out_ticket,
    "receipt": lay_out_receipt,
    "refund": lay_out_refund,
    "test": _lay_out_test_page,
}
"""Each kind of print document, and what lays it out."""
CUSTOMER_COPIES = ("receipt", "refund")  # headed by the store's logo
