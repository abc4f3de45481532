"""The derived view of an order: lines, totals, status, payments. Pure logic.

`derive_order` reads the plain contents of one order map (as `Map.to_py()` gives them:
write-once numbers arrive as floats, entries as JSON strings) and computes everything
that is never stored. An entry that does not parse (a peer or client wrote something
malformed) is left out and named in `ignored`, the same way on every node, so replicas
still agree.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from edge.orders.status import Event, Status, derive_status
from edge.orders.totals import DiscountRule, PricedLine, Totals, compute_totals
from edge.orders.validation import parse_percent

T = TypeVar("T")

ENTRY_SECTIONS = ("lines", "voids", "discounts", "payments", "tips", "events")
"""The maps of immutable entries every order holds, created with it."""


@dataclass(frozen=True, slots=True)
class LineView:
    id: str
    sku: str
    name: str
    qty: int
    unit_price: int
    modifiers: tuple[dict, ...]  # {code, name, price}
    note: str
    tax_rate: str
    tax_included: bool
    station: str | None
    at: str
    by: str
    gross: int
    net: int  # after discounts; 0 when voided
    fired: bool
    voided: bool
    void_reason: str | None


@dataclass(frozen=True, slots=True)
class VoidView:
    line: str
    reason: str
    at: str
    by: str


@dataclass(frozen=True, slots=True)
class DiscountView:
    id: str
    line: str | None
    amount: int | None
    percent: str | None
    reason: str
    at: str
    by: str


@dataclass(frozen=True, slots=True)
class PaymentView:
    key: str
    tender: str
    amount: int
    tip: int
    reference: str | None
    at: str
    by: str


@dataclass(frozen=True, slots=True)
class TipView:
    key: str
    payment: str | None
    amount: int
    at: str
    by: str


@dataclass(frozen=True, slots=True)
class OrderView:
    id: str
    number: str
    business_date: str
    channel: str
    table: str | None
    guests: int
    opened_at: str
    opened_by: str
    status: Status
    lines: tuple[LineView, ...]
    voids: tuple[VoidView, ...]
    discounts: tuple[DiscountView, ...]
    payments: tuple[PaymentView, ...]
    tips: tuple[TipView, ...]
    events: tuple[Event, ...]
    totals: Totals
    ignored: tuple[str, ...]

    def line(self, line_id: str) -> LineView | None:
        return next((line for line in self.lines if line.id == line_id), None)

    def history(self) -> list[dict]:
        """Everything that happened to the order, oldest first: when, who, what."""
        steps = [{"at": self.opened_at, "by": self.opened_by, "what": "open"}]
        steps += [
            {"at": ln.at, "by": ln.by, "what": "line", "line": ln.id, "sku": ln.sku, "qty": ln.qty}
            for ln in self.lines
        ]
        steps += [
            {"at": v.at, "by": v.by, "what": "void_line", "line": v.line, "reason": v.reason}
            for v in self.voids
        ]
        steps += [
            {"at": d.at, "by": d.by, "what": "discount", "discount": d.id, "reason": d.reason}
            for d in self.discounts
        ]
        steps += [
            {
                "at": p.at,
                "by": p.by,
                "what": "payment",
                "payment": p.key,
                "tender": p.tender,
                "amount": p.amount,
                "tip": p.tip,
            }
            for p in self.payments
        ]
        steps += [
            {"at": t.at, "by": t.by, "what": "tip", "tip": t.key, "amount": t.amount}
            for t in self.tips
        ]
        steps += [
            {"at": e.at, "by": e.by, "what": e.kind, "event": e.id, **e.detail} for e in self.events
        ]
        return sorted(steps, key=lambda step: step["at"])

    def to_dict(self) -> dict:
        """JSON-ready form: amounts as integers, status as its label, and the history.

        Built field by field: `dataclasses.asdict` deep-copies and took 265 µs for an order
        of five lines, more than the rest of an API request.
        """
        data = _plain(self)
        data["status"] = self.status.label
        for section in ("lines", "voids", "discounts", "payments", "tips"):
            data[section] = [_plain(entry) for entry in data[section]]
        data["events"] = [{**_plain(e), "detail": dict(e.detail)} for e in self.events]
        totals = _plain(self.totals)
        del totals["line_net"]
        totals["taxes"] = [
            {"rate": percent_text(t.rate), "included": t.included, "base": t.base, "tax": t.tax}
            for t in self.totals.taxes
        ]
        data["totals"] = totals
        data["ignored"] = list(self.ignored)
        data["history"] = self.history()
        return data


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _plain(entry: object) -> dict:
    """A dataclass instance's fields as a dict, without copying their values."""
    return {name: getattr(entry, name) for name in _field_names(type(entry))}


def percent_text(value: Fraction) -> str:
    """A rate as people write it: "10", "8.875", "0.5" (never "1E+1")."""
    return format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")


def as_int(value: object) -> int:
    """An integer stored in a Yjs doc (which returns floats); ValueError if not integral."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"not an integer: {value!r}")
    return int(value)


def _text(value: object, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value


def decode_entry(value: object) -> dict:
    """An entry as stored: a JSON object in a string (or, from a JS client, an object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except RecursionError:  # a peer's or terminal's entry nested ~1,000 levels deep
            raise ValueError("an entry nested too deeply to read") from None
    if not isinstance(value, dict):
        raise ValueError(f"an entry must be a JSON object, not {type(value).__name__}")
    return value


_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


@functools.lru_cache(maxsize=8192)
def _parse_text(build: Callable[[str, dict], T], key: str, text: str) -> T | str:
    """An entry parsed once (entries never change, and every operation derives its order
    again); the reason, as a string, when it does not parse."""
    try:
        return build(key, decode_entry(text))
    except _PARSE_ERRORS as exc:
        return str(exc)


def _section(
    order: dict, name: str, build: Callable[[str, dict], T], ignored: list[str]
) -> list[T]:
    """Every entry of one of the order's maps that parses; the others are noted in `ignored`."""
    entries = order.get(name)
    parsed = []
    for key, value in sorted(entries.items()) if isinstance(entries, dict) else ():
        if isinstance(value, str):
            result = _parse_text(build, key, value)
        else:
            try:
                result = build(key, decode_entry(value))
            except _PARSE_ERRORS as exc:
                result = str(exc)
        if isinstance(result, str):
            ignored.append(f"{name}/{key}: {result}")
        else:
            parsed.append(result)
    return parsed


def _void(key: str, entry: dict) -> VoidView:
    return VoidView(
        line=key,
        reason=_text(entry.get("reason"), ""),
        at=_text(entry.get("at"), ""),
        by=_text(entry.get("by"), ""),
    )


def derive_order(order: dict) -> OrderView:
    """Everything derived about one order, from its map's plain contents."""
    ignored: list[str] = []
    void_list = _section(order, "voids", _void, ignored)
    voids = {v.line: v.reason for v in void_list}
    events = sorted(_section(order, "events", _event, ignored), key=lambda e: (e.at, e.id))
    fired_lines = {
        line_id for e in events if e.kind == "fire" for line_id in e.detail.get("lines", ())
    }
    raw_lines = _section(order, "lines", _line, ignored)
    discounts = _section(order, "discounts", _discount, ignored)
    payments = _section(order, "payments", _payment, ignored)
    tips = _section(order, "tips", _tip, ignored)

    counted = [
        PricedLine(raw["id"], raw["gross"], _fraction(raw["tax_rate"]), raw["tax_included"])
        for raw in raw_lines
        if raw["id"] not in voids
    ]
    totals = compute_totals(
        counted,
        [
            DiscountRule(
                d.id,
                d.line,
                d.amount,
                None if d.percent is None else _fraction(d.percent),
            )
            for d in discounts
        ],
        [p.amount for p in payments],
        [p.tip for p in payments] + [t.amount for t in tips],
    )
    lines = tuple(
        LineView(
            **raw,
            net=totals.line_net.get(raw["id"], 0),
            fired=raw["id"] in fired_lines,
            voided=raw["id"] in voids,
            void_reason=voids.get(raw["id"]),
        )
        for raw in sorted(raw_lines, key=lambda r: (r["at"], r["id"]))
    )
    fully_paid = bool(payments) and totals.balance_due == 0
    return OrderView(
        id=_text(order.get("id"), ""),
        number=_text(order.get("number"), "?"),
        business_date=_text(order.get("business_date"), ""),
        channel=_text(order.get("channel"), "counter"),
        table=order.get("table") if isinstance(order.get("table"), str) else None,
        guests=_int_or_zero(order.get("guests", 0)),
        opened_at=_text(order.get("opened_at"), ""),
        opened_by=_text(order.get("opened_by"), ""),
        status=derive_status(events, fully_paid),
        lines=lines,
        voids=tuple(void_list),
        discounts=tuple(discounts),
        payments=tuple(sorted(payments, key=lambda p: (p.at, p.key))),
        tips=tuple(tips),
        events=tuple(events),
        totals=totals,
        ignored=tuple(ignored),
    )


@functools.lru_cache(maxsize=256)
def _fraction(text: str) -> Fraction:
    """A decimal percent such as "8.875" as an exact Fraction (rates and percents recur)."""
    return Fraction(Decimal(text))


def _int_or_zero(value: object) -> int:
    try:
        return as_int(value)
    except ValueError:
        return 0


def _event(key: str, entry: dict) -> Event:
    detail = {k: v for k, v in entry.items() if k not in ("kind", "at", "by", "epoch")}
    if "lines" in detail:
        detail["lines"] = [str(x) for x in detail["lines"]]
    if "stations" in detail:
        detail["stations"] = [str(x) for x in detail["stations"]]
    return Event(
        id=key,
        kind=_text(entry["kind"]),
        at=_text(entry["at"]),
        by=_text(entry.get("by"), ""),
        epoch=as_int(entry.get("epoch", 0)),
        detail=detail,
    )


def _line(key: str, entry: dict) -> dict:
    qty = as_int(entry["qty"])
    unit_price = as_int(entry["unit_price"])
    modifiers = tuple(
        {"code": _text(m["code"]), "name": _text(m["name"]), "price": as_int(m["price"])}
        for m in entry.get("modifiers") or ()
    )
    if qty <= 0 or unit_price < 0 or any(m["price"] < 0 for m in modifiers):
        raise ValueError("negative quantity or price")
    tax_rate = _text(entry["tax_rate"])
    parse_percent(tax_rate)
    station = entry.get("station")
    return {
        "id": key,
        "sku": _text(entry["sku"]),
        "name": _text(entry["name"]),
        "qty": qty,
        "unit_price": unit_price,
        "modifiers": modifiers,
        "note": _text(entry.get("note"), ""),
        "tax_rate": tax_rate,
        "tax_included": bool(entry.get("tax_included", False)),
        "station": station if isinstance(station, str) else None,
        "at": _text(entry["at"]),
        "by": _text(entry.get("by"), ""),
        "gross": qty * (unit_price + sum(m["price"] for m in modifiers)),
    }


def _discount(key: str, entry: dict) -> DiscountView:
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
        reason=_text(entry.get("reason"), ""),
        at=_text(entry["at"]),
        by=_text(entry.get("by"), ""),
    )


def _payment(key: str, entry: dict) -> PaymentView:
    amount = as_int(entry["amount"])
    tip = as_int(entry.get("tip", 0))
    if amount <= 0 or tip < 0:
        raise ValueError("payment amount must be positive and tip not negative")
    reference = entry.get("reference")
    return PaymentView(
        key=key,
        tender=_text(entry["tender"]),
        amount=amount,
        tip=tip,
        reference=reference if isinstance(reference, str) else None,
        at=_text(entry["at"]),
        by=_text(entry.get("by"), ""),
    )


def _tip(key: str, entry: dict) -> TipView:
    amount = as_int(entry["amount"])
    if amount < 0:
        raise ValueError("tip cannot be negative")
    payment = entry.get("payment")
    return TipView(
        key=key,
        payment=payment if isinstance(payment, str) else None,
        amount=amount,
        at=_text(entry["at"]),
        by=_text(entry.get("by"), ""),
    )
