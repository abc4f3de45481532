"""Sample print documents, and a strict reader of the ESC/POS bytes laid out for them: it
knows only the commands the layout may send and fails on anything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from escpos.capabilities import CAPABILITIES

from drivers.escpos.commands import CODE_PAGES

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
