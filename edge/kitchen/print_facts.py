"""What happened to each kitchen ticket on the store's network printers, in the order log,
so that a node taking a printer over knows what the node before it printed.

The node driving a store printer records, in the day of the ticket's order, that it sent
the ticket (`sent`, written and handed to its peer links before the first byte goes to the
printer) and that the printer confirmed it (`printed`). A node deciding what to print for
a printer it drives (`decide`):

- a ticket some node printed is not printed again (a job already queued for it here is
  kept, skipped, saying where; the router queues none);
- a ticket another node sent but never confirmed may be on paper: it prints marked REPRINT;
- a ticket no node sent prints as itself, unless this node took the printer over from a
  node that went silent (a pulled cable, a machine switched off, a partition) and the
  fire is older than the moment this node's link with that node ended: it may have reached
  that node, which may have printed it while its `sent` never left it, so the ticket prints
  marked REPRINT. A node that was
  killed or stopped closed its links as it went, so all it sent had reached its peers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from edge.orders.book import OrderBook
from edge.printing.jobs import Job
from edge.runtime.errors import OrderError
from sync.errors import SyncError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Takeover:
    """How this node came to drive a printer (edge/devices/ownership.py): from whom, how
    that node went, and when this node's link with it ended."""

    node: str
    ending: str  # stopped, silent or closed (sync/links/peer_link.py)
    lost: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a ticket for a store printer: print it, marked or not, or skip it."""

    reprint: bool = False
    skip_reason: str | None = None


def decide(facts: dict[str, dict], node: str, taken: Takeover | None, fired_at: float) -> Decision:
    """What this node (`node`) does with a ticket whose facts (`<kind>|<node>` -> fact) are
    `facts`, fired at `fired_at`, on a printer it drives (`taken`: since it took it over)."""
    printed = sorted(key.partition("|")[2] for key in facts if key.startswith("printed|"))
    if printed:
        return Decision(skip_reason=f"printed on {printed[0]}; not printed again")
    sent_elsewhere = [key for key in facts if key.startswith("sent|") and key != f"sent|{node}"]
    if sent_elsewhere:
        return Decision(reprint=True)
    if taken is not None and taken.ending == "silent" and fired_at <= taken.lost:
        return Decision(reprint=True)
    return Decision()


class PrintFacts:
    """Records what this node sends to and prints on the store's printers."""

    def __init__(self, book: OrderBook, flushed: Callable[[], Awaitable[None]]) -> None:
        self.book = book
        self._flushed = flushed  # waits until the peer links have taken what they must send

    async def check(self, job: Job, taken: Takeover | None = None) -> Decision:
        """What the order log says of a ticket this node is about to print on a store
        printer: another node may have printed it (or may have) while it waited here
        (`taken`: how this node got the printer's tickets back, if from a node gone away)."""
        if job.kind != "ticket" or job.order_id is None:
            return Decision()
        try:
            facts = await self.book.print_facts(job.order_id)
        except (OrderError, SyncError):  # the order log cannot tell: print it
            return Decision()
        return decide(facts.get(job.key, {}), self.book.node.name, taken, job.event_at)

    async def sent(self, job: Job, printer: str) -> None:
        """Before the first byte of `job` goes to `printer`."""
        if await self._record(job, "sent", printer):
            await self._flushed()

    async def printed(self, job: Job, printer: str) -> None:
        """Once `printer` confirmed `job`."""
        await self._record(job, "printed", printer)

    async def _record(self, job: Job, kind: str, printer: str) -> bool:
        if job.kind != "ticket" or job.order_id is None:
            return False
        try:
            await self.book.record_print_fact(job.order_id, job.key, kind, printer)
        except (OrderError, SyncError) as exc:  # the ticket prints; a takeover may repeat it
            log.error("print job %d: %s not recorded in the order log: %s", job.id, kind, exc)
            return False
        return True
