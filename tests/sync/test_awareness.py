"""Awareness relayed among the remotes of a document (sync/links/awareness.py): frames a
remote may not send are refused with nothing relayed, stale states are not passed on, a
state may move from one remote to another, and only the gone remote's clients are
announced gone when it leaves."""

from __future__ import annotations

import json

import pytest

from sync.links.awareness import MAX_CLIENTS, AwarenessRelay
from sync.protocol import (
    AWARENESS,
    MAX_AWARENESS_BYTES,
    AwarenessState,
    ProtocolError,
    awareness,
    decode_awareness,
    var_uint,
)


def state(client: int, clock: int, name: str | None = "Till 1") -> AwarenessState:
    return AwarenessState(client, clock, None if name is None else json.dumps({"user": name}))


class Remote:
    """A remote in the room of one document, keeping what the relay sent it."""

    def __init__(self, relay: AwarenessRelay, guid: str = "s1/orders/2026-11-20") -> None:
        self.heard: list[list[AwarenessState]] = []
        self.presence = relay.join(guid, lambda frame: self.heard.append(decode_awareness(frame)))


@pytest.fixture
def relay() -> AwarenessRelay:
    return AwarenessRelay()


def test_a_state_goes_to_every_remote_of_the_document_and_no_other(relay):
    a, b, elsewhere = Remote(relay), Remote(relay), Remote(relay, "s1/catalog")
    a.presence.hear(awareness([state(1, 1)]))
    assert a.heard == b.heard == [[state(1, 1)]]  # the sender hears its echo
    assert elsewhere.heard == []
    assert b.presence.known() == [state(1, 1)]


def test_a_stale_or_repeated_state_is_not_passed_on(relay):
    a, b = Remote(relay), Remote(relay)
    a.presence.hear(awareness([state(1, 5)]))
    a.presence.hear(awareness([state(1, 5)]))  # the same again
    a.presence.hear(awareness([state(1, 4, "older")]))
    b.presence.hear(awareness([state(9, 1, None)]))  # gone before it was known
    assert b.heard == [[state(1, 5)]]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"\x01\x05\x01\x01\x01", id="truncated"),
        pytest.param(awareness([state(1, 1)]) + b"\x00", id="stray-bytes"),
        pytest.param(awareness([AwarenessState(1, 1, "{not json")]), id="state-not-json"),
        pytest.param(awareness([state(1, 1, "x" * MAX_AWARENESS_BYTES)]), id="over-the-size-bound"),
        pytest.param(var_uint(AWARENESS + 1) + b"\x00", id="not-awareness"),
    ],
)
def test_a_frame_a_remote_may_not_send_is_refused_and_nothing_relayed(relay, frame):
    a, b = Remote(relay), Remote(relay)
    with pytest.raises(ProtocolError):
        a.presence.hear(frame)
    assert a.heard == b.heard == [] and b.presence.known() == []


def test_a_remote_speaks_for_at_most_so_many_clients(relay):
    a, b = Remote(relay), Remote(relay)
    a.presence.hear(awareness([state(c, 1) for c in range(MAX_CLIENTS)]))
    with pytest.raises(ProtocolError, match=f"at most {MAX_CLIENTS}"):
        a.presence.hear(awareness([state(MAX_CLIENTS, 1)]))
    a.presence.hear(awareness([state(0, 2, "renewed")]))  # its own clients it may renew
    assert len(b.heard) == 2 and len(b.presence.known()) == MAX_CLIENTS


def test_when_a_remote_leaves_only_its_clients_are_announced_gone(relay):
    a, b, c = Remote(relay), Remote(relay), Remote(relay)
    a.presence.hear(awareness([state(1, 3)]))
    b.presence.hear(awareness([state(2, 7, "Till 2")]))
    b.presence.hear(awareness([state(1, 4, "moved")]))  # client 1 now speaks through b
    a.presence.leave()
    a.presence.leave()  # safe twice
    assert c.presence.known() == [state(2, 7, "Till 2"), state(1, 4, "moved")]
    b.presence.leave()
    assert c.heard[-1] == [state(1, 5, None), state(2, 8, None)]
    assert c.presence.known() == []
