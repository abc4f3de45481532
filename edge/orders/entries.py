"""An order's entries as written, one parsed at a time. Pure logic.

Each `parse_*` takes an entry's key and its decoded JSON object and returns what the view
shows of it, or raises (ValueError, KeyError, …) when the entry does not have its kind's
shape: a peer or a terminal writing straight into the document may write anything, and
the view leaves such an entry out, the same way on every node (see view.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.orders.status import Event
from edge.orders.validation import parse_percent


@dataclass(frozen=True, slots=True)
class VoidView:
    line: str
    reason: str
    at: str
    by: str
    employee: str | None
    approved_by: str | None


@dataclass(frozen=True, slots=True)
class DiscountView:
    id: str
    line: str | None
    amount: int | None
    percent: str | None
    reason: str
    at: str
    by: str
    employee: str | None
    approved_by: str | None


@dataclass(frozen=True, slots=True)
class PaymentView:
    key: str
    tender: str
    amount: int
    tip: int
    reference: str | None
    at: str
    by: str
    employee: str | None


@dataclass(frozen=True, slots=True)
class TipView:
    key: str
    payment: str | None
    amount: int
    at: str
    by: str
    employee: str | None


def as_int(value: object) -> int:
    """An integer stored in a Yjs doc (which returns floats); ValueError if not integral."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"not an integer: {value!r}")
    return int(value)


def as_text(value: object, default: str | None = None) -> str:
    """A string as stored (`default` when it is absent); ValueError for anything else."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


def optional_text(value: object) -> str | None:
    """An optional text field (who signed in, who approved): None unless it is a string."""
    return value if isinstance(value, str) else None


def parse_void(key: str, entry: dict) -> VoidView:
    """A void, keyed by the line it voids."""
    return VoidView(
        line=key,
        reason=as_text(entry.get("reason"), ""),
        at=as_text(entry.get("at"), ""),
        by=as_text(entry.get("by"), ""),
        employee=optional_text(entry.get("employee")),
        approved_by=optional_text(entry.get("approved_by")),
    )


def parse_event(key: str, entry: dict) -> Event:
    """An event: its kind, when, by whom, its epoch, and the fields of its kind."""
    detail = {k: v for k, v in entry.items() if k not in ("kind", "at", "by", "epoch")}
    if "lines" in detail:
        detail["lines"] = [str(x) for x in detail["lines"]]
    if "stations" in detail:
        detail["stations"] = [str(x) for x in detail["stations"]]
    return Event(
        id=key,
        kind=as_text(entry["kind"]),
        at=as_text(entry["at"]),
        by=as_text(entry.get("by"), ""),
        epoch=as_int(entry.get("epoch", 0)),
        detail=detail,
    )


def parse_line(key: str, entry: dict) -> dict:
    """A line's fields as written, with its gross amount (the view adds what is derived)."""
    qty = as_int(entry["qty"])
    unit_price = as_int(entry["unit_price"])
    modifiers = tuple(_modifier(m) for m in entry.get("modifiers") or ())
    if qty <= 0 or unit_price < 0 or any(m["price"] < 0 or m["qty"] <= 0 for m in modifiers):
        raise ValueError("negative quantity or price")
    tax_rate = as_text(entry["tax_rate"])
    parse_percent(tax_rate)
    station = entry.get("station")
    return {
        "id": key,
        "sku": as_text(entry["sku"]),
        "name": as_text(entry["name"]),
        "qty": qty,
        "unit_price": unit_price,
        "modifiers": modifiers,
        "note": as_text(entry.get("note"), ""),
        "tax_rate": tax_rate,
        "tax_included": bool(entry.get("tax_included", False)),
        "station": station if isinstance(station, str) else None,
        "at": as_text(entry["at"]),
        "by": as_text(entry.get("by"), ""),
        "employee": optional_text(entry.get("employee")),
        "gross": qty * (unit_price + sum(m["price"] * m["qty"] for m in modifiers)),
    }


def _modifier(entry: dict) -> dict:
    """A line's modifier: {code, name, price, qty}; `qty` (how many of it on each unit of
    the line, where its group allows more than one) is 1 unless written."""
    return {
        "code": as_text(entry["code"]),
        "name": as_text(entry["name"]),
        "price": as_int(entry["price"]),
        "qty": as_int(entry.get("qty", 1)),
    }


def parse_discount(key: str, entry: dict) -> DiscountView:
    """A discount: an amount or a percent, never both, of a line or the whole order."""
    amount = entry.get("amount")
    percent = entry.get("percent")
    if (amount is None) == (percent is None):
        raise ValueError("a discount has either an amount or a percent")
    if percent is not None:
        if not 0 < parse_percent(percent) <= 100:
            raise ValueError(f"percent out of range: {percent}")
    if amount is not None and as_int(amount) <= 0:
        raise ValueError("discount amount must be positive")
    line = entry.get("line")
    return DiscountView(
        id=key,
        line=line if isinstance(line, str) else None,
        amount=None if amount is None else as_int(amount),
        percent=percent,
        reason=as_text(entry.get("reason"), ""),
        at=as_text(entry["at"]),
        by=as_text(entry.get("by"), ""),
        employee=optional_text(entry.get("employee")),
        approved_by=optional_text(entry.get("approved_by")),
    )


def parse_payment(key: str, entry: dict) -> PaymentView:
    """A payment, keyed by its idempotency key."""
    amount = as_int(entry["amount"])
    tip = as_int(entry.get("tip", 0))
    if amount <= 0 or tip < 0:
        raise ValueError("payment amount must be positive and tip not negative")
    reference = entry.get("reference")
    return PaymentView(
        key=key,
        tender=as_text(entry["tender"]),
        amount=amount,
        tip=tip,
        reference=reference if isinstance(reference, str) else None,
        at=as_text(entry["at"]),
        by=as_text(entry.get("by"), ""),
        employee=optional_text(entry.get("employee")),
    )


def parse_tip(key: str, entry: dict) -> TipView:
    """A tip, keyed by its idempotency key."""
    amount = as_int(entry["amount"])
    if amount < 0:
        raise ValueError("tip cannot be negative")
    payment = entry.get("payment")
    return TipView(
        key=key,
        payment=payment if isinstance(payment, str) else None,
        amount=amount,
        at=as_text(entry["at"]),
        by=as_text(entry.get("by"), ""),
        employee=optional_text(entry.get("employee")),
    )
