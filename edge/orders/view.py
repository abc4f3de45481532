"""The derived view of an order: lines, totals, status, payments. Pure logic.

`derive_order` reads the plain contents of one order map (as `Map.to_py()` gives them:
write-once numbers arrive as floats, entries as JSON strings) and computes everything
that is never stored. An entry that does not parse (a peer or client wrote something
malformed) is left out and named in `ignored`, the same way on every node, so replicas
still agree; so are the lines, discounts and payments one writer added past the most an
order may hold (validation.MAX_ENTRIES), counted in the order it wrote them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from edge.orders.entries import (
    DiscountView,
    PaymentView,
    TipView,
    VoidView,
    as_int,
    as_text,
    parse_discount,
    parse_event,
    parse_line,
    parse_payment,
    parse_tip,
    parse_void,
)
from edge.orders.refunds import Refunds, count_refunds, parse_refund, reversed_payments
from edge.orders.status import Event, Status, derive_status
from edge.orders.totals import DiscountRule, PricedLine, Totals, compute_totals, percent_fraction
from edge.orders.validation import MAX_ENTRIES

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
    employee: str | None
    gross: int
    net: int  # after discounts; 0 when voided
    fired: bool
    voided: bool
    void_reason: str | None


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
    server: str | None  # the employee who opened it, if one was signed in
    status: Status
    lines: tuple[LineView, ...]
    voids: tuple[VoidView, ...]
    discounts: tuple[DiscountView, ...]
    payments: tuple[PaymentView, ...]
    tips: tuple[TipView, ...]
    events: tuple[Event, ...]
    totals: Totals
    refunds: Refunds
    ignored: tuple[str, ...]
    version: str  # names the entries the order holds: another entry, another version

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
        data["totals"] = self._totals_dict()
        data["refunds"] = self.refunds.to_dict()
        data["ignored"] = list(self.ignored)
        data["history"] = self.history()
        return data

    def brief(self) -> dict:
        """The order in short (id, number, status, version, totals), for a terminal that
        asked a write to answer with less than the whole order."""
        return {
            "id": self.id,
            "number": self.number,
            "status": self.status.label,
            "version": self.version,
            "totals": self._totals_dict(),
        }

    def _totals_dict(self) -> dict:
        totals = _plain(self.totals)
        del totals["line_net"]
        totals["taxes"] = [
            {"rate": percent_text(t.rate), "included": t.included, "base": t.base, "tax": t.tax}
            for t in self.totals.taxes
        ]
        return totals


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _plain(entry: object) -> dict:
    """A dataclass instance's fields as a dict, without copying their values."""
    return {name: getattr(entry, name) for name in _field_names(type(entry))}


def percent_text(value: Fraction) -> str:
    """A rate as people write it: "10", "8.875", "0.5" (never "1E+1")."""
    return format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")


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


def _capped(
    name: str, entries: list[T], stamp: Callable[[T], tuple[str, str]], ignored: list[str]
) -> list[T]:
    """Of `entries`, in their order, each writer's first MAX_ENTRIES[name] by `stamp` (`at`,
    then key); the writer is the node or terminal that the `at` timestamp names. Those past
    it are noted in `ignored` (they stay in the document).

    Per writer, because a node admits an entry only while the order holds fewer than the
    cap: what nodes cut off from one another each admitted all counts once they meet, and
    one writer alone (a terminal writing straight into the document) cannot pass the cap.
    """
    cap = MAX_ENTRIES[name]
    if len(entries) <= cap:
        return entries
    written: dict[str, int] = {}
    past = set()
    for entry in sorted(entries, key=stamp):
        at, key = stamp(entry)
        parts = at.split("/", 2)  # wall time / counter / writer
        writer = parts[2] if len(parts) == 3 else ""
        written[writer] = written.get(writer, 0) + 1
        if written[writer] > cap:
            past.add(key)
            ignored.append(f"{name}/{key}: past the {cap} {name} {writer} may add to an order")
    return [entry for entry in entries if stamp(entry)[1] not in past]


def _version(order: dict) -> str:
    """16 hex digits naming the keys of every entry of the order (entries never change)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in ENTRY_SECTIONS:
        entries = order.get(name)
        for key in sorted(entries) if isinstance(entries, dict) else ():
            digest.update(f"{name}/{key}\0".encode())
    return digest.hexdigest()


def derive_order(order: dict) -> OrderView:
    """Everything derived about one order, from its map's plain contents."""
    ignored: list[str] = []
    void_list = _section(order, "voids", parse_void, ignored)
    voids = {v.line: v.reason for v in void_list}
    events = sorted(_section(order, "events", parse_event, ignored), key=lambda e: (e.at, e.id))
    fired_lines = {
        line_id for e in events if e.kind == "fire" for line_id in e.detail.get("lines", ())
    }
    raw_lines = _capped(
        "lines",
        _section(order, "lines", parse_line, ignored),
        lambda r: (r["at"], r["id"]),
        ignored,
    )
    discounts = _capped(
        "discounts",
        _section(order, "discounts", parse_discount, ignored),
        lambda d: (d.at, d.id),
        ignored,
    )
    payments = _capped(
        "payments",
        _section(order, "payments", parse_payment, ignored),
        lambda p: (p.at, p.key),
        ignored,
    )
    tips = _section(order, "tips", parse_tip, ignored)
    reversed_keys = reversed_payments(events, payments)
    kept = [p for p in payments if p.key not in reversed_keys]
    refunds = []
    for event in events:
        if event.kind == "refund":
            try:
                refunds.append(parse_refund(event))
            except _PARSE_ERRORS as exc:
                ignored.append(f"events/{event.id}: {exc}")

    counted = [
        PricedLine(raw["id"], raw["gross"], percent_fraction(raw["tax_rate"]), raw["tax_included"])
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
                None if d.percent is None else percent_fraction(d.percent),
            )
            for d in discounts
        ],
        [p.amount for p in kept],
        [p.tip for p in kept] + [t.amount for t in tips],
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
    fully_paid = bool(kept) and totals.balance_due == 0
    units = {raw["id"]: raw["qty"] for raw in raw_lines if raw["id"] not in voids}
    refunded = count_refunds(refunds, payments, reversed_keys, totals.change_due, units)
    return OrderView(
        id=as_text(order.get("id"), ""),
        number=as_text(order.get("number"), "?"),
        business_date=as_text(order.get("business_date"), ""),
        channel=as_text(order.get("channel"), "counter"),
        table=order.get("table") if isinstance(order.get("table"), str) else None,
        guests=_int_or_zero(order.get("guests", 0)),
        opened_at=as_text(order.get("opened_at"), ""),
        opened_by=as_text(order.get("opened_by"), ""),
        server=order.get("server") if isinstance(order.get("server"), str) else None,
        status=derive_status(events, fully_paid),
        lines=lines,
        voids=tuple(void_list),
        discounts=tuple(discounts),
        payments=tuple(sorted(payments, key=lambda p: (p.at, p.key))),
        tips=tuple(tips),
        events=tuple(events),
        totals=totals,
        refunds=refunded,
        ignored=tuple(ignored),
        version=_version(order),
    )


def _int_or_zero(value: object) -> int:
    try:
        return as_int(value)
    except ValueError:
        return 0
