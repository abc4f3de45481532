"""Kitchen routing: fires and voids in the order log become tickets at this node's printers.

The log is the bus. Whichever node a fire was made on, its update reaches this node (at
once, or when a partition heals); the router sees it through the order feed and queues a
ticket for every station routed to a printer here. Ticket keys make this idempotent, so a
fire seen again after a restart or a replayed update is never printed twice. At start the
router catches up on today's orders. For the store's network printers, which another node
may have driven, what the order log says was sent and printed decides (print_facts.py): a
ticket printed elsewhere is not printed again, one that may have been prints marked
REPRINT; the same holds for a station whose printer, on another node, is unusable and has
one of this node's printers as its backup (`stand_ins`: edge/devices/standins.py), whose
tickets print here marked as standing in for it. A ticket for a fire older than
`print.skip_tickets_after` is recorded as skipped instead of printed: an hours-old ticket
would only confuse a kitchen.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from edge.kitchen.print_facts import Decision, Takeover, decide
from edge.orders.book import OrderBook
from edge.orders.feed import OrderChange, OrderFeed
from edge.orders.view import OrderView
from edge.printing.documents import kitchen_tickets
from edge.printing.queue import PrintQueue
from edge.runtime.errors import OrderError, StorageError
from edge.runtime.retry import Retry

log = logging.getLogger(__name__)

ATTEMPTS = 5  # tries at queueing one order's tickets (for errors other than storage)
RETRY_CAP = 5.0  # seconds between tries at most


class KitchenRouter:
    """Queues the kitchen tickets of the stations routed to this node's printers."""

    def __init__(
        self,
        book: OrderBook,
        feed: OrderFeed,
        queue: PrintQueue,
        *,
        routes: dict[str, str],
        now: Callable[[], dt.datetime],
        store_printers: frozenset[str] = frozenset(),
        taken: Callable[[str], Takeover | None] = lambda _printer: None,
        stand_ins: dict[str, str] | None = None,
    ) -> None:
        self.book = book
        self.feed = feed
        self.queue = queue
        self.routes = routes
        self.now = now
        self.store_printers = store_printers  # the store's network printers: facts count
        self.taken = taken  # how this node came to drive a store printer, if it took it over
        self.stand_ins = stand_ins or {}  # station -> the printer it stands in for
        self._seen: set[str] = set()  # ticket keys already queued (or skipped)

    async def run(self) -> None:
        """Catch up on today's fires, then follow the feed until cancelled."""
        if not self.routes:
            return
        changes: asyncio.Queue[OrderChange] = asyncio.Queue()
        unsubscribe = self.feed.subscribe(changes.put_nowait)
        try:
            for view in await self.book.list_orders():
                await self._route_order(view.id)
            while True:
                change = await changes.get()
                for order_id in change.order_ids:
                    await self._route_order(order_id)
        finally:
            unsubscribe()

    async def _route_order(self, order_id: str) -> None:
        """Route one changed order. While print.db cannot take its tickets (a full disk) it
        keeps trying, since every order after it would fail the same way; anything else is
        tried a few times, then logged."""
        retry = Retry(log, base=0.2, cap=RETRY_CAP, level=logging.ERROR)
        while True:
            try:
                view = self.book.loaded_view(order_id) or await self.book.get(order_id)
                await self.route(view)
            except OrderError:
                return  # not an order this node holds (any more)
            except StorageError as exc:
                retry.failed("kitchen tickets cannot be queued: print.db: %s; retrying", exc)
            except Exception:
                retry.failed()  # logged, with its traceback, once it is given up
                if retry.failures == ATTEMPTS:
                    log.exception("tickets of order %s could not be queued", order_id)
                    return
            else:
                retry.succeeded("kitchen tickets are queued again")
                return
            await asyncio.sleep(retry.delay())

    async def route(self, view: OrderView) -> None:
        """Queue the tickets `view` calls for that are not queued yet."""
        if not view.events:
            return
        catalog = await self.book.catalog()
        now = self.now()
        facts: dict[str, dict[str, dict]] | None = None
        for request in kitchen_tickets(view, self.routes, catalog.stations):
            if request.key in self._seen:
                continue
            printer = self.routes[request.station]
            stands_in = self.stand_ins.get(request.station)
            decision = Decision()
            if printer in self.store_printers or stands_in:  # another node may have printed it
                facts = await self.book.print_facts(view.id) if facts is None else facts
                fired_at = request.event_at.timestamp()
                taken = None if stands_in else self.taken(printer)
                node = self.book.node.name
                decision = decide(facts.get(request.key, {}), node, taken, fired_at)
            if decision.skip_reason is not None:  # printed by another node, as the log keeps
                self._seen.add(request.key)  # (no job for it here: a takeover meets the day's)
                continue
            age = (now - request.event_at).total_seconds()
            common = {
                "key": request.key,
                "kind": "ticket",
                "printer": printer,
                "document": request.document,
                "event_at": request.event_at.timestamp(),
                "order_id": view.id,
            }
            if age > self.queue.settings.skip_tickets_after:
                reason = f"fired {age / 60:.0f} min ago; not printed"
                _, created = await self.queue.submit(**common, skip_reason=reason)
                if created:
                    log.warning(
                        "ticket for order %s at %s: %s", view.number, request.station, reason
                    )
            else:
                await self.queue.submit(
                    **common,
                    requested_by=request.document["fired_by"],
                    reprint=decision.reprint,
                    backup_for=stands_in,
                )
            self._seen.add(request.key)
