"""What the store's device ownership and stand-ins read of a peer (PeerStatus's session,
since, ending and heard), as plain values a test sets, and a clock it moves by hand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Peer:
    session: object | None = None
    since: float | None = None
    ending: str | None = None
    heard: float | None = None


def linked(since: float) -> Peer:
    """A peer with a live link since `since`."""
    return Peer(session=object(), since=since)


def gone(heard: float, ending: str = "closed") -> Peer:
    """A peer whose link ended at `heard`, as `ending` says."""
    return Peer(since=heard, ending=ending, heard=heard)


class Clock:
    """Seconds, from 1000.0, moved by setting `now`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
