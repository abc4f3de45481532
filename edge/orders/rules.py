"""The order rules: what each operation may do to an order, judged on its derived view.

Pure: no documents, no clock. Each function checks an operation against the order's view
(and the catalog, for lines) and raises the OrderError a cashier can act on, or says what
to write; the order book runs it inside the operation's transaction.

One rule for repeated transitions: asking for one the order (or ticket) has already made —
closing a closed order, voiding a void one or a void line, reopening an order reopened and
not closed since, rushing a rushed one, bumping a bumped ticket, recalling a recalled bump —
writes nothing and is answered with the order as it is; asking for one it cannot make from
where it is (closing a void order, reopening one that was never closed) is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from edge.orders.catalog import Catalog
from edge.orders.menu_rules import (
    NOTHING_UNAVAILABLE,
    Unavailable,
    check_available,
    chosen_modifiers,
    line_price,
)
from edge.orders.refunds import CASH_TENDERS, units_value
from edge.orders.status import Status, current_epoch, live_bumps
from edge.orders.validation import (
    MAX_AMOUNT,
    MAX_ENTRIES,
    require_int,
    require_percent,
    require_text,
)
from edge.orders.view import LineView, OrderView
from edge.runtime.errors import (
    BalanceDue,
    IdempotencyConflict,
    InvalidInput,
    NothingToFire,
    OrderFull,
    OrderNotEditable,
    PaymentRejected,
    RefundRejected,
    UnknownItem,
    UnknownLine,
)

CHANNELS = ("counter", "dine_in", "takeaway", "delivery", "drive_thru", "kiosk", "online")


def editable(view: OrderView, doing: str) -> None:
    """Refuse `doing` on an order that is closed or void."""
    if view.status >= Status.CLOSED:
        raise OrderNotEditable(f"order {view.number} is {view.status.label}; cannot {doing}")


def room_for(view: OrderView, section: str) -> None:
    """Refuse a new entry of `section` (lines, discounts, payments) on an order that holds
    the most it may (MAX_ENTRIES; voided lines count, as the order still shows them)."""
    cap = MAX_ENTRIES[section]
    if len(getattr(view, section)) >= cap:
        raise OrderFull(
            f"order {view.number} holds {cap} {section}, the most an order may hold; "
            "open another order for the rest",
            field="",
        )


def line_entry(
    catalog: Catalog,
    sku: object,
    qty: int,
    modifiers: object,
    note: str | None,
    *,
    price: object = None,
    unavailable: Unavailable = NOTHING_UNAVAILABLE,
) -> dict[str, Any]:
    """A new line's entry (without who and when), copied from the catalog as it is now:
    refused for an item or modifier that is unknown or unavailable, modifiers that break
    the item's groups (menu_rules.py), or a price the item does not take."""
    item = catalog.items.get(sku) if isinstance(sku, str) else None
    if item is None:
        raise UnknownItem(f"no item {sku!r} in the catalog", field="/sku")
    check_available(item, unavailable)
    unit_price = line_price(item, price)
    return {
        "sku": item.sku,
        "name": item.name,
        "qty": qty,
        "unit_price": unit_price,
        "modifiers": chosen_modifiers(catalog, item, modifiers, unavailable),
        "note": note or "",
        "tax_rate": catalog.taxes[item.tax].rate,
        "tax_included": catalog.prices_include_tax,
        "station": item.station,
    }


def line_to_void(view: OrderView, line_id: str) -> LineView | None:
    """The line to void, or None when it is void already (voiding twice is one void)."""
    editable(view, "void lines")
    line = view.line(line_id)
    if line is None:
        raise UnknownLine(f"order {view.number} has no line {line_id!r}")
    return None if line.voided else line


def discount_entry(
    reason: object, amount: int | None, percent: str | None, line_id: str | None
) -> dict[str, Any]:
    """A discount's entry (without who and when): an amount or a percent, never both."""
    if amount is None and percent is None:
        raise InvalidInput("/amount", "give an amount or a percent")
    if amount is not None and percent is not None:
        raise InvalidInput("/amount", "give either an amount or a percent, not both")
    entry: dict[str, Any] = {"reason": require_text(reason, "/reason"), "line": line_id}
    if amount is not None:
        entry["amount"] = require_int(amount, "/amount", 1, MAX_AMOUNT)
    else:
        entry["percent"] = require_percent(percent, "/percent")
    return entry


def check_discount(view: OrderView, line_id: str | None) -> None:
    """Refuse a discount on a closed or full order, or on a line it does not have (or voided)."""
    editable(view, "add discounts")
    room_for(view, "discounts")
    if line_id is not None:
        line = view.line(line_id)
        if line is None or line.voided:
            raise UnknownLine(
                f"order {view.number} has no line {line_id!r} to discount", field="/line_id"
            )


def payment_is_new(view: OrderView, key: str, tender: str, amount: int, tip: int) -> bool:
    """Whether to record this payment: False for the same payment retried; refused when its
    key was used otherwise, the order is closed or full, it owes nothing, or a non-cash
    tender exceeds the balance."""
    existing = next((p for p in view.payments if p.key == key), None)
    if existing is not None:
        if (existing.tender, existing.amount, existing.tip) != (tender, amount, tip):
            raise IdempotencyConflict(
                f"payment key {key!r} was used for {existing.amount} by "
                f"{existing.tender}; use a new key for a new payment"
            )
        return False
    editable(view, "take payments")
    room_for(view, "payments")
    if view.totals.balance_due == 0:
        raise PaymentRejected(
            f"order {view.number} owes nothing; a {tender} payment of {amount} pays nothing",
            field="/amount",
        )
    if tender not in CASH_TENDERS and amount > view.totals.balance_due:
        raise PaymentRejected(
            f"{tender} payment of {amount} exceeds the balance due of {view.totals.balance_due}",
            field="/amount",
        )
    return True


def tip_is_new(view: OrderView, key: str, amount: int, payment_key: str | None) -> bool:
    """Whether to record this tip: False for the same tip retried. Tips are allowed on
    closed orders (they are often entered after closing), not on void ones."""
    existing = next((t for t in view.tips if t.key == key), None)
    if existing is not None:
        if existing.amount != amount:
            raise IdempotencyConflict(f"tip key {key!r} was used for {existing.amount}")
        return False
    if view.status == Status.VOID:
        raise OrderNotEditable(f"order {view.number} is void; cannot add a tip")
    if payment_key is not None and all(p.key != payment_key for p in view.payments):
        raise InvalidInput("/payment_key", f"order {view.number} has no payment {payment_key!r}")
    return True


def lines_to_fire(view: OrderView) -> list[LineView]:
    """The lines not yet sent to the kitchen (refused when there are none)."""
    editable(view, "fire")
    new_lines = [line for line in view.lines if not line.fired and not line.voided]
    if not new_lines:
        raise NothingToFire(f"order {view.number} has nothing new to send to the kitchen")
    return new_lines


def bump_is_new(view: OrderView, fire_id: str, station: str) -> bool:
    """Whether to record a bump: False when the ticket is bumped already; refused for a
    ticket (a fire at a station) the order does not have."""
    fire = next((e for e in view.events if e.id == fire_id and e.kind == "fire"), None)
    if fire is None or station not in fire.detail.get("stations", ()):
        raise InvalidInput("/fire_id", f"order {view.number} has no ticket {fire_id}@{station}")
    return (fire_id, station) not in live_bumps(view.events)


def recall_is_new(view: OrderView, bump_id: str) -> bool:
    """Whether to record a recall: False when the bump is recalled already; refused for a
    bump the order does not have."""
    if not any(e.id == bump_id and e.kind == "bump" for e in view.events):
        raise InvalidInput("/bump_id", f"order {view.number} has no bump {bump_id}")
    return not any(e.kind == "recall" and e.detail.get("bump") == bump_id for e in view.events)


def is_rushed(view: OrderView) -> bool:
    """Whether the order is rushed in its current epoch (rushing it twice is one rush)."""
    epoch = current_epoch(view.events)
    return any(e.kind == "rush" and e.epoch == epoch for e in view.events)


def close_is_new(view: OrderView) -> bool:
    """Whether to record a close: False when the order is closed already; refused when it
    is void or still owes money."""
    if view.status == Status.CLOSED:
        return False
    editable(view, "close it")
    if view.totals.balance_due > 0:
        raise BalanceDue(f"order {view.number} still owes {view.totals.balance_due}")
    return True


def order_is_voidable(view: OrderView) -> bool:
    """Whether to record a void: False when it is void already; refused while the order
    keeps money (payments not reversed or refunded, less the change given)."""
    if view.status == Status.VOID:
        return False
    editable(view, "void it")
    if view.refunds.refundable > 0:
        raise OrderNotEditable(
            f"order {view.number} keeps {view.refunds.refundable} of its payments; "
            "reverse or refund them before voiding"
        )
    return True


def has_fired_lines(view: OrderView) -> bool:
    """Whether the kitchen was sent a line of the order that is not void."""
    return any(line.fired and not line.voided for line in view.lines)


def discount_over_limit(view: OrderView, entry: dict, limit: Decimal) -> bool:
    """Whether a discount's entry takes more than `limit` percent off what it applies to
    (a line's gross, or the order's amount after line discounts): a comp is 100 %."""
    if "percent" in entry:
        return Decimal(entry["percent"]) > limit
    if entry["line"] is not None:
        line = view.line(entry["line"])
        base = line.gross if line is not None else 0
    else:
        base = sum(line.net for line in view.lines if not line.voided)
    return entry["amount"] * 100 > limit * base


def refund_amount(
    view: OrderView, tender: str, amount: int | None, items: list[tuple[str, int]]
) -> int:
    """What a refund on `tender` of `amount` and/or the units `items` ((line id, units), at
    most once each) gives back, checked against what the order holds: refused when the
    order is void, was not paid by `tender`, the units are not there to refund, or it is
    more than is left to refund on the tender."""
    if view.status == Status.VOID:
        raise OrderNotEditable(f"order {view.number} is void; nothing to refund")
    balance = view.refunds.tender(tender)
    if balance is None or balance.paid == 0:
        paid_by = sorted(t.tender for t in view.refunds.tenders if t.paid) or ["nothing"]
        raise RefundRejected(
            f"order {view.number} was not paid by {tender} (paid by {', '.join(paid_by)})",
            field="/tender",
        )
    before = view.refunds.refunded_units
    after = dict(before)
    for index, (line_id, qty) in enumerate(items):
        where = f"/items/{index}"
        line = view.line(line_id)
        if line is None:
            raise UnknownLine(f"order {view.number} has no line {line_id!r}", field=where)
        if line.voided:
            raise RefundRejected(
                f"line {line_id} ({line.name}) is void: it was not paid", field=where
            )
        left = line.qty - after.get(line_id, 0)
        if qty > left:
            raise RefundRejected(
                f"{left} of line {line_id} ({line.name}) left to refund, not {qty}",
                field=f"{where}/qty",
            )
        after[line_id] = after.get(line_id, 0) + qty
    value = units_value(view.lines, before, after) if items else None
    if amount is None:
        if value is None:
            raise InvalidInput("/amount", "give an amount, or the items to refund")
        amount = value
    elif value is not None and amount > value:
        raise RefundRejected(f"the items come to {value}, less than {amount}", field="/amount")
    if amount <= 0:
        raise RefundRejected(
            "those items come to nothing: there is nothing to refund", field="/items"
        )
    if amount > balance.refundable:
        raise RefundRejected(
            f"a refund of {amount} exceeds the {balance.refundable} left to refund on {tender}",
            field="/amount",
        )
    return amount


def needs_reference(tender: str) -> bool:
    """Whether a refund on `tender` must carry the processor's reference (all but cash)."""
    return tender not in CASH_TENDERS


def reversal_is_new(view: OrderView, payment_key: str) -> bool:
    """Whether to record a payment's reversal: False when it is reversed already; refused
    for a payment the order does not have, once the order is closed (refund it instead) or
    when its tender has refunds."""
    payment = next((p for p in view.payments if p.key == payment_key), None)
    if payment is None:
        raise InvalidInput("/payment_key", f"order {view.number} has no payment {payment_key!r}")
    if payment_key in view.refunds.reversed:
        return False
    if view.status >= Status.CLOSED:
        raise OrderNotEditable(
            f"order {view.number} is {view.status.label}; refund the payment instead"
        )
    balance = view.refunds.tender(payment.tender)
    if balance is not None and (balance.refunded or balance.over_refunded):
        raise RefundRejected(
            f"the {payment.tender} payments of order {view.number} have refunds; "
            "refund instead of reversing",
            field="/payment_key",
        )
    return True


def reopen_is_new(view: OrderView) -> bool:
    """Whether to record a reopen: False when the order was reopened and not closed since;
    refused for an order that is not closed otherwise (never closed, or void)."""
    if view.status == Status.CLOSED:
        return True
    epoch = current_epoch(view.events)
    if view.status != Status.VOID and any(
        e.kind == "reopen" and e.epoch == epoch for e in view.events
    ):
        return False
    raise OrderNotEditable(f"order {view.number} is {view.status.label}, not closed")
