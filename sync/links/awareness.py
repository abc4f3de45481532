"""Awareness relayed among the remotes of each document on this node, as y-websocket's server
relays it: who has the document open and what each shows of itself (a name, a colour, a
cursor), in y-protocols' awareness messages (protocol.py). Nothing of it is stored.

A remote joins its document's room (`AwarenessRelay.join`) with the way to send it frames.
Each state it announces that is newer than the one known (a higher clock, or the same clock
and gone) goes to every remote of the room, itself included: a y-websocket client renews its
state every 15 s and takes the echo as the sign that the server lives, and reconnects after
30 s without a message. A newcomer is told every state known, and so is a remote that asks
(query awareness). When a remote leaves, the clients it spoke for are announced gone (their
clock one up, their state null), as y-websocket's server does when a terminal goes without
saying so. Bounded: a remote speaks for at most MAX_CLIENTS clients (a browser's tabs may
share one socket), in frames of at most MAX_AWARENESS_BYTES. Pure logic, on one event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sync.protocol import AwarenessState, ProtocolError, awareness, decode_awareness

MAX_CLIENTS = 8  # awareness clients one remote may speak for


@dataclass
class _Known:
    clock: int
    state: str
    speaker: Presence  # the remote that announced it last


@dataclass
class _Room:
    states: dict[int, _Known] = field(default_factory=dict)  # client id -> its state
    members: list[Presence] = field(default_factory=list)


class AwarenessRelay:
    """The awareness rooms of the documents open on this node, one per document guid while
    a remote has it open."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def join(self, guid: str, send: Callable[[bytes], None]) -> Presence:
        """A remote's place in the room of `guid`; `send` queues a frame for it."""
        room = self._rooms.setdefault(guid, _Room())

        def vacate() -> None:
            if not room.members:
                del self._rooms[guid]

        presence = Presence(room, send, vacate)
        room.members.append(presence)
        return presence


class Presence:
    """One remote in its document's awareness room (made by `AwarenessRelay.join`)."""

    def __init__(
        self, room: _Room, send: Callable[[bytes], None], vacate: Callable[[], None]
    ) -> None:
        self._room = room
        self._send = send
        self._vacate = vacate
        self.clients: set[int] = set()  # the awareness clients this remote speaks for
        self._left = False

    def hear(self, frame: bytes) -> None:
        """Take an awareness frame from the remote and relay what is new in it to the room.

        Raises ProtocolError for a frame `decode_awareness` refuses, or one that would have
        the remote speak for more than MAX_CLIENTS clients; nothing of it is relayed then."""
        states = self._room.states
        news = []
        for one in decode_awareness(frame):
            known = states.get(one.client)
            if known is None and one.state is None:
                continue  # gone before it was known here
            if known is not None and not (
                one.clock > known.clock or (one.clock == known.clock and one.state is None)
            ):
                continue  # not newer than what the room knows
            news.append(one)
        taken = {one.client for one in news if one.state is not None} - self.clients
        if len(self.clients) + len(taken) > MAX_CLIENTS:
            raise ProtocolError(f"a remote may speak for at most {MAX_CLIENTS} awareness clients")
        for one in news:
            known = states.pop(one.client, None)
            if known is not None:
                known.speaker.clients.discard(one.client)
            if one.state is not None:
                states[one.client] = _Known(one.clock, one.state, self)
                self.clients.add(one.client)
        if news:
            self._tell_room(awareness(news))

    def known(self) -> list[AwarenessState]:
        """Every state the room knows (for a newcomer, or a remote that asks)."""
        return [AwarenessState(c, k.clock, k.state) for c, k in self._room.states.items()]

    def leave(self) -> None:
        """Leave the room, announcing the clients this remote spoke for gone; safe twice."""
        if self._left:
            return
        self._left = True
        self._room.members.remove(self)
        gone = []
        for client in sorted(self.clients):
            known = self._room.states.pop(client)
            gone.append(AwarenessState(client, known.clock + 1, None))
        self.clients.clear()
        if gone:
            self._tell_room(awareness(gone))
        self._vacate()

    def _tell_room(self, frame: bytes) -> None:
        for member in list(self._room.members):
            member._send(frame)
