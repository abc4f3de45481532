"""Which documents belong to a store, by guid: its catalog, its members, the store document
(edge/config/store_document.py) and its business days. A peer or a store's upstream link
may send these and nothing else."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

from sync.links.session import DocumentKind

DRAWER_OPENS = "drawer_opens"  # the root map of a business day auditing its drawer opens
PRINT_FACTS = (
    "print_facts"  # the root map of what was sent to, and printed on, the store's printers
)


def catalog_guid(store_id: str) -> str:
    return f"{store_id}/catalog"


def members_guid(store_id: str) -> str:
    return f"{store_id}/members"


def store_guid(store_id: str) -> str:
    return f"{store_id}/store"


def day_guid(store_id: str, day: dt.date) -> str:
    return f"{store_id}/orders/{day.isoformat()}"


def store_documents(store_id: str) -> Callable[[str], DocumentKind | None]:
    """How to register a document of the store a peer names (None: not the store's)."""
    prefix = f"{store_id}/orders/"

    def accept(guid: str) -> DocumentKind | None:
        if guid == catalog_guid(store_id):
            return DocumentKind("catalog", {})
        if guid == members_guid(store_id):
            return DocumentKind("members", {})
        if guid == store_guid(store_id):
            return DocumentKind("store", {})
        if guid.startswith(prefix):
            with contextlib.suppress(ValueError):
                day = dt.date.fromisoformat(guid.removeprefix(prefix))
                return DocumentKind("orders", {"business_date": day.isoformat()})
        return None

    return accept


class HubDocuments:
    """The store's documents as the hub syncs them (sync.hub.endpoint.StorePolicy): nodes
    may send any of them; the hub offers the catalog, which HQ edits there."""

    def accept(self, store_id: str) -> Callable[[str], DocumentKind | None]:
        return store_documents(store_id)

    def offered(self, store_id: str) -> list[str]:
        return [catalog_guid(store_id)]
