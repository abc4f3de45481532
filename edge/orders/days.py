"""What a business day's orders tell a node starting on it: the latest time its clock must
pass, and the next order number it may give out. Pure: plain contents in, values out."""

from __future__ import annotations

import re

from edge.orders.ids import highest_number
from edge.orders.view import ENTRY_SECTIONS

_HLC_TEXT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/\d{4}/[^/\"]+"
_HLC = re.compile(_HLC_TEXT)
_ENTRY_AT = re.compile(f'"at":"({_HLC_TEXT})"')


def latest_timestamp(orders: dict) -> str | None:
    """The latest well-formed HLC timestamp among `orders` (HLC text sorts in time order)."""
    stamps = [stamp for order in orders.values() for stamp in _timestamps(order)]
    return max(stamps) if stamps else None


def next_number(orders: dict, letter: str) -> int:
    """The next order number this node (`letter`) may give out on the day of `orders`."""
    return highest_number(orders, letter) + 1


def _timestamps(order: dict) -> list[str]:
    """Every well-formed HLC timestamp in an order (found in entries' JSON text directly:
    decoding tens of thousands of entries at start-up would cost far more)."""
    stamps = [order.get("opened_at")]
    for section in ENTRY_SECTIONS:
        for value in (order.get(section) or {}).values():
            found = _ENTRY_AT.search(value) if isinstance(value, str) else None
            stamps.append(found.group(1) if found else None)
    return [s for s in stamps if isinstance(s, str) and _HLC.fullmatch(s)]
