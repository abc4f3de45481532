"""The sync of a store's documents with one peer node, over one link for all of them.

Each frame is a document's guid (a lib0 varstring) followed by a Yjs sync frame
(protocol.py). On opening, a side sends step 1 for every document it offers that changed
since the peer last showed it had everything (kept per link in the store, so a reconnect
costs nothing for the days neither side touched); each step 1 is answered with step 2
(only what the peer lacks), and by a step 1 of our own when the peer's shows it holds
changes we lack. The step 1s that ask for changes take turns across the node's links
(request_turns.py), so that a node is not sent the same changes by every peer.

From then on every change made on this node (by its API, its terminals) is pushed as soon
as it is durable. A change that came from another peer is not pushed on: the store's nodes
all link with each other, so the peer hears it from its author, and a relay would have
every change cross the LAN twice. Instead each side sends step 1 again once a document has
been quiet for a moment (QUIET) after a change, and the answers carry whatever a peer still
lacks, so a node that reaches another only through a third catches up within about a
second. A peer's step 1 that shows it holds all of a document is recorded as its progress,
which so follows live traffic too. So a step 1 shows only what is durable on its side
(Replica.committed_state): a hub that crashes cannot have acknowledged a change it had not
stored, which a node that archives acknowledged days relies on. A step 2 that brought
something is answered at once with a step 1, so the sender records its progress promptly.

A document the peer names that this node does not have is created if it belongs to the
store (`accept` says how); anything else — another store's document, a frame that does
not decode, an update that does not apply — ends the session with a PeerRefused naming
what was wrong, and nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sync.errors import DocumentClosed, SyncError, UnknownDocument
from sync.links.request_turns import RequestTurns
from sync.protocol import (
    MAX_FRAME_BYTES,
    ProtocolError,
    SyncStep,
    covers,
    decode,
    deflated,
    step1,
    step2,
    update,
)
from sync.protocol import var_uint as _var_uint
from sync.replica import Replica

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 10_000  # frames waiting for a slow peer before the link is dropped
QUIET = 1.0  # seconds after a document's last change before its state is shown to the peer
MAX_GUID_BYTES = 256
PEER_ORIGIN = "peer "  # origin of the changes a session stores: "peer <link>"


class PeerRefused(SyncError):
    """The peer sent something this node will not take; the link is closed."""


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """How to register a document a peer names: its kind and metadata."""

    kind: str
    meta: dict


def envelope(guid: str, frame: bytes) -> bytes:
    """A sync frame addressed to document `guid`."""
    name = guid.encode()
    return _var_uint(len(name)) + name + frame


def open_envelope(data: bytes) -> tuple[str, bytes]:
    """(guid, sync frame) of an envelope; raises ProtocolError."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_FRAME_BYTES + MAX_GUID_BYTES:
        raise ProtocolError("an envelope is binary and bounded in size")
    size = shift = at = 0
    while True:
        if at >= len(data) or shift > 14:
            raise ProtocolError("envelope without a readable guid length")
        byte = data[at]
        at += 1
        size |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if size > MAX_GUID_BYTES or at + size > len(data):
        raise ProtocolError(f"envelope guid of {size} bytes does not fit")
    try:
        guid = bytes(data[at : at + size]).decode()
    except UnicodeDecodeError:
        raise ProtocolError("envelope guid is not UTF-8") from None
    return guid, bytes(data[at + size :])


class PeerSession:
    """This node's side of the sync with one peer (`link` names the peer in the store)."""

    def __init__(
        self,
        replica: Replica,
        *,
        link: str,
        offered: Callable[[], list[str]],
        accept: Callable[[str], DocumentKind | None],
        on_close: Callable[[PeerSession], None] | None = None,
        turns: RequestTurns | None = None,
        deflate_above: int | None = None,
        carries: Callable[[str], bool] | None = None,
    ) -> None:
        """`turns` is shared by the sessions of one node (by default this one has its own);
        step 2 frames larger than `deflate_above` bytes go deflated (for a slow link whose
        other end is posedge; never to a terminal). `carries(guid)` says which documents'
        changes the link pushes live: by default those `accept` admits; a link whose peer
        may create fewer documents here than it is sent (the hub's) says which."""
        self.replica = replica
        self.link = link
        self.origin = f"{PEER_ORIGIN}{link}"
        self._offered = offered
        self._accept = accept
        self._carries = carries or (lambda guid: accept(guid) is not None)
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX_LIMIT)
        self.overflowed = False
        self.frames_in = self.frames_out = self.bytes_out = 0
        self.last_frame_at: float | None = None  # time.time() of the last frame received
        self._on_close = on_close
        self._deflate_above = deflate_above
        self._quiet: dict[str, asyncio.TimerHandle] = {}
        self._closed_seen: set[str] = set()
        self._turns = turns or RequestTurns()
        self._asking: set[str] = set()  # documents asked of the peer (or about to be)
        self._shown: dict[str, bytes] = {}  # guid -> the state last sent to the peer in a step 1
        self.ended = asyncio.Event()  # set by `end`: the link must close
        self.end_reason = ""
        self.ending = "closed"  # how the link ended, once it has: peer_link._ending

    def end(self, reason: str) -> None:
        """Ask the link carrying this session to close (the peer was removed, say)."""
        self.end_reason = reason
        self.ended.set()

    async def start(self, *, offer: bool = True) -> None:
        """Push changes live from now on; and offer what changed since the peer's last
        progress, unless `offer` is False (then call `offer` later)."""
        self.replica.add_listener(self._on_durable)
        if offer:
            await self.offer()

    async def offer(self) -> None:
        """Ask the peer about every offered document changed since its last progress."""
        for guid in self._offered():
            progress = await self.replica.store.link_progress(self.link, guid)
            if progress is None or await self.replica.store.last_seq_of(guid) > progress.acked_seq:
                await self.replica.open(guid)
                self._ask(guid)

    def close(self) -> None:
        """Stop pushing changes; safe twice."""
        self.replica.remove_listener(self._on_durable)
        for handle in self._quiet.values():
            handle.cancel()
        self._quiet.clear()
        self._turns.forget(self)
        self._asking.clear()
        self._shown.clear()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)

    async def receive(self, data: bytes) -> None:
        """Handle one envelope from the peer; raises PeerRefused (or a store error)."""
        self.frames_in += 1
        self.last_frame_at = time.time()
        try:
            guid, frame = open_envelope(data)
            message = decode(frame)
        except ProtocolError as exc:
            raise PeerRefused(f"undecodable frame: {exc}") from None
        if message is None:
            return
        await self._ensure(guid)
        if message.step == SyncStep.STEP1:
            await self._answer_step1(guid, message.payload)
            return
        changed = False
        try:
            changed = await self.replica.apply_update(guid, message.payload, self.origin)
        except DocumentClosed:
            # A document closed here while the peer still had changes for it: they stay
            # on the peer (and reach the hub from there); the link carries on.
            if guid not in self._closed_seen:
                self._closed_seen.add(guid)
                log.warning("peer %s sent changes to %s, which is closed here", self.link, guid)
        except SyncError as exc:
            raise PeerRefused(f"{guid}: {exc}") from exc
        finally:
            if message.step == SyncStep.STEP2 and guid in self._asking:
                self._asking.discard(guid)
                self._turns.answered(guid, self)
        if changed and message.step == SyncStep.STEP2:
            # The answer brought something: show the peer our state now rather than once
            # the document is quiet, so it records its progress (a hub's acknowledgement)
            # at once. An answer that changed nothing is not acknowledged: no ping-pong.
            self._show_state(guid)

    def _ask(self, guid: str) -> None:
        """Ask the peer for the changes to `guid` we lack, when it is this link's turn."""
        if guid not in self._asking:
            self._asking.add(guid)
            self._turns.ask(guid, self)

    def ask_now(self, guid: str) -> bool:
        """Our turn: send step 1 with the state we hold durably now."""
        state = self.replica.committed_state(guid)
        if state is None:
            self._asking.discard(guid)
            return False
        self._show(guid, state)
        return True

    def turn_lapsed(self, guid: str) -> None:
        self._asking.discard(guid)

    async def _ensure(self, guid: str) -> None:
        try:
            self.replica.info(guid)
            return
        except UnknownDocument:
            pass
        kind = self._accept(guid)
        if kind is None:
            raise PeerRefused(f"{guid} is not a document of this store")
        await self.replica.create(guid, kind.kind, kind.meta)

    async def _answer_step1(self, guid: str, state_vector: bytes) -> None:
        doc = await self.replica.open(guid)
        seq = await self.replica.store.last_seq_of(guid)
        try:
            missing = doc.get_update(state_vector)
        except ValueError:
            raise PeerRefused(f"{guid}: step 1 carries no state vector") from None
        frame = step2(missing)
        if self._deflate_above is not None and len(frame) > self._deflate_above:
            frame = await asyncio.to_thread(deflated, frame)  # zlib lets go of the GIL
        self._push(guid, frame)
        try:
            behind = not covers(doc.get_state(), state_vector)
        except ProtocolError as exc:
            raise PeerRefused(f"{guid}: {exc}") from None
        if behind:  # the peer holds changes we lack: ask for them
            self._ask(guid)
        elif (state := self.replica.committed_state(guid)) != self._shown.get(guid):
            # We hold all the peer has: say so, so that it records its progress (a node
            # whose changes a hub already has learns it is acknowledged). Only a state not
            # shown before, so two sides with the same state do not answer each other on.
            self._show(guid, state)
        if missing[:1] == b"\x00":  # no structs the peer lacks: that is its progress
            # (a difference always carries the whole delete set, so only its struct part,
            # whose first varint counts the clients with structs, tells)
            await self.replica.store.save_link_progress(self.link, guid, state_vector, seq)

    def _on_durable(self, guid: str, change: bytes, origin: str, seq: int) -> None:
        if not self._carries(guid):
            return
        if not origin.startswith(PEER_ORIGIN):  # made here: see the module docstring
            self._push(guid, update(change))
        handle = self._quiet.pop(guid, None)
        if handle is not None:
            handle.cancel()
        self._quiet[guid] = asyncio.get_running_loop().call_later(QUIET, self._show_state, guid)

    def _show_state(self, guid: str) -> None:
        """Send step 1 of a document that went quiet: the peer learns how far we are."""
        handle = self._quiet.pop(guid, None)
        if handle is not None:
            handle.cancel()
        state = self.replica.committed_state(guid)
        if state is not None:
            self._show(guid, state)

    def _show(self, guid: str, state: bytes) -> None:
        self._shown[guid] = state
        self._push(guid, step1(state))

    def _push(self, guid: str, frame: bytes) -> None:
        data = envelope(guid, frame)
        try:
            self.outbox.put_nowait(data)
        except asyncio.QueueFull:
            self.overflowed = True
            return
        self.frames_out += 1
        self.bytes_out += len(data)
