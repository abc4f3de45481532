"""The order book's refunds and payment reversals, and the rule that only a manager (or an
operation a manager approved) makes them. See refunds.py for how they are counted."""

from __future__ import annotations

from edge.orders import rules
from edge.orders.cache import OrderDraft
from edge.orders.ids import entry_id
from edge.orders.log import Actor, OrderLog
from edge.orders.status import current_epoch
from edge.orders.validation import MAX_AMOUNT, MAX_QTY, require_int, require_key, require_text
from edge.orders.view import OrderView
from edge.runtime.errors import IdempotencyConflict, InvalidInput, ManagerRequired


def require_manager(actor: Actor, doing: str) -> None:
    """Refuse `doing` to an actor without a manager's authority or approval."""
    if not actor.manager:
        raise ManagerRequired(f"only a manager may {doing}; ask a manager to approve it")


def refund_items(items: object) -> list[tuple[str, int]]:
    """A refund request's `items` ([{line_id, qty}], each line once) as (line id, units)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput("/items", "must be a list of {line_id, qty}")
    found: list[tuple[str, int]] = []
    for index, item in enumerate(items):
        where = f"/items/{index}"
        if not isinstance(item, dict):
            raise InvalidInput(where, "must be an object {line_id, qty}")
        line_id = item.get("line_id")
        if not isinstance(line_id, str) or not line_id:
            raise InvalidInput(f"{where}/line_id", "must be the id of a line of the order")
        if any(line_id == seen for seen, _ in found):
            raise InvalidInput(f"{where}/line_id", f"line {line_id} is named twice")
        unknown = set(item) - {"line_id", "qty"}
        if unknown:
            raise InvalidInput(f"{where}/{sorted(unknown)[0]}", "is not a field of a refund item")
        found.append((line_id, require_int(item.get("qty", 1), f"{where}/qty", 1, MAX_QTY)))
    return found


class RefundBook(OrderLog):
    """Refunds and reversals, as entries of the order's `events` like its other events."""

    async def refund(
        self,
        actor: Actor,
        order_id: str,
        *,
        tender: str,
        reason: str,
        amount: int | None = None,
        items: object = None,
        reference: str | None = None,
        request_key: str | None = None,
    ) -> tuple[OrderView, str]:
        """Give money back on `tender`: `amount`, or what the units `items` come to (tax
        included), or `amount` for those units; a card refund carries the processor's
        `reference`. Retried with the same request key, it is one refund. Managers only."""
        tender = require_key(tender, "/tender")
        reason = require_text(reason, "/reason")
        if amount is not None:
            amount = require_int(amount, "/amount", 1, MAX_AMOUNT)
        units = refund_items(items)
        reference = require_text(reference, "/reference", optional=True)
        if reference is None and rules.needs_reference(tender):
            raise InvalidInput("/reference", f"a {tender} refund needs the processor's reference")
        event_id = entry_id(request_key, "refund")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            earlier = next((r for r in view.refunds.refunds if r.id == event_id), None)
            if earlier is not None:
                if earlier.tender != tender or (amount is not None and earlier.amount != amount):
                    raise IdempotencyConflict(
                        f"refund {event_id} was of {earlier.amount} on {earlier.tender}; "
                        "use a new key for a new refund"
                    )
                return  # the same refund, retried
            require_manager(actor, "refund")
            given = rules.refund_amount(view, tender, amount, units)
            draft.add(
                "events",
                event_id,
                {
                    "kind": "refund",
                    "tender": tender,
                    "amount": given,
                    "items": [{"line": line, "qty": qty} for line, qty in units],
                    "reason": reason,
                    "reference": reference,
                    **actor.stamp(self.clock.now()),
                    "epoch": current_epoch(view.events),
                },
            )

        return await self._change(order_id, write), event_id

    async def reverse_payment(
        self,
        actor: Actor,
        order_id: str,
        *,
        payment_key: str,
        reason: str,
        request_key: str | None = None,
    ) -> OrderView:
        """Undo a payment taken in error before the order closed: it no longer counts.
        Reversing it twice is one reversal. Managers only."""
        payment_key = require_key(payment_key, "/payment_key")
        reason = require_text(reason, "/reason")
        event_id = entry_id(request_key, "reversal")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id) or not rules.reversal_is_new(view, payment_key):
                return
            require_manager(actor, "reverse a payment")
            draft.add(
                "events",
                event_id,
                {
                    "kind": "reversal",
                    "payment": payment_key,
                    "reason": reason,
                    **actor.stamp(self.clock.now()),
                    "epoch": current_epoch(view.events),
                },
            )

        return await self._change(order_id, write)
