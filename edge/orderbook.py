"""The order book: every operation on the store's orders, written to the CRDT order log.

One Yjs document per store business day (`<store_id>/orders/<YYYY-MM-DD>`), whose root map
`orders` holds one map per order: write-once fields plus maps of immutable entries keyed
by a fresh id (`lines`, `voids`, `discounts`, `payments`, `tips`, `events`). See
docs/orders.md. Each operation checks the order's derived state, writes its entries in one
transaction, and returns once the update is durable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pycrdt import Doc, Map

from sync.errors import DocumentClosed, UnknownDocument
from sync.replica import Replica, root_map_contents
from sync.store_documents import catalog_guid, day_guid

from .catalog import Catalog, read_catalog, write_catalog
from .clock import HybridClock, business_date
from .errors import (
    BalanceDue,
    BusinessDayClosed,
    IdempotencyConflict,
    InvalidInput,
    ManagerRequired,
    NothingToFire,
    OrderError,
    OrderNotEditable,
    PaymentRejected,
    UnknownItem,
    UnknownLine,
    UnknownOrder,
)
from .order_cache import OrderCache, OrderDraft
from .order_ids import entry_id, highest_number, order_day
from .order_ids import order_id as make_order_id
from .order_view import ENTRY_SECTIONS, OrderView, derive_order
from .status import Status, current_epoch
from .validation import (
    MAX_AMOUNT,
    MAX_QTY,
    require_int,
    require_key,
    require_percent,
    require_text,
)

CHANNELS = ("counter", "dine_in", "takeaway", "delivery", "drive_thru", "kiosk", "online")
CASH_TENDERS = ("cash",)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does an operation: a cashier, a terminal, or a manager."""

    id: str
    manager: bool = False


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """This node: its name, and the letter that prefixes the order numbers it gives out."""

    name: str
    letter: str


def _editable(view: OrderView, doing: str) -> None:
    if view.status >= Status.CLOSED:
        raise OrderNotEditable(f"order {view.number} is {view.status.label}; cannot {doing}")


class OrderBook:
    """The store's orders on this node."""

    def __init__(
        self,
        replica: Replica,
        *,
        store_id: str,
        node: NodeIdentity,
        zone: ZoneInfo,
        rollover_hour: int,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.replica = replica
        self.store_id = store_id
        self.node = node
        self.zone = zone
        self.rollover_hour = rollover_hour
        self._now = now
        self.clock = HybridClock(node.name, lambda: int(now().timestamp() * 1000))
        self._next_number: dict[str, int] = {}
        self._catalog: Catalog | None = None
        self._cache = OrderCache()
        replica.add_remote_change_listener(self._on_remote_change)

    # -- documents ---------------------------------------------------------------------

    @property
    def catalog_guid(self) -> str:
        return catalog_guid(self.store_id)

    def day_guid(self, day: dt.date) -> str:
        return day_guid(self.store_id, day)

    def business_date(self) -> dt.date:
        """Today's business date at this moment."""
        return business_date(self._now(), self.zone, self.rollover_hour)

    async def start(self) -> None:
        """Open the catalog and today's orders; move the clock past what they hold and the
        order counter past the numbers this node already gave out."""
        await self.replica.create(self.catalog_guid, "catalog")
        today = self.day_guid(self.business_date())
        if self._day_exists(today):
            orders = root_map_contents(await self.replica.open(today), "orders")
            stamps = [stamp for order in orders.values() for stamp in _timestamps(order)]
            if stamps:  # HLC text sorts in time order, so the largest is the latest
                self.clock.observe(max(stamps))
            self._next_number[today] = highest_number(orders, self.node.letter) + 1

    def _on_remote_change(self, guid: str) -> None:
        """A peer's update changed a live Doc: what was derived from it is stale."""
        if guid == self.catalog_guid:
            self._catalog = None
        else:
            self._cache.drop_document(guid)

    async def catalog(self) -> Catalog:
        """The current catalog (parsed once per change of the catalog doc)."""
        if self._catalog is None:
            self._catalog = read_catalog(await self.replica.open(self.catalog_guid))
        return self._catalog

    async def import_catalog(self, data: dict) -> Catalog:
        """Write catalog entries (items, taxes, stations, settings) into the catalog doc."""
        await self.replica.transact(self.catalog_guid, lambda doc: write_catalog(doc, data))
        self._catalog = None
        return await self.catalog()

    async def open_day(self, day: dt.date) -> Doc:
        """The document of business day `day`, registered if it is new."""
        return await self.replica.create(
            self.day_guid(day), "orders", {"business_date": day.isoformat()}
        )

    def day_exists(self, day: dt.date) -> bool:
        """Whether this node holds business day `day`."""
        return self._day_exists(self.day_guid(day))

    def forget_day(self, day: dt.date) -> None:
        """Drop a closed business day from memory; reading it loads it from the store again."""
        guid = self.day_guid(day)
        self._cache.drop_document(guid)
        self.replica.unload(guid)

    def _day_exists(self, guid: str) -> bool:
        try:
            self.replica.info(guid)
        except UnknownDocument:
            return False
        return True

    def _guid_of(self, order_id: object) -> str:
        guid = self.day_guid(order_day(order_id))
        if not self._day_exists(guid):
            raise UnknownOrder(f"no order {order_id!r} on this node")
        return guid

    async def _change(self, order_id: str, change: Callable[[OrderDraft], None]) -> OrderView:
        """Run `change(draft)` in one durable transaction; return the order's new view."""
        guid = self._guid_of(order_id)

        def in_doc(doc: Doc) -> OrderView:
            orders = doc.get("orders", type=Map)
            if order_id not in orders:
                raise UnknownOrder(f"no order {order_id!r} on this node")
            draft = OrderDraft(self._cache, guid, order_id, orders[order_id])
            change(draft)
            return draft.finish()

        try:
            return await self.replica.transact(guid, in_doc)
        except DocumentClosed:
            raise BusinessDayClosed(
                f"the business day of order {order_id} is closed; it cannot change"
            ) from None
        except BaseException:
            self._cache.drop_document(guid)  # the Doc may have been reloaded from disk
            raise

    # -- reading -----------------------------------------------------------------------

    async def get(self, order_id: str) -> OrderView:
        """The derived view of one order (raises UnknownOrder)."""
        guid = self._guid_of(order_id)
        view = self._read(guid, await self.replica.open(guid), order_id)
        if view is None:
            raise UnknownOrder(f"no order {order_id!r} on this node")
        return view

    def loaded_view(self, order_id: str) -> OrderView | None:
        """The view of an order whose day is in memory, read without waiting; else None."""
        cached = self._cache.peek(order_id)
        if cached is not None:
            return cached
        try:
            guid = self.day_guid(order_day(order_id))
        except UnknownOrder:
            return None
        doc = self.replica.loaded(guid)
        return None if doc is None else self._read(guid, doc, order_id)

    def _read(self, guid: str, doc: Doc, order_id: str) -> OrderView | None:
        with doc.transaction():  # one read transaction: to_py is about twice as fast in one
            orders = doc.get("orders", type=Map)
            if order_id not in orders:
                return None
            return self._cache.read(guid, order_id, orders[order_id])[1]

    async def list_orders(self, day: dt.date | None = None) -> list[OrderView]:
        """Every order of a business day (today by default), oldest first."""
        guid = self.day_guid(day or self.business_date())
        if not self._day_exists(guid):
            return []
        orders = root_map_contents(await self.replica.open(guid), "orders")
        return sorted((derive_order(o) for o in orders.values()), key=lambda v: v.opened_at)

    # -- operations --------------------------------------------------------------------

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

        With a `request_key` (see order_ids.py) a retried request returns the order its
        first attempt opened.
        """
        if channel not in CHANNELS:
            raise InvalidInput("/channel", f"must be one of {', '.join(CHANNELS)}")
        table = require_text(table, "/table", optional=True)
        guests = require_int(guests, "/guests", 0, 99)
        day = self.business_date()
        guid = self.day_guid(day)
        doc = await self.open_day(day)
        if guid not in self._next_number:  # a day start() did not see: a rollover since
            orders = root_map_contents(doc, "orders")
            self._next_number[guid] = highest_number(orders, self.node.letter) + 1
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
                    "node": self.node.name,
                    **{section: Map() for section in ENTRY_SECTIONS},
                }
            )
            self._next_number[guid] = number + 1
            return order_id

        try:
            order_id = await self.replica.transact(guid, write)
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
        modifiers: Sequence[str] = (),
        note: str | None = None,
        request_key: str | None = None,
    ) -> tuple[OrderView, str]:
        """Add a line, copying name, price, tax and station from the catalog."""
        qty = require_int(qty, "/qty", 1, MAX_QTY)
        note = require_text(note, "/note", optional=True)
        if isinstance(modifiers, str) or not isinstance(modifiers, Sequence):
            raise InvalidInput("/modifiers", "must be a list of modifier codes")
        catalog = await self.catalog()
        item = catalog.items.get(sku) if isinstance(sku, str) else None
        if item is None:
            raise UnknownItem(f"no item {sku!r} in the catalog", field="/sku")
        chosen = []
        for index, code in enumerate(modifiers):
            if not isinstance(code, str):
                raise InvalidInput(f"/modifiers/{index}", "must be a modifier code (a string)")
            if code not in item.modifiers:
                raise UnknownItem(
                    f"{item.name} has no modifier {code!r}", field=f"/modifiers/{index}"
                )
            mod = item.modifiers[code]
            chosen.append({"code": mod.code, "name": mod.name, "price": mod.price})
        line_id = entry_id(request_key, "line")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("lines", line_id):
                return  # the retry of a request that added it
            _editable(view, "add lines")
            draft.add(
                "lines",
                line_id,
                {
                    "sku": item.sku,
                    "name": item.name,
                    "qty": qty,
                    "unit_price": item.price,
                    "modifiers": chosen,
                    "note": note or "",
                    "tax_rate": catalog.taxes[item.tax].rate,
                    "tax_included": catalog.prices_include_tax,
                    "station": item.station,
                    "at": self.clock.now(),
                    "by": actor.id,
                },
            )

        return await self._change(order_id, write), line_id

    async def void_line(self, actor: Actor, order_id: str, line_id: str, reason: str) -> OrderView:
        """Void a line (with a reason); a fired line's void reaches the kitchen."""
        reason = require_text(reason, "/reason")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            _editable(view, "void lines")
            line = view.line(line_id)
            if line is None:
                raise UnknownLine(f"order {view.number} has no line {line_id!r}")
            if line.voided:
                return  # already void: voiding twice is one void
            draft.add("voids", line_id, {"reason": reason, "at": self.clock.now(), "by": actor.id})

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
        if (amount is None) == (percent is None):
            raise InvalidInput("/amount", "give either an amount or a percent, not both")
        entry: dict[str, Any] = {"reason": require_text(reason, "/reason"), "line": line_id}
        if amount is not None:
            entry["amount"] = require_int(amount, "/amount", 1, MAX_AMOUNT)
        else:
            entry["percent"] = require_percent(percent, "/percent")
        discount_id = entry_id(request_key, "discount")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("discounts", discount_id):
                return
            _editable(view, "add discounts")
            if line_id is not None:
                line = view.line(line_id)
                if line is None or line.voided:
                    raise UnknownLine(
                        f"order {view.number} has no line {line_id!r} to discount",
                        field="/line_id",
                    )
            draft.add("discounts", discount_id, {**entry, "at": self.clock.now(), "by": actor.id})

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
            view = draft.view
            existing = next((p for p in view.payments if p.key == key), None)
            if existing is not None:
                if (existing.tender, existing.amount, existing.tip) != (tender, amount, tip):
                    raise IdempotencyConflict(
                        f"payment key {key!r} was used for {existing.amount} by "
                        f"{existing.tender}; use a new key for a new payment"
                    )
                return  # the same payment, retried
            _editable(view, "take payments")
            if tender not in CASH_TENDERS and amount > view.totals.balance_due:
                raise PaymentRejected(
                    f"{tender} payment of {amount} exceeds the balance due of "
                    f"{view.totals.balance_due}",
                    field="/amount",
                )
            draft.add(
                "payments",
                key,
                {
                    "tender": tender,
                    "amount": amount,
                    "tip": tip,
                    "reference": reference,
                    "at": self.clock.now(),
                    "by": actor.id,
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
            view = draft.view
            existing = next((t for t in view.tips if t.key == key), None)
            if existing is not None:
                if existing.amount != amount:
                    raise IdempotencyConflict(f"tip key {key!r} was used for {existing.amount}")
                return
            if view.status == Status.VOID:
                raise OrderNotEditable(f"order {view.number} is void; cannot add a tip")
            if payment_key is not None and all(p.key != payment_key for p in view.payments):
                raise InvalidInput(
                    "/payment_key", f"order {view.number} has no payment {payment_key!r}"
                )
            draft.add(
                "tips",
                key,
                {
                    "amount": amount,
                    "payment": payment_key,
                    "at": self.clock.now(),
                    "by": actor.id,
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
            _editable(view, "fire")
            new_lines = [line for line in view.lines if not line.fired and not line.voided]
            if not new_lines:
                raise NothingToFire(f"order {view.number} has nothing new to send to the kitchen")
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
            if draft.has("events", event_id):
                return
            fire = next((e for e in view.events if e.id == fire_id and e.kind == "fire"), None)
            if fire is None or station not in fire.detail.get("stations", ()):
                raise InvalidInput(
                    "/fire_id", f"order {view.number} has no ticket {fire_id}@{station}"
                )
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
            if draft.has("events", event_id):
                return
            if not any(e.id == bump_id and e.kind == "bump" for e in view.events):
                raise InvalidInput("/bump_id", f"order {view.number} has no bump {bump_id}")
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
            epoch = current_epoch(view.events)
            if draft.has("events", event_id) or any(
                e.kind == "rush" and e.epoch == epoch for e in view.events
            ):
                return
            _editable(view, "rush it")
            draft.add(
                "events",
                event_id,
                {"kind": "rush", "reason": reason or "", **self._stamp(actor, view)},
            )

        return await self._change(order_id, write)

    async def close(
        self, actor: Actor, order_id: str, *, request_key: str | None = None
    ) -> OrderView:
        """Close a paid order."""
        event_id = entry_id(request_key, "close")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id):
                return
            _editable(view, "close it again")
            if view.totals.balance_due > 0:
                raise BalanceDue(f"order {view.number} still owes {view.totals.balance_due}")
            draft.add("events", event_id, {"kind": "close", **self._stamp(actor, view)})

        return await self._change(order_id, write)

    async def void_order(self, actor: Actor, order_id: str, reason: str) -> OrderView:
        """Void the whole order (voiding twice is one void); refused once money was taken."""
        reason = require_text(reason, "/reason")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if view.status == Status.VOID:
                return
            _editable(view, "void it")
            if view.payments:
                raise OrderNotEditable(
                    f"order {view.number} has payments; refund them before voiding"
                )
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
        """Reopen a closed order (managers only); starts a new epoch of its status."""
        if not actor.manager:
            raise ManagerRequired("only a manager can reopen an order")
        reason = require_text(reason, "/reason")
        event_id = entry_id(request_key, "reopen")

        def write(draft: OrderDraft) -> None:
            view = draft.view
            if draft.has("events", event_id):
                return
            if view.status != Status.CLOSED:
                raise OrderNotEditable(f"order {view.number} is {view.status.label}, not closed")
            draft.add(
                "events",
                event_id,
                {
                    "kind": "reopen",
                    "reason": reason,
                    "at": self.clock.now(),
                    "by": actor.id,
                    "epoch": current_epoch(view.events) + 1,
                },
            )

        return await self._change(order_id, write)

    async def close_business_day(self, day: dt.date) -> None:
        """Make a business day read-only; refused while any of its orders is open."""
        guid = self.day_guid(day)
        if not self._day_exists(guid):
            raise OrderError(f"no business day {day} on this node")
        still_open = [v.number for v in await self.list_orders(day) if v.status < Status.CLOSED]
        if still_open:
            raise OrderNotEditable(
                f"business day {day} has open orders: {', '.join(still_open[:10])}"
            )
        await self.replica.store.close_document(guid)

    def _stamp(self, actor: Actor, view: OrderView) -> dict:
        return {"at": self.clock.now(), "by": actor.id, "epoch": current_epoch(view.events)}


_HLC_TEXT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/\d{4}/[^/\"]+"
_HLC = re.compile(_HLC_TEXT)
_ENTRY_AT = re.compile(f'"at":"({_HLC_TEXT})"')


def _timestamps(order: dict) -> list[str]:
    """Every well-formed HLC timestamp in an order (found in entries' JSON text directly:
    decoding tens of thousands of entries at start-up would cost far more)."""
    stamps = [order.get("opened_at")]
    for section in ENTRY_SECTIONS:
        for value in (order.get(section) or {}).values():
            found = _ENTRY_AT.search(value) if isinstance(value, str) else None
            stamps.append(found.group(1) if found else None)
    return [s for s in stamps if isinstance(s, str) and _HLC.fullmatch(s)]
