"""The store document: what belongs to the store, not to one machine, replicated like the
order log to every node of the store and to the hub.

It holds registers (registers.py) named `kind:name`:

| kind | name | value |
| --- | --- | --- |
| `setting` | a store-wide setting's key (`receipt.header`) | its value as in TOML |
| `device` | a network device's id | its `[devices.<id>]` table |
| `station` | a catalog station | the id of the printer its tickets go to |
| `owner` | a network device's id | the node that prefers to drive it |
| `node` | a node's name | what it tells the others: its API addresses, its own printers |
| `user` | a manager UI user's name | role, salted scrypt hash, when added |
| `terminal` | a paired terminal's id | name, role, token hash, when paired, when revoked |
| `employee` | an employee's id (`e-3fa2c1`) | name, role, salted scrypt hash of the PIN |
| `staff_session` | the SHA-256 of a staff sign-in's token | who, on which terminal, until |
| `unavailable` | a sku, or `modifier:<code>` | why, by whom and when it was 86'd |

Each register holds its latest write (HLC order), whichever node made it: docs/store.md
says what that means per kind. The document lives on the event loop like every Doc;
listeners hear which keys changed after every durable update, local or from a peer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from pycrdt import Doc, Map

from edge.config.registers import CHANGES, Entry, encode, group, latest, superseded
from sync.replica import Replica, root_map_contents
from sync.store_file import read_updates

log = logging.getLogger(__name__)

KIND = "store"  # the document's kind in the store's registry

Listener = Callable[[set[str]], None]


class Clock(Protocol):
    """A hybrid logical clock (edge/orders/clock.py)."""

    def now(self) -> str: ...

    def observe(self, timestamp: str) -> None: ...


def read_registers(store_path: Path, guid: str) -> dict[str, Entry]:
    """The registers of the store document in the store file at `store_path`, read without
    changing it (the CLI, beside a running daemon); raises StoreUnavailable or StoreCorrupt."""
    doc = Doc()
    with doc.transaction():
        for update in read_updates(store_path, guid):
            doc.apply_update(update)
    return latest(root_map_contents(doc, CHANGES))


class StoreDocument:
    """The store document on this node: its registers, kept current, and writes to them."""

    def __init__(self, replica: Replica, guid: str, clock: Clock) -> None:
        self.replica = replica
        self.guid = guid
        self._clock = clock
        self._registers: dict[str, Entry] = {}
        self._listeners: list[Listener] = []
        self._opened = False

    async def open(self) -> None:
        """Register the document if it is new, read it, and follow its updates."""
        if self._opened:
            return
        doc = await self.replica.create(self.guid, KIND)
        self._opened = True
        self.replica.add_listener(self._on_update)
        self._refresh(doc)

    def close(self) -> None:
        """Stop following the document (safe twice)."""
        self.replica.remove_listener(self._on_update)
        self._opened = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changed keys)` after each change; returns how to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- reading -------------------------------------------------------------------------

    def value(self, key: str) -> object:
        """The value of register `key` (None: never written, or removed)."""
        entry = self._registers.get(key)
        return None if entry is None else entry.value

    def entry(self, key: str) -> Entry | None:
        """Register `key` with its stamp (a removal too), or None if never written."""
        return self._registers.get(key)

    def group(self, kind: str) -> dict[str, Entry]:
        """The live registers of `kind`, by name."""
        return group(self._registers, kind)

    # -- writing -------------------------------------------------------------------------

    async def write(self, changes: dict[str, object], *, drop: Iterable[str] = ()) -> str:
        """Write `changes` (key -> value, None removes) in one durable transaction; returns
        the stamp of the last write. Each write is later than every one of its key seen.

        The registers `drop` names are deleted outright, leaving no removal behind: only
        for registers whose value can no longer matter to anyone (an expired staff
        session), so that the document does not grow without end.
        """

        def change(doc: Doc) -> str:
            root = doc.get(CHANGES, type=Map)
            for stamp in superseded(root_map_contents(doc, CHANGES), set(changes) | set(drop)):
                del root[stamp]
            stamp = ""
            for key, value in changes.items():
                stamp = self._clock.now()
                root[stamp] = encode(key, value)
            return stamp

        return await self.replica.transact(self.guid, change)

    # -- following -----------------------------------------------------------------------

    def _on_update(self, guid: str, update: bytes, origin: str, seq: int) -> None:
        if guid != self.guid:
            return
        doc = self.replica.loaded(guid)
        if doc is not None:
            self._refresh(doc)

    def _refresh(self, doc: Doc) -> None:
        registers = latest(root_map_contents(doc, CHANGES))
        changed = {
            key
            for key in registers.keys() | self._registers.keys()
            if registers.get(key) != self._registers.get(key)
        }
        self._registers = registers
        for entry in registers.values():
            try:
                self._clock.observe(entry.stamp)
            except ValueError:  # not a stamp: the entry counts, the clock ignores it
                log.warning("store document: entry of %s has no valid stamp", entry.key)
        if changed:
            for listener in list(self._listeners):
                try:
                    listener(changed)
                except Exception:
                    log.exception("store document listener %r failed", listener)
