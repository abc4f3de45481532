"""The Yjs sync protocol on the wire (y-protocols, as y-websocket frames it). Pure logic.

A frame is a varuint message type, then its content. posedge speaks type 0, sync:

    0, 0, varbytes(state vector)   step 1: "this is what I have"
    0, 1, varbytes(update)         step 2: "this is what you lack", the answer to step 1
    0, 2, varbytes(update)         update: a change, pushed live

JavaScript clients also send awareness (1: who has the document open, as JSON states),
awareness queries (3) and auth (2). `decode` ignores them; the awareness frames are read and
written here for the terminal links that relay them (links/awareness.py):

    1, varbytes(n, n * (varuint client, varuint clock, varstring JSON state or "null"))
    3                              query: "tell me every state you know"

Between posedge nodes and the hub there is one more type of posedge's own:

    90, zlib(frame)                a sync frame, deflated

which a node uses for a big step 2 on a slow link (a day's catch-up to the hub deflates to
about an eighth, better than the WebSocket's own fastest-level deflate does).
Decoding is strict and bounded: a frame that is truncated, too large (inflated too), of an
unknown type, or with bytes after its content raises ProtocolError, never anything else.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from sync.errors import SyncError

MAX_FRAME_BYTES = 64 * 1024 * 1024 + 64  # an update of the largest size a replica takes
AWARENESS = 1
QUERY_AWARENESS = 3
IGNORED_TYPES = (AWARENESS, 2, QUERY_AWARENESS)  # by `decode`; 2 is auth
MAX_AWARENESS_BYTES = 16 * 1024  # an awareness frame a remote sends, at most
DEFLATED = 90  # posedge's own: a sync frame, zlib-compressed
DEFLATE_LEVEL = 6


class ProtocolError(SyncError):
    """A frame does not follow the sync protocol (the link that sent it is closed)."""


class SyncStep(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


@dataclass(frozen=True, slots=True)
class SyncMessage:
    """One sync message: a state vector (step 1) or an update (step 2, update)."""

    step: SyncStep
    payload: bytes


@dataclass(frozen=True, slots=True)
class AwarenessState:
    """One awareness client's state as of `clock`: JSON text, or None once it is gone."""

    client: int
    clock: int
    state: str | None


def var_uint(number: int) -> bytes:
    """`number` as an unsigned LEB128 varint, as lib0 writes it."""
    if number < 0:
        raise ValueError("a varuint cannot be negative")
    out = bytearray()
    while number > 0x7F:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    out.append(number)
    return bytes(out)


def encode(step: SyncStep, payload: bytes) -> bytes:
    """The frame carrying one sync message."""
    return bytes([0, step]) + var_uint(len(payload)) + bytes(payload)


def step1(state_vector: bytes) -> bytes:
    return encode(SyncStep.STEP1, state_vector)


def step2(update: bytes) -> bytes:
    return encode(SyncStep.STEP2, update)


def update(update: bytes) -> bytes:
    return encode(SyncStep.UPDATE, update)


def awareness(states: Sequence[AwarenessState]) -> bytes:
    """The awareness frame announcing `states`."""
    body = bytearray(var_uint(len(states)))
    for one in states:
        text = (one.state if one.state is not None else "null").encode()
        body += var_uint(one.client) + var_uint(one.clock) + var_uint(len(text)) + text
    return var_uint(AWARENESS) + var_uint(len(body)) + bytes(body)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def var_uint(self, what: str, bits: int = 32) -> int:
        number = shift = 0
        while True:
            if self.at >= len(self.data):
                raise ProtocolError(f"frame ends inside the {what}")
            byte = self.data[self.at]
            self.at += 1
            number |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return number
            shift += 7
            if shift >= bits + 7:
                raise ProtocolError(f"the {what} is not a varuint of at most {bits} bits")

    def var_bytes(self, what: str) -> bytes:
        size = self.var_uint(f"length of the {what}")
        end = self.at + size
        if end > len(self.data):
            raise ProtocolError(f"frame ends inside the {what} ({size} bytes announced)")
        chunk = self.data[self.at : end]
        self.at = end
        return chunk


def deflated(frame: bytes) -> bytes:
    """`frame` deflated (CPU-bound: call it off the event loop for a big frame)."""
    return var_uint(DEFLATED) + zlib.compress(frame, DEFLATE_LEVEL)


def _inflated(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        frame = inflater.decompress(data, MAX_FRAME_BYTES + 1)
    except zlib.error as exc:
        raise ProtocolError(f"deflated frame does not inflate: {exc}") from None
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"deflated frame inflates beyond {MAX_FRAME_BYTES} bytes")
    if not inflater.eof:
        raise ProtocolError("deflated frame is truncated")
    if inflater.unused_data:
        raise ProtocolError(f"{len(inflater.unused_data)} stray bytes after the deflated frame")
    return frame


def decode(frame: bytes, *, inflate: bool = True) -> SyncMessage | None:
    """The sync message in `frame`, or None for a message type posedge ignores."""
    if not isinstance(frame, bytes | bytearray):
        raise ProtocolError(f"a frame is binary, not {type(frame).__name__}")
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    reader = _Reader(bytes(frame))
    kind = reader.var_uint("message type")
    if kind in IGNORED_TYPES:
        return None
    if kind == DEFLATED and inflate:  # never twice: a deflated frame holds a plain one
        return decode(_inflated(reader.data[reader.at :]), inflate=False)
    if kind != 0:
        raise ProtocolError(f"unknown message type {kind}")
    step = reader.var_uint("sync step")
    if step not in SyncStep._value2member_map_:
        raise ProtocolError(f"unknown sync step {step}")
    payload = reader.var_bytes("sync payload")
    if reader.at != len(reader.data):
        raise ProtocolError(f"{len(reader.data) - reader.at} stray bytes after the message")
    return SyncMessage(SyncStep(step), payload)


def message_type(frame: bytes) -> int:
    """The message type `frame` opens with; raises ProtocolError."""
    if not isinstance(frame, bytes | bytearray):
        raise ProtocolError(f"a frame is binary, not {type(frame).__name__}")
    return _Reader(bytes(frame)).var_uint("message type")


def decode_awareness(frame: bytes) -> list[AwarenessState]:
    """The states an awareness frame announces. Raises ProtocolError for one over
    MAX_AWARENESS_BYTES, truncated, with stray bytes, or with a state that is not JSON."""
    if len(frame) > MAX_AWARENESS_BYTES:
        raise ProtocolError(f"awareness frame of {len(frame)} bytes exceeds {MAX_AWARENESS_BYTES}")
    reader = _Reader(bytes(frame))
    if reader.var_uint("message type") != AWARENESS:
        raise ProtocolError("not an awareness frame")
    body = _Reader(reader.var_bytes("awareness update"))
    if reader.at != len(reader.data):
        raise ProtocolError(f"{len(reader.data) - reader.at} stray bytes after the awareness")
    states = []
    for _ in range(body.var_uint("count of awareness states")):
        client = body.var_uint("awareness client id", bits=64)
        clock = body.var_uint("awareness clock", bits=64)
        raw = body.var_bytes("awareness state")
        try:
            text = raw.decode("utf-8")
            value = json.loads(text)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise ProtocolError(f"the awareness state of client {client} is not JSON") from None
        states.append(AwarenessState(client, clock, None if value is None else text))
    if body.at != len(body.data):
        raise ProtocolError(f"{len(body.data) - body.at} stray bytes in the awareness update")
    return states


def state_vector(data: bytes) -> dict[int, int]:
    """A Yjs state vector (client -> next clock) as lib0 encodes it; raises ProtocolError."""
    reader = _Reader(bytes(data))
    clients = {}
    for _ in range(reader.var_uint("state vector length")):
        client = reader.var_uint("client id", bits=64)  # Yjs client ids reach 53 bits
        clients[client] = reader.var_uint("clock", bits=64)
    if reader.at != len(reader.data):
        raise ProtocolError("stray bytes after the state vector")
    return clients


def covers(ours: bytes, theirs: bytes) -> bool:
    """Whether state vector `ours` holds everything `theirs` does."""
    have = state_vector(ours)
    return all(have.get(client, 0) >= clock for client, clock in state_vector(theirs).items())
