"""Refunds and payment reversals of an order, derived from its events. Pure logic.

A **reversal** (event kind `reversal`, naming a payment) undoes a payment taken in error
before the order closed: the payment no longer counts. A **refund** (kind `refund`) gives
money back on one tender: an amount, and optionally the units of lines it is for.

What may still be refunded on a tender is what was paid on it (not reversed), less the
change given (cash only) and the refunds counted before. Refunds are counted in the order
of their stamps (`at`, then id), the same on every node: one that no longer fits, because
another node refunded the same money or units while the two could not reach each other, is
**over-refunded**: it stays in the log, is not counted as a refund of the sale, and is shown
on the order and in the day's reports (the money did go out) for a manager to settle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge.orders.entries import PaymentView, as_int, as_text, optional_text
from edge.orders.status import Event
from edge.orders.totals import percent_fraction

CASH_TENDERS = ("cash",)


@dataclass(frozen=True, slots=True)
class RefundView:
    id: str
    tender: str
    amount: int
    items: tuple[tuple[str, int], ...]  # (line id, units) refunded
    reason: str
    reference: str | None  # the card processor's reference, for a card refund
    at: str
    by: str
    employee: str | None
    approved_by: str | None
    counted: bool  # False: over what was left to refund when the others were counted


@dataclass(frozen=True, slots=True)
class TenderBalance:
    """One tender of an order: what was paid with it and what went back."""

    tender: str
    paid: int  # payments not reversed
    change: int  # change given out of it (cash)
    refunded: int  # counted refunds
    over_refunded: int  # refunds past what it held
    refundable: int  # paid − change − refunded


@dataclass(frozen=True, slots=True)
class Refunds:
    """An order's refunds and reversals, and what each tender holds after them."""

    refunds: tuple[RefundView, ...]
    reversed: frozenset[str]  # keys of reversed payments
    tenders: tuple[TenderBalance, ...]
    refunded_units: dict[str, int]  # line id -> units refunded (counted refunds)

    @property
    def refunded(self) -> int:
        return sum(t.refunded for t in self.tenders)

    @property
    def over_refunded(self) -> int:
        return sum(t.over_refunded for t in self.tenders)

    @property
    def refundable(self) -> int:
        return sum(t.refundable for t in self.tenders)

    def tender(self, name: str) -> TenderBalance | None:
        return next((t for t in self.tenders if t.tender == name), None)

    def to_dict(self) -> dict:
        return {
            "refunded": self.refunded,
            "over_refunded": self.over_refunded,
            "refundable": self.refundable,
            "reversed_payments": sorted(self.reversed),
            "tenders": [
                {
                    "tender": t.tender,
                    "paid": t.paid,
                    "change": t.change,
                    "refunded": t.refunded,
                    "over_refunded": t.over_refunded,
                    "refundable": t.refundable,
                }
                for t in self.tenders
            ],
            "refunds": [
                {
                    "id": r.id,
                    "tender": r.tender,
                    "amount": r.amount,
                    "items": [{"line": line, "qty": qty} for line, qty in r.items],
                    "reason": r.reason,
                    "reference": r.reference,
                    "at": r.at,
                    "by": r.by,
                    "employee": r.employee,
                    "approved_by": r.approved_by,
                    "counted": r.counted,
                }
                for r in self.refunds
            ],
        }


def reversed_payments(events: Iterable[Event], payments: Sequence[PaymentView]) -> frozenset[str]:
    """Keys of the payments a `reversal` event undoes (a reversal of no payment does nothing)."""
    keys = {p.key for p in payments}
    return frozenset(
        e.detail.get("payment")
        for e in events
        if e.kind == "reversal" and e.detail.get("payment") in keys
    )


def parse_refund(event: Event) -> RefundView:
    """A refund event's fields (ValueError, KeyError, … when it does not have their shape)."""
    detail = event.detail
    amount = as_int(detail["amount"])
    if amount <= 0:
        raise ValueError("refund amount must be positive")
    items = []
    for item in detail.get("items") or ():
        qty = as_int(item["qty"])
        if qty <= 0:
            raise ValueError("refunded units must be positive")
        items.append((as_text(item["line"]), qty))
    reference = detail.get("reference")
    return RefundView(
        id=event.id,
        tender=as_text(detail["tender"]),
        amount=amount,
        items=tuple(items),
        reason=as_text(detail.get("reason"), ""),
        reference=reference if isinstance(reference, str) else None,
        at=event.at,
        by=event.by,
        employee=optional_text(detail.get("employee")),
        approved_by=optional_text(detail.get("approved_by")),
        counted=False,
    )


def count_refunds(
    refunds: Sequence[RefundView],
    payments: Sequence[PaymentView],
    reversed_keys: frozenset[str],
    change_due: int,
    units: dict[str, int],
) -> Refunds:
    """Count `refunds` oldest first against what each tender holds and each line's units
    (`units`: line id -> quantity, of the lines that count, i.e. not voided)."""
    paid: dict[str, int] = {}
    for payment in payments:
        if payment.key not in reversed_keys:
            paid[payment.tender] = paid.get(payment.tender, 0) + payment.amount
    change = dict.fromkeys(paid, 0)
    cash = next((t for t in CASH_TENDERS if paid.get(t, 0) > 0), None)
    if cash is not None:
        change[cash] = min(change_due, paid[cash])
    left = {tender: paid[tender] - change[tender] for tender in paid}
    refunded = dict.fromkeys(paid, 0)
    over: dict[str, int] = {}
    refunded_units: dict[str, int] = {}
    counted = []
    for refund in sorted(refunds, key=lambda r: (r.at, r.id)):
        fits = refund.amount <= left.get(refund.tender, 0) and all(
            qty <= units.get(line, 0) - refunded_units.get(line, 0) for line, qty in refund.items
        )
        if fits:
            left[refund.tender] -= refund.amount
            refunded[refund.tender] += refund.amount
            for line, qty in refund.items:
                refunded_units[line] = refunded_units.get(line, 0) + qty
        else:
            over[refund.tender] = over.get(refund.tender, 0) + refund.amount
        counted.append(_with_counted(refund, fits))
    tenders = tuple(
        TenderBalance(
            tender=tender,
            paid=paid.get(tender, 0),
            change=change.get(tender, 0),
            refunded=refunded.get(tender, 0),
            over_refunded=over.get(tender, 0),
            refundable=left.get(tender, 0),
        )
        for tender in sorted(set(paid) | set(over))
    )
    return Refunds(tuple(counted), reversed_keys, tenders, refunded_units)


def _with_counted(refund: RefundView, counted: bool) -> RefundView:
    if counted == refund.counted:
        return refund
    fields = {name: getattr(refund, name) for name in RefundView.__slots__}
    return RefundView(**{**fields, "counted": counted})


def units_value(lines: Sequence, before: dict[str, int], after: dict[str, int]) -> int:
    """What the units refunded going from `before` to `after` (line id -> units refunded)
    come to, tax included: the order's total with `before` refunded less its total with
    `after` refunded. Each line's amount after discounts is taken pro rata to its units left
    (rounded half up) and tax is computed per (rate, included) group as for the order, so
    refunding every unit, in any steps, comes to exactly the order's total."""
    return _total_left(lines, before) - _total_left(lines, after)


def _total_left(lines: Sequence, refunded: dict[str, int]) -> int:
    groups: dict[tuple[int, int, bool], int] = {}
    net_left = 0
    for line in lines:
        if line.voided:
            continue
        gone = refunded.get(line.id, 0)
        left = line.net - (2 * line.net * gone + line.qty) // (2 * line.qty)
        net_left += left
        rate = percent_fraction(line.tax_rate)
        key = (rate.numerator, rate.denominator, line.tax_included)
        groups[key] = groups.get(key, 0) + left
    added = sum(
        (2 * base * num + 100 * den) // (200 * den)
        for (num, den, included), base in groups.items()
        if not included
    )
    return net_left + added
