"""Identifiers of orders and their entries. Pure logic.

An order id is its business date and 12 hex digits (`20261120-0a1b2c3d4e5f`): 48 random
bits, so two nodes opening thousands of orders a day never pick the same one. Entry ids are
8 URL-safe characters (48 bits), unique within their order.

A request that carries an idempotency key gets ids derived from that key instead of random
ones, so a retry that reaches the order log again finds what its first attempt wrote, even
after a crash lost the record of the first answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import re
import secrets

from edge.runtime.errors import UnknownOrder

_ORDER_ID = re.compile(r"(\d{8})-[0-9a-f]{12}")

_entry_ids = random.Random(secrets.randbits(128))


def new_entry_id() -> str:
    """A fresh key for an immutable entry: 48 random bits, URL-safe.

    Keys only need to be unique within one order, not secret, so a generator seeded from
    the OS saves a system call per entry.
    """
    return base64.urlsafe_b64encode(_entry_ids.getrandbits(48).to_bytes(6, "big")).decode()


def _digest(request_key: str, purpose: str) -> bytes:
    return hashlib.blake2b(f"{purpose}\0{request_key}".encode(), digest_size=6).digest()


def entry_id(request_key: str | None, purpose: str) -> str:
    """The entry id for a request: derived from its key when it has one, else fresh.

    `purpose` separates the ids one request derives for different things.
    """
    if request_key is None:
        return new_entry_id()
    return base64.urlsafe_b64encode(_digest(request_key, purpose)).decode()


def order_id(day: dt.date, request_key: str | None = None) -> str:
    """The id of a new order of business day `day` (derived from the request's key if any)."""
    suffix = _digest(request_key, "order").hex() if request_key else secrets.token_hex(6)
    return f"{day:%Y%m%d}-{suffix}"


def order_day(order_id: object) -> dt.date:
    """The business date an order id names; raises UnknownOrder for anything else."""
    if not isinstance(order_id, str) or not (match := _ORDER_ID.fullmatch(order_id)):
        raise UnknownOrder(f"no order {order_id!r}: order ids look like 20261123-0a1b2c3d4e5f")
    digits = match.group(1)
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise UnknownOrder(f"no order {order_id!r}: not a date") from None


def highest_number(orders: dict, letter: str) -> int:
    """The highest order number with prefix `letter` among `orders` (plain contents)."""
    prefix = f"{letter}-"
    highest = 0
    for order in orders.values():
        number = order.get("number")
        if isinstance(number, str) and number.startswith(prefix) and number[2:].isdigit():
            highest = max(highest, int(number[2:]))
    return highest
