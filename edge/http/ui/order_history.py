"""An order's history as the order page tells it: when, who (and on which terminal), what,
in sentences. Pure logic over `OrderView.history()`."""

from __future__ import annotations

from dataclasses import dataclass

from edge.orders.money import format_money
from edge.orders.view import OrderView

_EVENT_WORDS = {
    "close": "Closed the order",
    "recall": "Recalled a ticket to the kitchen screen",
    "ready": "Marked the order ready",
}


@dataclass(frozen=True, slots=True)
class HistoryRow:
    at: str  # HLC timestamp
    by: str  # the terminal or user, as the order log records it ("Counter 1 (t-1a2b3c4d)")
    what: str


def history_rows(view: OrderView, currency: str) -> list[HistoryRow]:
    """Every step of the order, oldest first."""
    lines = {line.id: line for line in view.lines}

    def money(amount: int) -> str:
        return format_money(amount, currency)

    def line_name(line_id: str) -> str:
        line = lines.get(line_id)
        return f"{line.qty} × {line.name}" if line else f"line {line_id}"

    def words(step: dict) -> str:
        kind = step["what"]
        if kind == "open":
            where = f"table {view.table}" if view.table else view.channel.replace("_", " ")
            return f"Opened the order ({where})"
        if kind == "line":
            return f"Added {line_name(step['line'])}"
        if kind == "void_line":
            return f"Voided {line_name(step['line'])}: {step['reason']}"
        if kind == "discount":
            discount = next(d for d in view.discounts if d.id == step["discount"])
            size = f"{discount.percent}%" if discount.percent else money(discount.amount or 0)
            return f"Discount of {size}: {discount.reason}"
        if kind == "payment":
            tip = f" with a tip of {money(step['tip'])}" if step["tip"] else ""
            return f"Took {money(step['amount'])} by {step['tender']}{tip}"
        if kind == "tip":
            return f"Added a tip of {money(step['amount'])}"
        if kind == "fire":
            stations = ", ".join(step.get("stations") or ()) or "the kitchen"
            return f"Sent {len(step.get('lines') or ())} line(s) to {stations}"
        if kind == "bump":
            return f"Bumped the ticket at {step.get('station', 'a station')}"
        if kind in ("void", "reopen", "rush"):
            verb = {"void": "Voided", "reopen": "Reopened", "rush": "Rushed"}[kind]
            reason = step.get("reason")
            return f"{verb} the order" + (f": {reason}" if reason else "")
        return _EVENT_WORDS.get(kind, kind.replace("_", " ").capitalize())

    return [HistoryRow(step["at"], step["by"], words(step)) for step in view.history()]
