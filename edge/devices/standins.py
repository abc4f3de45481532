"""A backup printer on another node: while a printer is unusable for its `failover_after`
and its `backup` is a printer another node drives, that node prints the printer's kitchen
tickets (marked "FOR <printer> (unavailable)"), and gives them back once it works again.

The store document's register `standin:<printer>` (`{"backup": …, "state": …}`) carries
the handover, and each state has one writer, so that no write of one node overtakes the
other's:

1. The node driving the printer fails over (edge/printing/worker.py): it writes
   `standing_in` and holds the printer's jobs.
2. The node driving the backup routes the printer's stations to the backup while the
   register says `standing_in` (edge/devices/assembly.py, edge/kitchen/routing.py): a
   ticket the order log says was printed is skipped, one that was sent and never
   confirmed prints marked REPRINT (edge/kitchen/print_facts.py).
3. The printer works again: its node writes `returning` and goes on holding.
4. The backup's node stops routing the printer's stations to the backup, keeps the
   printer's tickets still waiting for the backup without printing them, and removes the
   register. It wrote each ticket's `sent` and handed it to its peer links before the
   ticket's first byte, so those facts reach the printer's node before the removal.
5. The printer's node, seeing the register gone, prints its held jobs, asking the order
   log first: what the backup printed is skipped.

A printer's node whose backup's node has had no link with it for the printer's
`failover_after` takes its tickets back without waiting for step 4, marking REPRINT what
that node may have printed (a takeover from it, print_facts.decide).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.config.store_document import StoreDocument
from edge.devices.ownership import Peer, driver_of
from edge.kitchen.print_facts import Takeover

log = logging.getLogger(__name__)

KIND = "standin"
STANDING_IN, RETURNING = "standing_in", "returning"


class Standins:
    """The store's printers whose tickets print on a backup another node drives."""

    def __init__(
        self,
        document: StoreDocument,
        node: str,
        *,
        peers: Callable[[], dict[str, Peer]],
        owners: Callable[[], dict[str, str]],
        clock: Callable[[], float],
    ) -> None:
        self.document = document
        self.node = node
        self._peers = peers
        self._owners = owners  # store printer -> the node that prefers it
        self._clock = clock

    def state(self, printer: str) -> tuple[str, str] | None:
        """(backup, state) of `printer`'s register, or None while it has none."""
        value = self.document.value(f"{KIND}:{printer}")
        if not isinstance(value, dict):
            return None
        backup, state = value.get("backup"), value.get("state")
        if not isinstance(backup, str) or state not in (STANDING_IN, RETURNING):
            return None
        return backup, state

    def standing_in(self, driven: set[str]) -> dict[str, str]:
        """Printer -> backup, for every printer not driven here whose tickets go to a
        backup this node drives (`driven`) now."""
        return {p: b for p, b in self._at(STANDING_IN, driven).items() if p not in driven}

    def returning(self, driven: set[str]) -> dict[str, str]:
        """Printer -> backup, for every printer taking its tickets back from a backup this
        node drives (`driven`)."""
        return self._at(RETURNING, driven)

    def _at(self, stage: str, driven: set[str]) -> dict[str, str]:
        """Printer -> backup, for the registers at `stage` whose backup is in `driven`."""
        found = {}
        for printer in self.document.group(KIND):
            state = self.state(printer)
            if state is not None and state[1] == stage and state[0] in driven:
                found[printer] = state[0]
        return found

    async def stand_in(self, printer: str, backup: str) -> None:
        """Step 1: `printer` (driven here) is unusable; its tickets go to `backup`."""
        await self.document.write({f"{KIND}:{printer}": {"backup": backup, "state": STANDING_IN}})
        log.warning(
            "printer %s: its tickets print on %s, which node %s drives",
            printer,
            backup,
            self.backup_node(backup),
            extra={"printer": printer, "backup": backup},
        )

    async def give_back(self, printer: str, backup: str) -> None:
        """Step 3: `printer` works again; its tickets come back once the backup's node
        has let them go."""
        await self.document.write({f"{KIND}:{printer}": {"backup": backup, "state": RETURNING}})

    async def handed_back(self, printer: str) -> None:
        """Step 4, on the backup's node: nothing of `printer` prints here any more."""
        await self.document.write({f"{KIND}:{printer}": None})
        log.info("printer %s: its tickets print on it again", printer, extra={"printer": printer})

    def taken_back(self, printer: str, failover_after: float) -> tuple[bool, Takeover | None]:
        """Step 5, on the printer's node: whether `printer`'s tickets are back on it, and,
        if they came back from a backup's node gone away without letting them go, that
        takeover (what it may have printed prints marked REPRINT)."""
        state = self.state(printer)
        node = None if state is None else self.backup_node(state[0])
        if state is None or node is None or node == self.node:
            return True, None
        peer = self._peers().get(node)
        if peer is not None and peer.session is not None:
            return False, None
        heard = (peer.heard if peer is not None else None) or 0.0
        if self._clock() - heard < failover_after:
            return False, None
        log.warning(
            "printer %s: node %s, whose printer %s stood in, is away; its tickets print on "
            "it again",
            printer,
            node,
            state[0],
            extra={"printer": printer, "backup": state[0]},
        )
        ending = (peer.ending if peer is not None else None) or "silent"
        ended = (peer.since if peer is not None else None) or self._clock()
        return True, Takeover(node, ending, ended)

    def backup_node(self, backup: str) -> str | None:
        """The node that drives printer `backup`: for a store printer the one its register
        names, for one plugged into a node that node."""
        owners = self._owners()
        if backup in owners:
            return driver_of(self.document, backup, owners[backup])
        for name, entry in self.document.group("node").items():
            printers = entry.value.get("printers") if isinstance(entry.value, dict) else None
            if isinstance(printers, list) and backup in printers:
                return name
        return None
