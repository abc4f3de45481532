"""Which node drives each of the store's network printers, and the takeover when it goes.

A network printer is driven by one node at a time: the one its store document register
`driver:<printer>` names (`{"node": …, "from": …, "why": …}`), or, before any was
written, the node that prefers it (`owner:<printer>`). Every node decides from what it
sees, and writes its decision into that register, which replicates to the others:

- **Takeover.** When the driver has been away from this node for the printer's
  `failover_after` seconds (no live link with it: it was killed, switched off, its cable
  pulled, or cut off), the first of the printer's candidates this node sees (its preferred
  node, then every other node of the store by name) takes it over: if that is this node,
  it writes itself as the driver. A driver that stopped cleanly (its link closed saying
  so) is away at once.
- **Return.** A driver that is not the preferred node hands the printer back once the
  preferred node has been linked with it for SETTLE seconds (so that the preferred node
  has caught up with what was printed meanwhile).
- **Rejoining.** A node that was cut off from every peer and gets a link back counts every
  peer as present for failover_after from then: links come back one by one, and until a
  peer's has, this node cannot know whether that peer drives a printer now.
- **Starting.** A node that starts drives none of the store's printers until it has been
  linked SETTLE seconds with every node the store document lists that is not away (a node
  it has not heard from since it started is away after failover_after): until then it may
  not know that another node took its printer over.

Two nodes linked with each other see each other as present, so they agree on the first
candidate: they never both drive one printer. A node cut off from the others but still
reaching the printer keeps driving it, and the others take it over after failover_after:
both print until the cut heals, and then the later register wins and the other stops.
What either of them prints that the other may have printed carries a REPRINT mark
(edge/kitchen/routing.py). docs/failover.md has the whole story.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from edge.config.registers import Registers
from edge.config.store_document import StoreDocument
from edge.kitchen.print_facts import Takeover
from sync.errors import SyncError

log = logging.getLogger(__name__)

KIND = "driver"  # the store document's registers: driver:<printer>
TICK = 0.5  # seconds between looks
SETTLE = 3.0  # seconds a returning preferred node is linked before it gets its printer back


class Peer(Protocol):
    """What this node knows of a peer (edge/replication/peers.py PeerStatus)."""

    session: object | None
    since: float | None
    ending: str | None
    heard: float | None


class DeviceOwnership:
    """The store's network printers this node drives, decided anew every TICK."""

    def __init__(
        self,
        document: StoreDocument,
        node: str,
        *,
        printers: Callable[[], dict[str, tuple[str, float]]],
        peers: Callable[[], dict[str, Peer]],
        changed: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.document = document
        self.node = node
        self._printers = printers  # store printer id -> (preferred node, failover_after)
        self._peers = peers
        self._changed = changed
        self._clock = clock
        self._started = clock()
        self.taken: dict[str, Takeover] = {}  # printers this node took over, since when
        self._driving: frozenset[str] = frozenset()
        self._known = False  # whether it has been up long enough to know who drives what
        self._linked: bool | None = None  # whether it had a live link at the last look
        self._rejoined = self._started  # when it last got a link back after having none

    def driver(self, printer: str, preferred: str) -> str:
        """The node the store document says drives `printer`."""
        return driver_of(self.document, printer, preferred)

    def moved(self, printer: str) -> dict | None:
        """The last takeover or return of `printer` (see last_move)."""
        return last_move(self.document, printer)

    def driving(self) -> frozenset[str]:
        """The store printers this node drives now."""
        return self._driving

    def _present(self, node: str, failover_after: float, now: float) -> bool:
        if node == self.node:
            return True
        peer = self._peers().get(node)
        if peer is not None and peer.session is not None:
            return True
        if peer is not None and peer.ending == "stopped":
            return False
        heard = peer.heard if peer is not None and peer.heard is not None else self._started
        return now - max(heard, self._rejoined) < failover_after

    def _note_links(self, now: float) -> None:
        """A node that was cut off from every peer and has a link again gives every peer
        failover_after from then to link with it again: until they have, it cannot know
        whether they went on driving while it was away."""
        linked = any(peer.session is not None for peer in self._peers().values())
        if linked and self._linked is False:
            self._rejoined = now
        self._linked = linked

    def _linked_for(self, node: str, now: float) -> float:
        peer = self._peers().get(node)
        if peer is None or peer.session is None or peer.since is None:
            return 0.0
        return now - peer.since

    def _ready(self, now: float, longest: float) -> bool:
        """Whether this node has been up long enough to know who drives what."""
        if self._known:  # once it knew, it goes on knowing: a node joining changes nothing
            return True
        others = set(self.document.group("node")) - {self.node}
        self._known = all(
            self._linked_for(n, now) >= SETTLE or not self._present(n, longest, now) for n in others
        )
        return self._known

    def decide(self, printers: dict[str, tuple[str, float]]) -> dict[str, str]:
        """Register writes this node makes now: printer -> the node that drives it."""
        now = self._clock()
        writes: dict[str, str] = {}
        for printer, (preferred, failover_after) in printers.items():
            driver = self.driver(printer, preferred)
            if driver == self.node:
                if preferred != self.node and self._linked_for(preferred, now) >= SETTLE:
                    writes[printer] = preferred  # back to the node that prefers it
                continue
            if self._present(driver, failover_after, now):
                continue
            candidates = [preferred, *sorted(set(self.document.group("node")) - {preferred})]
            first = next(
                (c for c in candidates if c != driver and self._present(c, failover_after, now)),
                None,
            )
            if first == self.node:
                writes[printer] = self.node
                peer = self._peers().get(driver)
                self.taken[printer] = Takeover(
                    driver,
                    (peer.ending if peer is not None else None) or "silent",
                    (peer.since if peer is not None else None) or self._started,
                )
        return writes

    async def step(self, printers: dict[str, tuple[str, float]] | None = None) -> None:
        """Decide on `printers` (default: the node's now), write what was decided, and tell
        the devices when what this node drives changes."""
        printers = self._printers() if printers is None else printers
        self._note_links(self._clock())
        writes = self.decide(printers)
        now = self._clock()
        for printer, node in writes.items():
            old = self.driver(printer, printers[printer][0])
            if node != self.node:
                why = "its preferred node is back"
            elif self.taken[printer].ending == "stopped":
                why = "it stopped"
            else:
                peer = self._peers().get(self.taken[printer].node)
                heard = (peer.heard if peer is not None else None) or self._started
                why = f"unreachable for {now - heard:.0f} s"
            await self.document.write(
                {f"{KIND}:{printer}": {"node": node, "from": old, "why": why}}
            )
            log.warning(
                "printer %s: %s takes over from %s, %s",
                printer,
                node,
                old,
                why,
                extra={"printer": printer, "driver": node, "previous_driver": old},
            )
        longest = max((f for _, f in printers.values()), default=0.0)
        driving = frozenset(
            p
            for p, (preferred, _) in printers.items()
            if self.driver(p, preferred) == self.node and self._ready(now, longest)
        )
        for printer in self.taken.keys() - driving:
            del self.taken[printer]
        for printer in self._driving - driving:
            value = self.document.value(f"{KIND}:{printer}")
            if isinstance(value, dict) and value.get("node") not in (None, self.node):
                log.warning(
                    "printer %s: %s takes over from this node (%s)",
                    printer,
                    value["node"],
                    value.get("why", "?"),
                    extra={"printer": printer, "driver": value["node"]},
                )
        if driving != self._driving:
            self._driving = driving
            self._changed()

    async def run(self) -> None:
        """Decide every TICK until cancelled; a store that refuses a write is retried."""
        while True:
            try:
                await self.step()
            except SyncError as exc:
                log.warning("printer ownership not written: %s; retrying", exc)
            await asyncio.sleep(TICK)


def driver_of(document: StoreDocument | Registers, printer: str, preferred: str) -> str:
    """The node the store document says drives `printer` (`preferred`, the node that
    prefers it, until one is written)."""
    value = document.value(f"{KIND}:{printer}")
    node = value.get("node") if isinstance(value, dict) else None
    return node if isinstance(node, str) and node else preferred


def last_move(document: StoreDocument | Registers, printer: str) -> dict | None:
    """The last takeover or return of `printer` the store document holds: {"from": the
    node it moved from, "why": in words, "at": when, UTC}; None while it never moved."""
    entry = document.entry(f"{KIND}:{printer}")
    value = entry.value if entry is not None else None
    if not isinstance(value, dict) or not isinstance(value.get("why"), str):
        return None
    return {"from": value.get("from"), "why": value["why"], "at": entry.stamp.partition("/")[0]}


def store_printers(settings) -> dict[str, tuple[str, float]]:
    """The store's network printers of `settings` (DeviceSettings): id -> (the node that
    prefers it, its failover_after)."""
    return {
        printer_id: (settings.network[printer_id], config.failover_after)
        for printer_id, config in settings.printers.items()
        if printer_id in settings.network
    }
