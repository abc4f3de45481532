"""The order book: every operation on the store's orders, written to the CRDT order log.

One Yjs document per store business day (`<store_id>/orders/<YYYY-MM-DD>`), whose root map
`orders` holds one map per order: write-once fields plus maps of immutable entries keyed
by a fresh id (`lines`, `voids`, `discounts`, `payments`, `tips`, `events`). See
docs/orders.md. Each operation checks the order's derived state (rules.py), writes its
entries in one transaction, and returns once the update is durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pycrdt import Doc, Map

from edge.orders import rules
from edge.orders.availability import Availability
from edge.orders.cache import OrderDraft
from edge.orders.days import next_number
from edge.orders.ids import entry_id
from edge.orders.ids import order_id as make_order_id
from edge.orders.log import Actor
from edge.orders.menu_rules import NOTHING_UNAVAILABLE
from edge.orders.refund_book import RefundBook, require_manager
from edge.orders.status import current_epoch
from edge.orders.validation import MAX_AMOUNT, MAX_QTY, require_int, require_key, require_text
from edge.orders.view import ENTRY_SECTIONS, OrderView
from edge.runtime.errors import (
    BusinessDayClosed,
    InvalidInput,
)
from sync.errors import DocumentClosed
from sync.replica import root_map_contents

DEFAULT_DISCOUNT_LIMIT = Decimal(20)


class OrderBook(RefundBook):
    """The store's orders on this node: every operation, checked by the order rules and
    written to the order log in one durable transaction."""

    discount_limit = DEFAULT_DISCOUNT_LIMIT
    """The most percent off a line or order a discount takes without a manager (the store
    setting `staff.discount_limit_percent`)."""

    availability: Availability | None = None
    """What is unavailable store-wide ("86"), kept in the store document; None (nothing
    unavailable) for a book without one, such as the hub's."""

    async def open_order(
        self,
        actor: Actor,
        *,
        channel: str = "counter",
        table: str | None = None,
        guests: int = 0,
        request_key: str | None = None,
    ) -> OrderView:
        """Open a new order on today's business day; it gets the next number of this node.

        With a `request_key` (see ids.py) a retried request returns the order its
        first attempt opened.
        """
        if channel not in rules.CHANNELS:
            raise InvalidInput("/channel", f"must be one of {', '.join(rules.CHANNELS)}")
        table = require_text(table, "/table", optional=True)
        guests = require_int(guests, "/guests", 0, 99)
        day = self.business_date()
        guid = self.day_guid(day)
        doc = await self.open_day(day)
        if guid not in self._next_number:  # a day start() did not see: a rollover since
            self._next_number[guid] = next_number(
                root_map_contents(doc, "orders"), self.node.letter
            )
        order_id = make_order_id(day, request_key)

        def write(doc: Doc) -> str:
            orders = doc.get("orders", type=Map)
            if order_id in orders:
                if request_key is not None:
                    return order_id  # the retry of a request that opened it
                return write_new(orders, make_order_id(day))  # 48 random bits collided
            return write_new(orders, order_id)

        def write_new(orders: Map, order_id: str) -> str:
            number = self._next_number[guid]
            orders[order_id] = Map(
                {
                    "id": order_id,
                    "number": f"{self.node.letter}-{number:03d}",
                    "business_date": day.isoformat(),
                    "channel": channel,
                    "table": table,
                    "guests": guests,
                    "opened_at": self.clock.now(),
                    "opened_by": actor.id,
                    "server": actor.employee,
                    "node": self.node.name,
                    **{section: Map() for section in ENTRY_SECTIONS},
                }
            )
            self._next_number[guid] = number + 1
            return order_id

        try:
            order_id = await self._replica.transact(guid, write)
        except DocumentClosed:
            raise BusinessDayClosed(
                f"business day {day} is closed; new orders open after the rollover"
            ) from None
        return await self.get(order_id)

    async def add_line(
        self,
        actor: Actor,
        order_id: str,
        *,
        sku: str,
        qty: int = 1,
        modifiers: Sequence[str | dict] = (),
        note: str | None = None,
        price: int | None = None,
        request_key: str | None = None,
    ) -> tuple[OrderView, str]:
        """Add a line, copying name, price, tax and station from the catalog (`price`: an
        open-priced item's, within its range)."""
        qty = require_int(qty, "/qty", 1, MAX_QTY)
        note = require_text(note, "/note", optional=True)
        unavailable = NOTHING_UNAVAILABLE if self.availability is None else self.availability.now()
        entry = rules.line_entry(
            await self.catalog(), sku, qty, modifiers, note, price=price, unavailable=unavailable
        )
        line_id = entry_id(request_key, "line")

        def write(draft: OrderDraft) -> None:
            if draft.has("lines", line_id):
                return  # the retry of a request that added it
            rules.editable(draft.view, "add lines")
            rules.room_for(draft.view, "lines")
            draft.add("lines", line_id, {**entry, **actor.stamp(self.clock.now())})

        return await self._change(order_id, write), line_id

    async def void_line(self, actor: Actor, order_id: str, line_id: str, reason: str) -> OrderView:
        """Void a line (with a reason); a fired line's void reaches the kitchen."""
        reason = require_text(reason, "/reason")

        def write(draft: OrderDraft) -> None:
            line = rules.line_to_void(draft.view, line_id)
            if line is None:
                return  # already void: voiding twice is one void
            if line.fired:
                require_manager(actor, "void a line the kitchen was sent")
            draft.add("voids", line_id, {"reason": reason, **actor.stamp(self.clock.now())})

        return await self._change(order_id, write)

    async def add_discount(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: str,
        amount: int | None = None,
        percent: str | None = None,
        line_id: str | None = None,
        request_key: str | None = None,
    ) -> OrderView:
        """Discount a line or the whole order, by an amount or a percent."""
        entry = rules.discount_entry(reason, amount, percent, line_id)
        discount_id = entry_id(request_key, "discount")

        def write(draft: OrderDraft) -> None:
            if draft.has("discounts", discount_id):
                return
            rules.check_discount(draft.view, line_id)
            if rules.discount_over_limit(draft.view, entry, self.discount_limit):
                require_manager(actor, f"take more than {self.discount_limit} % off")
            draft.add("discounts", discount_id, {**entry, **actor.stamp(self.clock.now())})

        return await self._change(order_id, write)

    async def add_payment(
        self,
        actor: Actor,
        order_id: str,
        *,
        key: str,
        tender: str,
        amount: int,
        tip: int = 0,
        reference: str | None = None,
    ) -> OrderView:
        """Take a payment. The key makes it idempotent: a retried payment is one payment.

        Cash may exceed the balance (the view shows the change due); other tenders may not.
        """
        key = require_key(key, "/key")
        tender = require_key(tender, "/tender")
        amount = require_int(amount, "/amount", 1, MAX_AMOUNT)
        tip = require_int(tip, "/tip", 0, MAX_AMOUNT)
        reference = require_text(reference, "/reference", optional=True)

        def write(draft: OrderDraft) -> None:
            if not rules.payment_is_new(draft.view, key, tender, amount, tip):
                return  # the same payment, retried
            draft.add(
                "payments",
                key,
                {
                    "tender": tender,
                    "amount": amount,
                    "tip": tip,
                    "reference": reference,
                    **actor.stamp(self.clock.now()),
                },
            )

        return await self._change(order_id, write)

    async def add_tip(
        self,
        actor: Actor,
        order_id: str,
        *,
        key: str,
        amount: int,
        payment_key: str | None = None,
    ) -> OrderView:
        """Add a tip (e.g. a card tip adjusted after the receipt was signed); idempotent by key.

        Allowed on closed orders too: tips are often entered after closing.
        """
        key = require_key(key, "/key")
        amount = require_int(amount, "/amount", 1, MAX_AMOUNT)

        def write(draft: OrderDraft) -> None:
            if not rules.tip_is_new(draft.view, key, amount, payment_key):
                return
            draft.add(
                "tips",
                key,
                {
                    "amount": amount,
                    "payment": payment_key,
                    **actor.stamp(self.clock.now()),
                },
            )

        return await self._change(order_id, write)

    async def fire(
        self, actor: Actor, order_id: str, *, request_key: str | None = None
    ) -> tuple[OrderView, str]:
        """Send the lines not yet sent to the kitchen; returns the view and the fire event id."""
        event_id = entry_id(request_key, "fire")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id):
                return
            new_lines = rules.lines_to_fire(view)
            draft.add(
                "events",
                event_id,
                {
                    "kind": "fire",
                    "lines": [line.id for line in new_lines],
                    "stations": sorted({line.station for line in new_lines if line.station}),
                    **self._stamp(actor, view),
                },
            )

        return await self._change(order_id, write), event_id

    async def bump(
        self,
        actor: Actor,
        order_id: str,
        *,
        fire_id: str,
        station: str,
        request_key: str | None = None,
    ) -> OrderView:
        """Mark one kitchen ticket (a fire at a station) done."""
        event_id = entry_id(request_key, "bump")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id) or not rules.bump_is_new(view, fire_id, station):
                return
            draft.add(
                "events",
                event_id,
                {
                    "kind": "bump",
                    "fire": fire_id,
                    "station": station,
                    **self._stamp(actor, view),
                },
            )

        return await self._change(order_id, write)

    async def recall(
        self, actor: Actor, order_id: str, *, bump_id: str, request_key: str | None = None
    ) -> OrderView:
        """Undo a bump: the ticket is open again on the kitchen's screens."""
        event_id = entry_id(request_key, "recall")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id) or not rules.recall_is_new(view, bump_id):
                return
            draft.add(
                "events", event_id, {"kind": "recall", "bump": bump_id, **self._stamp(actor, view)}
            )

        return await self._change(order_id, write)

    async def rush(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: str | None = None,
        request_key: str | None = None,
    ) -> OrderView:
        """Mark the order rush: its tickets go first on the kitchen's screens and bump bars.
        Rushing it twice is one rush."""
        reason = require_text(reason, "/reason", optional=True)
        event_id = entry_id(request_key, "rush")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id) or rules.is_rushed(view):
                return
            rules.editable(view, "rush it")
            draft.add(
                "events",
                event_id,
                {"kind": "rush", "reason": reason or "", **self._stamp(actor, view)},
            )

        return await self._change(order_id, write)

    async def close(
        self, actor: Actor, order_id: str, *, request_key: str | None = None
    ) -> OrderView:
        """Close a paid order (closing it twice is one close)."""
        event_id = entry_id(request_key, "close")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id) or not rules.close_is_new(view):
                return
            draft.add("events", event_id, {"kind": "close", **self._stamp(actor, view)})

        return await self._change(order_id, write)

    async def void_order(self, actor: Actor, order_id: str, reason: str) -> OrderView:
        """Void the whole order (voiding twice is one void); refused once money was taken."""
        reason = require_text(reason, "/reason")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if not rules.order_is_voidable(view):
                return
            if rules.has_fired_lines(view):
                require_manager(actor, "void an order the kitchen was sent")
            draft.add(
                "events",
                entry_id(None, "void"),
                {
                    "kind": "void",
                    "reason": reason,
                    **self._stamp(actor, view),
                },
            )

        return await self._change(order_id, write)

    async def reopen(
        self, actor: Actor, order_id: str, reason: str, *, request_key: str | None = None
    ) -> OrderView:
        """Reopen a closed order (managers only); starts a new epoch of its status.
        Reopening it twice (no close between) is one reopen."""
        require_manager(actor, "reopen an order")
        reason = require_text(reason, "/reason")
        event_id = entry_id(request_key, "reopen")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id) or not rules.reopen_is_new(view):
                return
            draft.add(
                "events",
                event_id,
                {
                    "kind": "reopen",
                    "reason": reason,
                    **actor.stamp(self.clock.now()),
                    "epoch": current_epoch(view.events) + 1,
                },
            )

        return await self._change(order_id, write)

    def _stamp(self, actor: Actor, view: OrderView) -> dict:
        return {**actor.stamp(self.clock.now()), "epoch": current_epoch(view.events)}
