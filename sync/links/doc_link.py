"""One document kept in sync with one remote (a terminal, a peer) over any message link.

The link speaks the Yjs sync protocol (protocol.py): it opens with step 1 (our state
vector), answers the remote's step 1 with step 2 (what the remote lacks), applies the
remote's step 2 and updates through the replica (checked on a scratch document, size
bounded, durable before they count), and pushes every durable change made elsewhere to the
remote as it happens. Frames for the remote wait in a bounded outbox that the transport
drains; a remote too slow to keep up overflows it and must reconnect (its next sync
catches it up). Given an awareness `relay`, it also relays the remote's awareness to the
document's other remotes on this node and theirs to it (awareness.py), and answers its
awareness queries; without one, awareness is ignored.
"""

from __future__ import annotations

import asyncio

from pycrdt import Doc

from sync.errors import SyncError
from sync.links.awareness import AwarenessRelay, Presence
from sync.protocol import (
    AWARENESS,
    QUERY_AWARENESS,
    ProtocolError,
    SyncStep,
    awareness,
    decode,
    message_type,
    step1,
    step2,
    update,
)
from sync.replica import Replica

OUTBOX_LIMIT = 1000  # frames


class ReadOnlyDocument(SyncError):
    """The remote sent changes to a document it may only read."""


class DocLink:
    """The sync of document `guid` with one remote; `origin` names the remote in the store."""

    def __init__(
        self,
        replica: Replica,
        guid: str,
        *,
        origin: str,
        writable: bool,
        relay: AwarenessRelay | None = None,
    ) -> None:
        self.replica = replica
        self.guid = guid
        self.origin = origin
        self.writable = writable
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX_LIMIT)
        self.overflowed = False
        self.synced = asyncio.Event()  # set once the remote's step 2 arrived
        self._doc: Doc | None = None
        self._relay = relay
        self._presence: Presence | None = None

    async def start(self) -> None:
        """Load the document, send step 1 (and the awareness known), and start pushing
        changes (call `close` after)."""
        self._doc = await self.replica.open(self.guid)
        self.replica.add_listener(self._on_durable)
        self._push(step1(self._doc.get_state()))
        if self._relay is not None:
            self._presence = self._relay.join(self.guid, self._push)
            if known := self._presence.known():
                self._push(awareness(known))

    def close(self) -> None:
        """Stop pushing changes and leave the awareness room; safe twice."""
        self.replica.remove_listener(self._on_durable)
        if self._presence is not None:
            self._presence.leave()

    async def receive(self, frame: bytes) -> None:
        """Handle one frame from the remote.

        Raises ProtocolError, ReadOnlyDocument, or what the replica raises for a bad update
        (InvalidUpdate, DocumentClosed, StoreUnavailable); nothing is stored in those cases.
        """
        if self._presence is not None:
            kind = message_type(frame)
            if kind == AWARENESS:
                self._presence.hear(frame)
                return
            if kind == QUERY_AWARENESS:
                self._push(awareness(self._presence.known()))
                return
        message = decode(frame)
        if message is None:
            return
        if message.step == SyncStep.STEP1:
            self._push(step2(self._missing(message.payload)))
            return
        if not self.writable and message.payload not in _EMPTY_UPDATES:
            raise ReadOnlyDocument(f"{self.origin} may not change {self.guid}")
        await self.replica.apply_update(self.guid, message.payload, self.origin)
        if message.step == SyncStep.STEP2:
            self.synced.set()

    def _missing(self, state_vector: bytes) -> bytes:
        doc = self.replica.loaded(self.guid) or self._doc
        assert doc is not None
        try:
            return doc.get_update(state_vector)
        except ValueError as exc:
            raise ProtocolError(f"step 1 carries no state vector: {exc}") from None

    def _on_durable(self, guid: str, change: bytes, origin: str, seq: int) -> None:
        if guid == self.guid and origin != self.origin:
            self._push(update(change))

    def _push(self, frame: bytes) -> None:
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True


_EMPTY_UPDATES = (b"\x00\x00", b"\x00\x00\x00")  # Yjs' encodings of "nothing", v1 and v2
