"""Turns at asking peers for a document's changes: one step 1 awaiting its answer per
document at a time on this node, whichever link it goes over.

When a partition heals, several links come up together. A node that asked every peer at
once would be sent the same changes by each: a peer answers with everything it holds that
the node lacks, its neighbours' changes included. Taking turns, each next peer is asked
with the state the last answer brought, and sends only what is still missing. A peer that
has not answered within ANSWER_WAIT seconds loses its turn, so a slow link delays the
others by that much at most.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

ANSWER_WAIT = 3.0  # seconds a peer has to answer before the next one is asked


class Asker(Protocol):
    def ask_now(self, guid: str) -> bool:
        """Send the step 1 now; False if there is nothing to ask with any more."""

    def turn_lapsed(self, guid: str) -> None:
        """The peer did not answer in time; the turn went on."""


class RequestTurns:
    """Who is asking for which document, and who waits to ask next."""

    def __init__(self, answer_wait: float = ANSWER_WAIT) -> None:
        self.answer_wait = answer_wait
        self._holder: dict[str, tuple[Asker, asyncio.TimerHandle]] = {}
        self._waiting: dict[str, deque[Asker]] = {}

    def ask(self, guid: str, asker: Asker) -> None:
        """`asker` asks for `guid` now, or once the askers before it have had their turn."""
        if guid not in self._holder:
            self._try(guid, asker)
            return
        queue = self._waiting.setdefault(guid, deque())
        if asker not in queue and self._holder[guid][0] is not asker:
            queue.append(asker)

    def answered(self, guid: str, asker: Asker) -> None:
        """`asker`'s peer answered: the next one may ask."""
        held = self._holder.get(guid)
        if held is not None and held[0] is asker:
            self._pass_on(guid)

    def forget(self, asker: Asker) -> None:
        """`asker`'s link closed: it leaves every queue and its turns pass on."""
        for queue in self._waiting.values():
            if asker in queue:
                queue.remove(asker)
        for guid, (holder, _) in list(self._holder.items()):
            if holder is asker:
                self._pass_on(guid)

    def _try(self, guid: str, asker: Asker) -> bool:
        if not asker.ask_now(guid):
            return False
        timer = asyncio.get_running_loop().call_later(self.answer_wait, self._lapse, guid, asker)
        self._holder[guid] = (asker, timer)
        return True

    def _lapse(self, guid: str, asker: Asker) -> None:
        held = self._holder.get(guid)
        if held is not None and held[0] is asker:
            asker.turn_lapsed(guid)
            self._pass_on(guid)

    def _pass_on(self, guid: str) -> None:
        _, timer = self._holder.pop(guid)
        timer.cancel()
        queue = self._waiting.get(guid)
        while queue and not self._try(guid, queue.popleft()):
            pass
        if not queue:
            self._waiting.pop(guid, None)
