"""Checks of the values given to order operations. Pure logic.

Each returns the value it accepts, or raises InvalidInput naming the field as a JSON pointer
and saying what is wrong, so a terminal can show it next to the field.
"""

from __future__ import annotations

import re
from decimal import Decimal

from edge.runtime.errors import InvalidInput

MAX_QTY = 999
MAX_AMOUNT = 10_000_000_00  # ten million in major units: far above any single sale
MAX_TEXT = 200
MAX_ENTRIES = {"lines": 500, "discounts": 50, "payments": 50}
"""The most entries of each kind one order holds: far above any real table or split check,
low enough that deriving, sending and keeping an order stays cheap (docs/orders.md)."""
KEY_FORMAT = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PERCENT_FORMAT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")


def require_int(value: object, field: str, low: int, high: int) -> int:
    """An integer (not a bool, not a float, however round) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be an integer, not {value!r}")
    if not low <= value <= high:
        raise InvalidInput(field, f"must be between {low} and {high}, not {value}")
    return value


def require_text(value: object, field: str, *, optional: bool = False) -> str | None:
    """A non-empty string of at most MAX_TEXT characters (or None, if optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"must be at most {MAX_TEXT} characters")
    return value


def require_key(value: object, field: str) -> str:
    """An idempotency key or tender code: 1-64 characters of [A-Za-z0-9._:-]."""
    if not isinstance(value, str) or not KEY_FORMAT.fullmatch(value):
        raise InvalidInput(field, "must be 1-64 characters of letters, digits and . _ : -")
    return value


def parse_percent(text: object) -> Decimal:
    """A percent written as plain decimal text ("8.875", "10"); ValueError otherwise.

    Exponents are refused: exact arithmetic on "1e-999999999" would never finish, and a
    percent reaches derived totals from terminals, peers and catalogs alike.
    """
    if not isinstance(text, str) or not PERCENT_FORMAT.fullmatch(text):
        raise ValueError(f'not a percent written like "8.875" or "10": {text!r}')
    return Decimal(text)


def require_percent(value: object, field: str) -> str:
    """A percent in (0, 100] given as a decimal string or an integer; its canonical text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(field, f'must be a decimal string such as "10" or "12.5", not {value!r}')
    try:
        percent = parse_percent(str(value))
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None
    if not 0 < percent <= 100:
        raise InvalidInput(field, "must be more than 0 and at most 100")
    return str(percent)
