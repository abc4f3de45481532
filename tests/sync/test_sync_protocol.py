"""The sync protocol's frames: y-websocket's byte layout, strict and bounded decoding."""

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Map, create_sync_message, create_update_message

from sync.protocol import (
    DEFLATED,
    MAX_FRAME_BYTES,
    ProtocolError,
    SyncMessage,
    SyncStep,
    decode,
    deflated,
    step1,
    step2,
    update,
    var_uint,
)


def test_frames_match_what_pycrdt_and_yjs_write():
    doc = Doc()
    doc["orders"] = orders = Map()
    orders["a"] = "b"
    assert step1(doc.get_state()) == create_sync_message(doc)
    change = doc.get_update()
    assert update(change) == create_update_message(change)
    assert step2(change) == bytes([0, 1]) + var_uint(len(change)) + change


@given(st.sampled_from(list(SyncStep)), st.binary(max_size=70_000))
def test_every_message_decodes_to_itself(step, payload):
    assert decode(bytes([0, step]) + var_uint(len(payload)) + payload) == SyncMessage(step, payload)


@pytest.mark.parametrize("kind", [1, 2, 3])
def test_awareness_auth_and_queries_are_ignored(kind):
    assert decode(bytes([kind, 1, 0])) is None


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (b"", "message type"),
        (b"\x07", "unknown message type 7"),
        (b"\x00", "sync step"),
        (b"\x00\x05\x00", "unknown sync step 5"),
        (b"\x00\x02", "length of the sync payload"),
        (b"\x00\x02\x05ab", "ends inside the sync payload"),
        (b"\x00\x02\x01ab", "1 stray bytes"),
        (b"\x00\x02\xff\xff\xff\xff\xff\xff\x01", "at most 32 bits"),
    ],
)
def test_malformed_frames_are_protocol_errors(frame, words):
    with pytest.raises(ProtocolError, match=words):
        decode(frame)


def test_oversized_and_text_frames_are_refused():
    with pytest.raises(ProtocolError, match="exceeds"):
        decode(b"\x00\x02" + b"\x00" * MAX_FRAME_BYTES)
    with pytest.raises(ProtocolError, match="binary"):
        decode("text")


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_protocol_error(frame):
    try:
        result = decode(frame)
    except ProtocolError:
        return
    assert result is None or (isinstance(result, SyncMessage) and frame[0] in (0, DEFLATED))


def test_a_deflated_frame_decodes_to_the_frame_it_holds():
    change = b"order line " * 5000
    frame = deflated(step2(change))
    assert frame[0] == DEFLATED and len(frame) < len(change) / 50
    assert decode(frame) == SyncMessage(SyncStep.STEP2, change)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not zlib at all", "does not inflate"),
        (zlib.compress(step2(b"x" * 1000))[:-6], "truncated"),
        (zlib.compress(step2(b"x")) + b"tail", "4 stray bytes after the deflated frame"),
        (zlib.compress(bytes(MAX_FRAME_BYTES + 10)), "inflates beyond"),  # a zip bomb
        (zlib.compress(deflated(step2(b"twice"))), "unknown message type 90"),  # twice
    ],
)
def test_bad_deflated_frames_are_protocol_errors(body, words):
    with pytest.raises(ProtocolError, match=words):
        decode(var_uint(DEFLATED) + body)
