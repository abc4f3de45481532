"""The order feed: which orders changed, in the order their changes became durable.

Each durable update of a business day (made here or received from a peer) becomes one
`OrderChange` naming the orders it touched; an update of the catalog becomes one with
`catalog=True`. Its `cursor` is the update's sequence number in the document store, which
only grows and survives restarts, so a terminal that saw cursor N can ask for everything
after N.

An update that arrives before one it depends on (an order created on a peer, relayed by a
third node ahead of that peer's earlier update) is held by Yrs as pending, and Yrs tells the
observers of its orders then, in a transaction whose update is empty; the transaction that
later integrates it tells them nothing. So the orders of such a transaction are kept and
named by every durable update of the day until the replica holds nothing pending for it.

The feed remembers the latest `history` changes. A resume point it can serve exactly is one
at or after its floor: the store's last sequence number when the feed started (nothing
before it is remembered), or the cursor of the newest change it has since forgotten.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pycrdt import Doc, Map, MapEvent, TransactionEvent

from sync.replica import EMPTY_UPDATE, Replica

log = logging.getLogger(__name__)

DEFAULT_HISTORY = 20_000


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One durable update: the orders of business day `guid` it changed, or the catalog."""

    cursor: int
    guid: str
    order_ids: tuple[str, ...] = ()
    catalog: bool = False


Subscriber = Callable[[OrderChange], None]


class OrderFeed:
    """Order changes of one store, as they become durable, with resume points."""

    def __init__(self, replica: Replica, *, store_id: str, history: int = DEFAULT_HISTORY) -> None:
        self._replica = replica
        self._day_prefix = f"{store_id}/orders/"
        self._catalog_guid = f"{store_id}/catalog"
        self._history: deque[OrderChange] = deque()
        self._size = history
        self.floor = replica.store.last_seq
        self._subscribers: list[Subscriber] = []
        self._touched: dict[str, set[str]] = {}  # guid → orders touched by the open txn
        self._pending: dict[str, set[str]] = {}  # guid → orders of updates Yrs holds pending
        self._by_update: dict[tuple[str, bytes], tuple[str, ...]] = {}
        self._observed: dict[str, Map] = {}
        replica.add_load_listener(self._watch)
        replica.add_listener(self._on_durable)
        for guid, doc in replica.loaded_documents().items():
            self._watch(guid, doc)

    @property
    def cursor(self) -> int:
        """The newest resume point: the store's last sequence number."""
        return self._replica.store.last_seq

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(change)` for each change from now on; returns the unsubscriber."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def since(self, cursor: int) -> list[OrderChange] | None:
        """The changes after `cursor`, oldest first; None if they are not all remembered."""
        if cursor < self.floor or cursor > self.cursor:
            return None
        return [change for change in self._history if change.cursor > cursor]

    # -- wiring to the replica -----------------------------------------------------------

    def _watch(self, guid: str, doc: Doc) -> None:
        """Observe a business day's orders (again, when the Doc was reloaded)."""
        if not guid.startswith(self._day_prefix):
            return
        self._touched[guid] = set()
        for key in [key for key in self._by_update if key[0] == guid]:
            del self._by_update[key]  # updates of the previous Doc that never became durable
        orders = doc.get("orders", type=Map)
        orders.observe_deep(lambda events: self._collect(guid, events))
        self._observed[guid] = orders  # pycrdt drops the subscription with the Map object
        # Registered after the deep observer, so Yrs calls it after it, once per transaction.
        doc.observe(lambda event: self._seal(guid, event))

    def _collect(self, guid: str, events: list[MapEvent]) -> None:
        touched = self._touched[guid]
        for event in events:
            path = event.path
            if path:
                touched.add(str(path[0]))
            else:  # the root map itself: orders added (or, from a bad peer, removed)
                touched.update(str(key) for key in event.keys)

    def _seal(self, guid: str, event: TransactionEvent) -> None:
        touched = self._touched[guid]
        if event.update == EMPTY_UPDATE:  # structs held pending: they come in a later update
            if touched:
                self._pending.setdefault(guid, set()).update(touched)
            touched.clear()
            return
        order_ids = touched | self._pending.get(guid, set())
        if order_ids:
            self._by_update[(guid, event.update)] = tuple(sorted(order_ids))
        touched.clear()

    def _on_durable(self, guid: str, update: bytes, origin: str, seq: int) -> None:
        if guid == self._catalog_guid:
            change = OrderChange(seq, guid, catalog=True)
        else:
            order_ids = self._by_update.pop((guid, update), None)
            if guid in self._pending and not self._replica.waiting(guid):
                del self._pending[guid]  # every update held pending is in now
            if not order_ids:
                return
            change = OrderChange(seq, guid, order_ids)
        self._history.append(change)
        while len(self._history) > self._size:
            self.floor = self._history.popleft().cursor
        for subscriber in list(self._subscribers):
            try:
                subscriber(change)
            except Exception:
                log.exception("order feed subscriber %r failed", subscriber)
