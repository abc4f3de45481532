"""Recently used orders as plain contents and derived views, kept in step with their docs.

Reading an order out of its Yjs map and deriving its view costs more than the rest of an
operation together; during a rush the same few open orders are read again and again. The
cache holds them, and the order book keeps it exact: a local write stores its result here
in the same step as it changes the Doc, an update from a peer drops the day's entries the
moment it changes the Doc, and a failed write drops them too (the Doc is reloaded).
"""

from __future__ import annotations

import json
from collections import OrderedDict

from pycrdt import Map

from edge.orders.view import OrderView, derive_order

DEFAULT_SIZE = 2048


class OrderCache:
    """Contents and views of up to `size` orders, least recently used dropped first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[str, dict, OrderView]] = OrderedDict()

    def read(self, guid: str, order_id: str, order: Map) -> tuple[dict, OrderView]:
        """The contents and view of `order` (the map of `order_id` in doc `guid`)."""
        hit = self._entries.get(order_id)
        if hit is not None:
            self._entries.move_to_end(order_id)
            return hit[1], hit[2]
        contents = order.to_py()
        view = derive_order(contents)
        self.store(guid, order_id, contents, view)
        return contents, view

    def peek(self, order_id: str) -> OrderView | None:
        """The cached view of an order, if it is cached (never stale: see above)."""
        hit = self._entries.get(order_id)
        return hit[2] if hit is not None else None

    def store(self, guid: str, order_id: str, contents: dict, view: OrderView) -> None:
        self._entries[order_id] = (guid, contents, view)
        self._entries.move_to_end(order_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop_document(self, guid: str) -> None:
        """Forget every order of one document (it changed outside this cache's knowledge)."""
        for order_id in [k for k, (g, _, _) in self._entries.items() if g == guid]:
            del self._entries[order_id]


class OrderDraft:
    """One order inside a write transaction: its view now, and the entries being added.

    Entries are written as compact JSON strings (see docs/orders.md: an immutable entry
    needs no per-field CRDT, and Yrs holds a string in a fraction of the memory of a map).
    """

    def __init__(self, cache: OrderCache, guid: str, order_id: str, order: Map) -> None:
        self._cache = cache
        self._guid = guid
        self._order_id = order_id
        self._order = order
        self._contents, self.view = cache.read(guid, order_id, order)
        self._added: dict[str, dict[str, str]] = {}

    def has(self, section: str, key: str) -> bool:
        """Whether the order's map `section` holds an entry under `key`."""
        return key in self._order[section]

    def add(self, section: str, key: str, entry: dict) -> None:
        """Add an immutable entry to one of the order's maps (lines, payments, events …)."""
        text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
        self._order[section][key] = text
        self._added.setdefault(section, {})[key] = text

    def finish(self) -> OrderView:
        """The order's view with the added entries; the cache holds it from now on."""
        if not self._added:
            return self.view
        contents = dict(self._contents)  # cached contents are shared: copy what changes
        for section, entries in self._added.items():
            contents[section] = {**(contents.get(section) or {}), **entries}
        view = derive_order(contents)
        self._cache.store(self._guid, self._order_id, contents, view)
        return view
