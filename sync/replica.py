"""The node's live replica: in-memory Yjs documents, each backed by the document store.

A local change runs as one Yjs transaction; the update it produces is appended to the store,
and only when that append has committed does `transact` return. A remote update is decoded
on a scratch document first, so a corrupt one is refused before it touches a live document
or the store.

Contract: every Doc lives on the event loop thread that owns the Replica.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from pycrdt import Doc, Map, TransactionEvent, get_update

from sync.errors import InvalidUpdate, StoreUnavailable, UnknownDocument
from sync.store import DocStore, DocumentInfo

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_UPDATE_BYTES = 64 * 1024 * 1024
"""Largest update accepted from outside. A catch-up carries a whole document in one update:
a document of 5,000 maps of a dozen entries each is about 7 MiB uncompressed, so this
leaves room for one several times larger, and still bounds what a garbage frame can make a
node allocate."""

MAX_WAITING = 1000
"""Most received updates held per document while their dependencies are missing; the sync
protocol's state vectors make a peer send the dropped ones again."""

EMPTY_UPDATE = b"\x00\x00"


class UpdateListener(Protocol):
    """Told about every update after it is durable, local or remote, with its store
    sequence number."""

    def __call__(self, guid: str, update: bytes, origin: str, seq: int) -> None: ...


def new_client_id() -> int:
    """A fresh random Yjs client id (32 bits, as JavaScript Yjs uses).

    Each loaded Doc gets its own: reusing a client id after a crash could let two different
    updates claim the same Yjs identifiers.
    """
    return secrets.randbits(32)


class Replica:
    """Live documents of this node, loaded on first use and written through to the store."""

    def __init__(self, store: DocStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._used: dict[str, float] = {}  # guid -> when it was last opened or written
        self._committing: dict[str, int] = {}  # guid -> changes applied, not yet durable
        self._committed: dict[str, bytes] = {}  # guid -> its state before the first of them
        self._docs: dict[str, Doc] = {}
        self._captured: dict[str, list[bytes]] = {}
        self._waiting: dict[str, list[bytes]] = {}
        self._listeners: list[UpdateListener] = []
        self._remote_change_listeners: list[Callable[[str], None]] = []
        self._load_listeners: list[Callable[[str, Doc], None]] = []

    def add_listener(self, listener: UpdateListener) -> None:
        """Call `listener` after each durable update."""
        self._listeners.append(listener)

    def remove_listener(self, listener: UpdateListener) -> None:
        """Stop calling `listener` (safe if it was never added)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_remote_change_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(guid)` the moment an update from elsewhere changes a live Doc,
        before it is stored (for caches of what the Doc holds)."""
        self._remote_change_listeners.append(listener)

    def add_load_listener(self, listener: Callable[[str, Doc], None]) -> None:
        """Call `listener(guid, doc)` each time a Doc is loaded into memory (to observe it;
        a Doc is loaded again after a failed write)."""
        self._load_listeners.append(listener)

    async def create(self, guid: str, kind: str, meta: dict | None = None) -> Doc:
        """Register a document if it is new, and return its live Doc."""
        await self.store.register(guid, kind, meta)
        return await self.open(guid)

    def info(self, guid: str) -> DocumentInfo:
        """The registry entry of `guid` (raises UnknownDocument)."""
        return self.store.document(guid)

    def known(self, guid: str) -> bool:
        """Whether `guid` is registered here."""
        try:
            self.store.document(guid)
        except UnknownDocument:
            return False
        return True

    def loaded(self, guid: str) -> Doc | None:
        """The live Doc of `guid` if it is in memory."""
        return self._docs.get(guid)

    def loaded_documents(self) -> dict[str, Doc]:
        """Every live Doc in memory, by guid."""
        return dict(self._docs)

    async def open(self, guid: str) -> Doc:
        """The live Doc of a registered document, loading it from the store if needed."""
        self._used[guid] = self._clock()
        doc = self._docs.get(guid)
        if doc is not None:
            return doc
        updates = await self.store.load(guid)
        doc = self._docs.get(guid)  # another caller may have loaded it meanwhile
        if doc is not None:
            return doc
        doc = Doc(client_id=new_client_id(), guid=guid)
        with doc.transaction():
            for update in updates:
                doc.apply_update(update)
        captured: list[bytes] = []
        doc.observe(lambda event: _capture(captured, event))
        self._docs[guid] = doc
        self._captured[guid] = captured
        for listener in self._load_listeners:
            listener(guid, doc)
        return doc

    def unload(self, guid: str) -> None:
        """Drop the live Doc of `guid`; the next `open` reloads it from the store."""
        self._docs.pop(guid, None)
        self._captured.pop(guid, None)
        self._waiting.pop(guid, None)
        self._used.pop(guid, None)

    def unload_idle(self, idle: float) -> list[str]:
        """Drop the live Docs not opened or written for `idle` seconds (a hub holding many
        stores keeps only those in use); a Doc holding received updates that still wait for
        their dependencies stays. Returns the guids dropped."""
        since = self._clock() - idle
        dropped = [
            guid
            for guid in self._docs
            if self._used.get(guid, since) <= since and not self._waiting.get(guid)
        ]
        for guid in dropped:
            self.unload(guid)
        return dropped

    async def transact(self, guid: str, change: Callable[[Doc], T]) -> T:
        """Run `change(doc)` in one Yjs transaction and return once its update is durable.

        Raises what `change` raises (with the document untouched if it raised before
        writing), or a store error; after a store error the Doc is reloaded on next use.
        """
        doc = await self.open(guid)
        self.store.check_writable(guid)
        captured = self._captured[guid]
        captured.clear()
        self._begin_change(guid, doc)
        try:
            try:
                with doc.transaction():
                    result = change(doc)
            except BaseException:
                if captured:  # it wrote before raising: drop the half-made change
                    self.unload(guid)
                raise
            updates = list(captured)
            captured.clear()
            await self._persist(guid, updates, "local")
        finally:
            self._end_change(guid)
        return result

    def waiting(self, guid: str) -> bool:
        """Whether `guid` has received updates whose structs it has not integrated yet."""
        return bool(self._waiting.get(guid))

    async def apply_update(self, guid: str, update: bytes, origin: str) -> bool:
        """Apply an update received from `origin`; return whether it changed anything.

        Raises UnknownDocument, DocumentClosed, InvalidUpdate (nothing touched) or
        StoreUnavailable.
        """
        self.store.check_writable(guid)
        check_update(update)
        doc = await self.open(guid)
        captured = self._captured[guid]
        captured.clear()
        waiting = self._waiting.setdefault(guid, [])
        self._begin_change(guid, doc)
        try:
            doc.apply_update(bytes(update))
            waiting.append(bytes(update))
            self._integrate_waiting(doc, waiting)
            updates = list(captured)
            captured.clear()
            if updates:
                for listener in self._remote_change_listeners:
                    listener(guid)
            await self._persist(guid, updates, origin)
        finally:
            self._end_change(guid)
        return bool(updates)

    def committed_state(self, guid: str) -> bytes | None:
        """The state vector of what of `guid` is durable, for telling a peer or a node what
        it may count as kept (None if the Doc is not in memory). While changes are being
        committed it is the state before the first of them: behind, never ahead."""
        doc = self._docs.get(guid)
        if doc is None:
            return None
        return self._committed[guid] if self._committing.get(guid) else doc.get_state()

    def _begin_change(self, guid: str, doc: Doc) -> None:
        if not self._committing.get(guid):
            self._committed[guid] = doc.get_state()
        self._committing[guid] = self._committing.get(guid, 0) + 1

    def _end_change(self, guid: str) -> None:
        self._committing[guid] -= 1
        if not self._committing[guid]:
            del self._committing[guid], self._committed[guid]

    def _integrate_waiting(self, doc: Doc, waiting: list[bytes]) -> None:
        """Re-apply received updates whose structs the Doc has not integrated yet.

        An update that arrives before one it depends on is held by Yrs as pending; with
        pycrdt 0.14.13, when two pending updates wait on the same missing one, one of them
        is silently dropped once it arrives (see tests/sync/test_replica.py). Re-applying an
        update once its dependencies are in is safe (Yjs integration is idempotent) and
        recovers it, so updates are kept here until the Doc's state covers them.
        """
        progress = True
        while progress:
            progress = False
            for update in list(waiting):
                if _is_integrated(update, doc):
                    waiting.remove(update)
                    progress = True
                else:
                    before = doc.get_state()
                    doc.apply_update(update)
                    progress = progress or doc.get_state() != before
        if len(waiting) > MAX_WAITING:
            log.warning(
                "%s: dropping %d updates whose dependencies never arrived",
                doc.guid,
                len(waiting) - MAX_WAITING,
            )
            del waiting[:-MAX_WAITING]

    async def _persist(self, guid: str, updates: list[bytes], origin: str) -> None:
        try:
            seqs = [await self.store.append(guid, update) for update in updates]
        except StoreUnavailable:
            # The live Doc now holds a change the store does not: reload it from disk.
            self.unload(guid)
            raise
        self._used[guid] = self._clock()
        for update, seq in zip(updates, seqs, strict=True):
            for listener in self._listeners:
                try:
                    listener(guid, update, origin, seq)
                except Exception:
                    log.exception("update listener %r failed", listener)


def root_map_contents(doc: Doc, name: str) -> dict:
    """The plain contents of the root map `name`, read in one transaction.

    Yrs serialises the whole map to JSON in Rust about five times faster than `Map.to_py`
    walks it in Python (5,000 nested maps: ~110 ms instead of ~700 ms). That goes through
    pycrdt's integrated map, not its public API; pycrdt is pinned below 0.15 for it, and the
    public walk is used if the internals ever change. Numbers may come back as ints.
    """
    root = doc.get(name, type=Map)
    with doc.transaction() as txn:
        try:
            text = root.integrated.to_json(txn._txn)
        except AttributeError:
            return root.to_py() or {}
    return json.loads(text)


def check_update(update: bytes) -> None:
    """Raise InvalidUpdate unless `update` decodes as a Yjs update of a sane size."""
    if not isinstance(update, bytes | bytearray | memoryview):
        raise InvalidUpdate(f"an update must be bytes, not {type(update).__name__}")
    if len(update) > MAX_UPDATE_BYTES:
        raise InvalidUpdate(f"update of {len(update)} bytes exceeds {MAX_UPDATE_BYTES} bytes")
    try:
        Doc().apply_update(bytes(update))
    except ValueError as exc:
        raise InvalidUpdate(f"cannot decode update: {exc}") from exc


def _is_integrated(update: bytes, doc: Doc) -> bool:
    """Whether every struct of `update` is covered by the Doc's state vector.

    The difference of an update against a state keeps the whole delete set, so only its
    struct part, whose first varint counts clients with structs, tells.
    """
    return get_update(update, doc.get_state())[0] == 0


def _capture(captured: list[bytes], event: TransactionEvent) -> None:
    update = event.update
    if update != EMPTY_UPDATE:
        captured.append(update)
