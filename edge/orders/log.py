"""The order log: the store's catalog and business days on this node, over the replica.

The order book (book.py) adds the operations; the log holds what they share: opening a
day, reading an order's derived view (cached), running a change in one durable transaction,
the catalog, closing a day and the audit of drawer opens. docs/orders.md has the schema.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pycrdt import Doc, Map

from edge.orders.cache import OrderCache, OrderDraft
from edge.orders.catalog import (
    Catalog,
    catalog_contents,
    read_catalog,
    remove_entries,
    write_catalog,
)
from edge.orders.clock import HybridClock, business_date
from edge.orders.days import latest_timestamp, next_number
from edge.orders.documents import DRAWER_OPENS, PRINT_FACTS, catalog_guid, day_guid
from edge.orders.ids import order_day
from edge.orders.status import Status, current_epoch
from edge.orders.view import OrderView, decode_entry, derive_order
from edge.runtime.errors import (
    BusinessDayClosed,
    OrderError,
    OrderNotEditable,
    UnknownOrder,
)
from sync.errors import DocumentClosed, UnknownDocument
from sync.replica import Replica, root_map_contents


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does an operation: the terminal, UI user or device that asks (`id`, recorded as
    an entry's `by`), the employee signed in on it, and whether it acts with a manager's
    authority: its own (a manager's terminal, session or sign-in) or a manager's approval of
    this one operation (`approved_by`, the approving manager, recorded on the entry)."""

    id: str
    manager: bool = False
    employee: str | None = None  # "Sam (e-3fa2c1)": the employee signed in, if any
    approved_by: str | None = None  # "Dana (e-77b0e2)": the manager who approved by PIN

    def stamp(self, at: str) -> dict:
        """The fields every entry this actor writes carries: when, by whom, approved by whom."""
        stamped: dict = {"at": at, "by": self.id}
        if self.employee is not None:
            stamped["employee"] = self.employee
        if self.approved_by is not None:
            stamped["approved_by"] = self.approved_by
            stamped["approved_at"] = at
        return stamped


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """This node: its name, and the letter that prefixes the order numbers it gives out."""

    name: str
    letter: str


class OrderLog:
    """The store's documents on this node (its catalog and business days) over the replica,
    which only the log touches: others ask it by name. The order book adds the operations."""

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
        self._replica = replica
        self.store_id = store_id
        self.node = node
        self.zone = zone
        self.rollover_hour = rollover_hour
        self._now = now
        self.clock = HybridClock(node.name, lambda: int(now().timestamp() * 1000))
        self._next_number: dict[str, int] = {}
        self._catalog: Catalog | None = None
        self._cache = OrderCache()
        self._print_facts: dict[str, dict[str, dict[str, dict]]] = {}  # guid -> facts, read
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
        await self.ensure_catalog()
        today = self.business_date()
        if self.day_exists(today):
            orders = await self.day_contents(today)
            latest = latest_timestamp(orders)
            if latest is not None:
                self.clock.observe(latest)
            self._next_number[self.day_guid(today)] = next_number(orders, self.node.letter)

    async def ensure_catalog(self) -> None:
        """Register the catalog document if this node holds none yet."""
        await self._replica.create(self.catalog_guid, "catalog")

    def _on_remote_change(self, guid: str) -> None:
        """A peer's update changed a live Doc: what was derived from it is stale."""
        self._print_facts.pop(guid, None)
        if guid == self.catalog_guid:
            self._catalog = None
        else:
            self._cache.drop_document(guid)

    async def catalog(self) -> Catalog:
        """The current catalog (parsed once per change of the catalog doc)."""
        if self._catalog is None:
            self._catalog = read_catalog(await self._replica.open(self.catalog_guid))
        return self._catalog

    async def catalog_entries(self) -> dict:
        """The catalog document's plain contents (every root map), as HQ and the menu edit it."""
        return catalog_contents(await self._replica.open(self.catalog_guid))

    async def remove_catalog_entries(self, removed: dict[str, list[str]]) -> None:
        """Remove catalog entries: root map name -> the keys to drop."""
        await self._replica.transact(self.catalog_guid, lambda doc: remove_entries(doc, removed))
        self._catalog = None

    async def import_catalog(self, data: dict) -> Catalog:
        """Write catalog entries (items, taxes, stations, settings) into the catalog doc."""
        await self._replica.transact(self.catalog_guid, lambda doc: write_catalog(doc, data))
        self._catalog = None
        return await self.catalog()

    async def open_day(self, day: dt.date) -> Doc:
        """The document of business day `day`, registered if it is new."""
        return await self._replica.create(
            self.day_guid(day), "orders", {"business_date": day.isoformat()}
        )

    def day_exists(self, day: dt.date) -> bool:
        """Whether this node holds business day `day`."""
        return self._day_exists(self.day_guid(day))

    async def day_contents(self, day: dt.date) -> dict[str, dict]:
        """The plain contents of business day `day`'s orders (order id -> order), or {}."""
        if not self.day_exists(day):
            return {}
        return root_map_contents(await self._replica.open(self.day_guid(day)), "orders")

    async def order_count(self, day: dt.date) -> int:
        """How many orders business day `day` holds (without deriving any)."""
        if not self.day_exists(day):
            return 0
        return len((await self._replica.open(self.day_guid(day))).get("orders", type=Map))

    def loaded_order_count(self, day: dt.date) -> int:
        """How many orders business day `day` holds, if it is in memory (else 0), at once."""
        doc = self._replica.loaded(self.day_guid(day))
        return len(doc.get("orders", type=Map)) if doc is not None else 0

    def forget_day(self, day: dt.date) -> None:
        """Drop a closed business day from memory; reading it loads it from the store again."""
        guid = self.day_guid(day)
        self._cache.drop_document(guid)
        self._replica.unload(guid)

    def _day_exists(self, guid: str) -> bool:
        try:
            self._replica.info(guid)
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
            return await self._replica.transact(guid, in_doc)
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
        view = self._read(guid, await self._replica.open(guid), order_id)
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
        doc = self._replica.loaded(guid)
        return None if doc is None else self._read(guid, doc, order_id)

    def _read(self, guid: str, doc: Doc, order_id: str) -> OrderView | None:
        with doc.transaction():  # one read transaction: to_py is about twice as fast in one
            orders = doc.get("orders", type=Map)
            if order_id not in orders:
                return None
            return self._cache.read(guid, order_id, orders[order_id])[1]

    async def list_orders(self, day: dt.date | None = None) -> list[OrderView]:
        """Every order of a business day (today by default), oldest first."""
        orders = await self.day_contents(day or self.business_date())
        return sorted((derive_order(o) for o in orders.values()), key=lambda v: v.opened_at)

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
        await self._replica.store.close_document(guid)

    async def record_day_fact(
        self, day: dt.date, root: str, key: str, entry: dict
    ) -> tuple[dict, bool]:
        """Record `entry` once under `key` in root map `root` of business day `day` (drawer
        opens, time clock punches, drawer sessions): the entry as recorded (stamped with
        `at` unless it has one) and whether it is new. A closed day refuses it."""

        def write(doc: Doc) -> tuple[dict, bool]:
            facts = doc.get(root, type=Map)
            if key in facts:
                return decode_entry(facts[key]), False
            stamped = entry if "at" in entry else {**entry, "at": self.clock.now()}
            facts[key] = json.dumps(stamped, separators=(",", ":"), ensure_ascii=False)
            return stamped, True

        await self.open_day(day)
        try:
            return await self._replica.transact(self.day_guid(day), write)
        except DocumentClosed:
            raise BusinessDayClosed(f"business day {day} is closed; it takes no more") from None

    async def day_facts(self, day: dt.date, root: str) -> dict[str, dict]:
        """Business day `day`'s entries of root map `root` that parse: key -> entry."""
        if not self.day_exists(day):
            return {}
        found = {}
        for key, text in root_map_contents(
            await self._replica.open(self.day_guid(day)), root
        ).items():
            try:
                found[str(key)] = decode_entry(text)
            except ValueError:
                continue  # a peer's malformed fact: kept in the document, never read
        return found

    async def record_drawer_open(self, day: dt.date, key: str, entry: dict) -> tuple[dict, bool]:
        """Audit a drawer open in business day `day` once per `key`: the entry as recorded
        (stamped with the time) and whether it is new; a closed day refuses it.

        An open for an order is also an event of that order (kind `drawer`, under the same
        key), written first: a retry after either write failed makes the one it lacks.
        """
        if entry["order"] is not None:
            await self._drawer_event(entry["order"], key, entry)
        try:
            return await self.record_day_fact(day, DRAWER_OPENS, key, entry)
        except BusinessDayClosed:  # the day's audit trail is read-only: no record, so no open
            raise BusinessDayClosed(
                f"business day {day} is closed; the drawer opens after the rollover"
            ) from None

    async def _drawer_event(self, order_id: str, key: str, entry: dict) -> None:
        def write(draft: OrderDraft) -> None:
            if draft.has("events", key):
                return
            event = {
                "kind": "drawer",
                "drawer": entry["drawer"],
                "drawer_name": entry["drawer_name"],
                "reason": entry["reason"],
                "at": self.clock.now(),
                "by": entry["by"],
                "epoch": current_epoch(draft.view.events),
            }
            draft.add("events", key, event)

        try:
            await self._change(order_id, write)
        except BusinessDayClosed:
            pass  # the order's day is read-only: the audit of today's opens keeps this one

    async def drawer_opens(self, day: dt.date) -> dict[str, object]:
        """Business day `day`'s audited drawer opens as stored: key -> encoded entry."""
        if not self.day_exists(day):
            return {}
        return root_map_contents(await self._replica.open(self.day_guid(day)), DRAWER_OPENS)

    # -- print facts ---------------------------------------------------------------------

    async def record_print_fact(self, order_id: str, ticket: str, kind: str, printer: str) -> None:
        """Record in the order's day that this node `kind` ("sent" or "printed") ticket
        `ticket` on the store's printer `printer` (key `<ticket>|<kind>|<node>`: two nodes
        never write one key). A closed day takes no more facts: raises BusinessDayClosed."""
        guid = self._guid_of(order_id)
        fact = {"printer": printer, "at": self.clock.now()}
        text = json.dumps(fact, separators=(",", ":"))
        key = f"{ticket}|{kind}|{self.node.name}"
        try:
            await self._replica.transact(
                guid, lambda doc: doc.get(PRINT_FACTS, type=Map).__setitem__(key, text)
            )
        except DocumentClosed:
            raise BusinessDayClosed(f"business day of {order_id} is closed") from None
        finally:
            self._print_facts.pop(guid, None)

    async def print_facts(self, order_id: str) -> dict[str, dict[str, dict]]:
        """The print facts of the day of `order_id`: ticket -> "<kind>|<node>" -> fact
        (read once per change of the day: a takeover's catch-up asks for every order)."""
        guid = self._guid_of(order_id)
        if guid in self._print_facts:
            return self._print_facts[guid]
        found: dict[str, dict[str, dict]] = {}
        for key, text in root_map_contents(await self._replica.open(guid), PRINT_FACTS).items():
            ticket, kind, node = _split_fact_key(str(key))
            if ticket:
                try:
                    found.setdefault(ticket, {})[f"{kind}|{node}"] = decode_entry(text)
                except ValueError:  # a malformed fact still says the ticket went out
                    found.setdefault(ticket, {})[f"{kind}|{node}"] = {}
        self._print_facts[guid] = found
        return found


def _split_fact_key(key: str) -> tuple[str, str, str]:
    """(ticket, kind, node) of a print fact's key, or empty strings if it is not one."""
    parts = key.rsplit("|", 2)
    if len(parts) != 3 or parts[1] not in ("sent", "printed"):
        return "", "", ""
    return parts[0], parts[1], parts[2]
