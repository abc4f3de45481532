"""The store's nodes as the store document lists them: where each one's API answers, and
which printers are plugged into it.

Every member node writes its register `node:<name>` (its API's HTTPS addresses, its order
letter, the ids of its own printers, which stations of the store may name) at start and
whenever they change, so that every node can tell a terminal
where the others are (`GET /api/v1/peers`, `nodes`): a terminal whose node goes away moves
to another, with the same token and the store CA it pinned at pairing (docs/api.md, "When a
node goes away"). A node whose register is there but whose link is down is listed all the
same: it may only be away from this node, not from the terminal.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

from edge.config.store_document import StoreDocument
from edge.orders.log import NodeIdentity
from sync.errors import SyncError

log = logging.getLogger(__name__)

KIND = "node"
CHECK_EVERY = 30.0  # seconds between looks at this machine's addresses
UNSPECIFIED = ("0.0.0.0", "::")


def api_urls(host: str, port: int, addresses: list[str]) -> list[str]:
    """This node's API as terminals on the LAN reach it: `host` if it names one address,
    else every address of the machine but loopback."""
    chosen = addresses if host in UNSPECIFIED else [host]
    found = []
    for text in chosen:
        address = ipaddress.ip_address(text)
        if address.is_loopback and host in UNSPECIFIED:
            continue
        shown = f"[{address}]" if address.version == 6 else str(address)
        found.append(f"https://{shown}:{port}")
    return found


class NodeDirectory:
    """This node's entry in the store document, and every node's, for terminals."""

    def __init__(
        self,
        document: StoreDocument,
        node: NodeIdentity,
        *,
        host: str,
        port: int,
        addresses: Callable[[], list[str]],
        printers: Callable[[], list[str]],
    ) -> None:
        self.document = document
        self.node = node
        self.host = host
        self.port = port
        self._addresses = addresses
        self._printers = printers

    def entry(self) -> dict:
        """What this node's register says now."""
        return {
            "api": api_urls(self.host, self.port, self._addresses()),
            "letter": self.node.letter,
            "printers": self._printers(),
        }

    async def publish(self) -> bool:
        """Write this node's register if it says something new; returns whether it did."""
        entry = await asyncio.to_thread(self.entry)
        if self.document.value(f"{KIND}:{self.node.name}") == entry:
            return False
        await self.document.write({f"{KIND}:{self.node.name}": entry})
        log.info("this node's API is at %s", ", ".join(entry["api"]) or "no address yet")
        return True

    async def run(self) -> None:
        """Keep this node's register current until cancelled."""
        while True:
            try:
                await self.publish()
            except SyncError as exc:  # the store refused: the register waits for the next look
                log.warning("this node's addresses are not written to the store document: %s", exc)
            await asyncio.sleep(CHECK_EVERY)

    def nodes(self) -> list[dict]:
        """Every node of the store with the addresses of its API, by name."""
        found = []
        for name, entry in sorted(self.document.group(KIND).items()):
            value = entry.value if isinstance(entry.value, dict) else {}
            api = value.get("api")
            found.append(
                {
                    "node": name,
                    "api": [u for u in api if isinstance(u, str)] if isinstance(api, list) else [],
                    "this_node": name == self.node.name,
                }
            )
        return found
