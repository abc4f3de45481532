"""Receipt layout: the customer's copy of an order, laid out for `print_layout.render`. Pure."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from drivers.escpos.encoder import Paper
from edge.orders.money import exponent
from edge.printing.fields import Fields, label, person_name

_CURRENCY = re.compile(r"[A-Z]{3}")


def lay_out_receipt(paper: Paper, doc: Fields, zone: tzinfo) -> None:
    """Print receipt document `doc` onto `paper`; raises LayoutError naming a bad field."""
    store = doc.child("store")
    store_name = store.text("name")
    header, footer = store.texts("header"), store.texts("footer")
    order_id = doc.order_id()
    number = doc.text("number")
    channel = label(doc.text("channel"))
    table = doc.optional_text("table")
    printed_at = doc.when("printed_at").astimezone(zone)
    opened_at = doc.when("opened_at").astimezone(zone) if doc.optional_text("opened_at") else None
    currency = doc.text("currency")
    if not _CURRENCY.fullmatch(currency):
        raise doc.error("currency", f"must be an ISO 4217 code such as 'USD', got {currency!r}")
    lines = doc.objects("lines")
    subtotal, total = doc.count("subtotal"), doc.count("total")
    discounts = doc.objects("discounts", required=False)
    taxes = doc.objects("taxes", required=False)
    payments = doc.objects("payments", required=False)
    refunds = doc.objects("refunds", required=False)
    server = doc.optional_text("server")
    tips = doc.optional_count("tips", 0) or 0
    change = doc.optional_count("change", 0) or 0
    balance_due = doc.optional_count("balance_due", 0) or 0

    def money(amount: int) -> str:
        return format_amount(amount, currency)

    paper.headline(store_name)
    for text in header:
        paper.line(text, align="center")
    paper.line()
    paper.line(f"Order {number}", align="center", bold=True, size="tall")
    paper.line(channel + (f" - Table {table}" if table else ""), align="center")
    paper.line(_dates(printed_at, opened_at), align="center")
    if server:
        paper.line(f"Server: {person_name(server)}", align="center")
    paper.rule()
    for line in lines:
        _receipt_line(paper, line, money)
    paper.rule()
    paper.row("Subtotal", money(subtotal))
    for discount in discounts:  # an amount off, or a percent (its amount is in the total)
        amount = discount.optional_count("amount")
        percent = discount.optional_text("percent")
        reason = discount.text("reason")
        if amount is not None:
            paper.row(reason, money(-amount))
        else:
            paper.line(f"{reason} ({percent}%)")
    if any(d.optional_count("amount") is None for d in discounts):
        paper.row("Discount", money(-doc.count("discount")))
    for tax in taxes:
        tax_name = tax.text("label") + (" (incl.)" if tax.flag("included") else "")
        paper.row(tax_name, money(tax.count("amount")))
    paper.row(f"TOTAL {currency}", money(total), bold=True, size="tall")
    payment_tips = 0
    for payment in payments:
        paper.row(label(payment.text("tender")), money(payment.count("amount")))
        tip = payment.optional_count("tip", 0) or 0
        if tip:
            paper.row("  Tip", money(tip))
            payment_tips += tip
    if tips != payment_tips:  # tips added apart from any payment
        paper.row("Tips", money(tips))
    if change > 0:
        paper.row("CHANGE", money(change), bold=True)
    for refund in refunds:
        paper.row(f"Refund {label(refund.text('tender'))}", money(-refund.count("amount")))
    if balance_due > 0:
        paper.row("BALANCE DUE", money(balance_due), bold=True, size="tall")
    paper.line()
    paper.qr(order_id)
    paper.line(order_id, align="center")
    if footer:
        paper.line()
    for text in footer:
        paper.line(text, align="center")


def lay_out_refund(paper: Paper, doc: Fields, zone: tzinfo) -> None:
    """Print refund slip `doc` onto `paper`; raises LayoutError naming a bad field."""
    store = doc.child("store")
    store_name, header = store.text("name"), store.texts("header")
    order_id, number = doc.order_id(), doc.text("number")
    refunded_at = doc.when("refunded_at").astimezone(zone)
    currency = doc.text("currency")
    if not _CURRENCY.fullmatch(currency):
        raise doc.error("currency", f"must be an ISO 4217 code such as 'USD', got {currency!r}")
    tender, amount = doc.text("tender"), doc.count("amount")
    reference, reason = doc.optional_text("reference"), doc.text("reason")
    items = doc.objects("items", required=False)
    by, approved_by = doc.text("by"), doc.optional_text("approved_by")

    paper.headline(store_name)
    for text in header:
        paper.line(text, align="center")
    paper.line()
    paper.headline("REFUND", invert=True)
    paper.line(f"Order {number}", align="center", bold=True, size="tall")
    paper.line(f"{refunded_at:%Y-%m-%d %H:%M}", align="center")
    paper.rule()
    for item in items:
        paper.line(f"{item.count('qty')} x {item.text('name')}")
    paper.line(f"Reason: {reason}")
    paper.rule()
    paper.row(f"REFUND {label(tender)} {currency}", format_amount(-amount, currency), bold=True)
    if reference:
        paper.line(f"Ref: {reference}")
    paper.line(f"By {person_name(by)}")
    if approved_by:
        paper.line(f"Approved by {person_name(approved_by)}")
    paper.line()
    paper.qr(order_id)
    paper.line(order_id, align="center")


def _receipt_line(paper: Paper, line: Fields, money) -> None:
    qty, name = line.count("qty"), line.text("name")
    amount = line.count("amount")
    voided = line.flag("voided")
    if voided:  # no strike-through in ESC/POS: the word and no amount say it
        paper.row(f"VOID {qty} x {name}", "", rest="       ")
    else:
        paper.row(f"{qty} x {name}", money(amount), rest="    ")
    for modifier in line.objects("modifiers", required=False):
        price = modifier.optional_count("price")
        text = modifier.text("name")
        if price and not voided:
            text += f" ({'+' if price > 0 else ''}{money(price)})"
        paper.line(text, first="    + ", rest="      ")


def _dates(printed_at: datetime, opened_at: datetime | None) -> str:
    text = f"{printed_at:%Y-%m-%d %H:%M}"
    if opened_at is None:
        return text
    if opened_at.date() == printed_at.date():
        return f"{text} (opened {opened_at:%H:%M})"
    return f"{text} (opened {opened_at:%Y-%m-%d %H:%M})"


def format_amount(amount: int, currency: str) -> str:
    """`2800, "USD"` → `"28.00"`: minor units shown with the currency's decimals, no code."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{major}.{minor:0{digits}d}" if digits else f"{sign}{major}"
