"""Cash drawers: every open is audited in the order log before the drawer is kicked.

The audit trail is the `drawer_opens` map of the business day's document (see
docs/orders.md): who opened which drawer, when, why, and for which order, or none (a
"no sale", which only a manager may do). The entry is durable before the kick pulse is sent,
so no drawer ever opens without a record. A request retried with the same key is one open:
the drawer is kicked again only if this process saw its kick fail.
"""

from __future__ import annotations

import logging

from drivers.cash_drawer import SerialDrawer
from drivers.errors import DriverError
from edge.config.devices import DrawerConfig
from edge.orders.book import OrderBook
from edge.orders.ids import entry_id
from edge.orders.log import Actor
from edge.orders.validation import require_text
from edge.orders.view import decode_entry
from edge.printing.queue import PrintQueue
from edge.runtime.errors import (
    DeviceFailed,
    InvalidInput,
    ManagerRequired,
    UnknownDevice,
)

log = logging.getLogger(__name__)


class CashDrawers:
    """This node's cash drawers and their audit trail."""

    def __init__(
        self, book: OrderBook, queue: PrintQueue, drawers: dict[str, DrawerConfig]
    ) -> None:
        self.book = book
        self.queue = queue
        self.drawers = drawers
        self._unkicked: set[str] = set()  # audited opens whose kick failed in this process

    def drawer(self, drawer_id: str | None) -> DrawerConfig:
        if drawer_id is None:
            if len(self.drawers) == 1:
                return next(iter(self.drawers.values()))
            raise InvalidInput(
                "/drawer",
                f"name one of this node's drawers: {', '.join(sorted(self.drawers))}"
                if self.drawers
                else "this node has no cash drawer",
            )
        try:
            return self.drawers[drawer_id]
        except KeyError:
            raise UnknownDevice(
                f"no cash drawer {drawer_id!r} on this node", field="/drawer"
            ) from None

    async def open(
        self,
        actor: Actor,
        *,
        drawer_id: str | None,
        order_id: str | None,
        reason: str | None,
        request_key: str | None = None,
    ) -> dict:
        """Audit, then open a drawer; returns the audit entry. No sale needs a manager."""
        drawer = self.drawer(drawer_id)
        if order_id is None:
            if not actor.manager:
                raise ManagerRequired(
                    "opening the drawer without an order (no sale) needs a manager"
                )
            reason = require_text(reason, "/reason")
            number = None
        else:
            number = (await self.book.get(order_id)).number
            reason = require_text(reason, "/reason", optional=True) or "sale"
        entry_key = entry_id(request_key, "drawer")
        entry = {
            "drawer": drawer.id,
            "drawer_name": drawer.name,
            "order": order_id,
            "number": number,
            "reason": reason,
            "by": actor.id,
            "node": self.book.node.name,
        }
        recorded, new = await self.book.record_drawer_open(
            self.book.business_date(), entry_key, entry
        )
        recorded = {"id": entry_key, **recorded}
        if new or entry_key in self._unkicked:
            await self._kick(drawer, entry_key)
        return recorded

    async def _kick(self, drawer: DrawerConfig, entry_key: str) -> None:
        self._unkicked.add(entry_key)
        try:
            if drawer.printer is not None:
                await self.queue.worker(drawer.printer).printer.kick_drawer(pin=drawer.pin)
            else:
                assert drawer.url is not None
                serial = SerialDrawer(drawer.url, open_bytes=drawer.open_bytes)
                try:
                    await serial.open()
                finally:
                    await serial.close()
        except DriverError as exc:
            log.error(
                "cash drawer %s did not open: %s", drawer.name, exc, extra={"drawer": drawer.id}
            )
            raise DeviceFailed(
                f"cash drawer {drawer.name} did not open: {exc}; the attempt is recorded, "
                "retry with the same Idempotency-Key"
            ) from exc
        self._unkicked.discard(entry_key)
        log.info("cash drawer %s opened", drawer.name, extra={"drawer": drawer.id})

    async def opens(self, day) -> list[dict]:
        """Every audited drawer open of business day `day`, oldest first."""
        entries = await self.book.drawer_opens(day)
        opens = []
        for key, value in entries.items():
            try:
                opens.append({"id": key, **decode_entry(value)})
            except ValueError:
                continue
        return sorted(opens, key=lambda entry: str(entry.get("at")))
