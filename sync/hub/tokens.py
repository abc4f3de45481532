"""The hub's register of stores: who may sync, with which token, and when each last did.

A store's token is made once (`posedge hub store add`), shown once, and kept only as its
SHA-256 hash; it reaches that store's documents and nothing else. A revoked token is
refused from then on, and a running hub ends the links that used it. The register is a
small SQLite file of its own (`stores.db` in the hub's directory), written by the admin
commands while the hub runs. SQLite's errors come out as StoreUnavailable.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sync.errors import SyncError
from sync.membership.trust import check_store_id
from sync.sqlite import ROLLBACK_JOURNAL, Schema, connect, unavailable

TOKEN_PREFIX = "ph_"

_STEP_1 = """
CREATE TABLE IF NOT EXISTS stores (
    store_id     TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   REAL NOT NULL,
    revoked_at   REAL,
    last_contact REAL
);
"""

SCHEMA = Schema(ROLLBACK_JOURNAL, steps=(_STEP_1,))
"""The register (`stores.db`): version 1 is the first schema."""


class HubStoreError(SyncError):
    """A store cannot be added, found or revoked as asked."""


@dataclass(frozen=True, slots=True)
class HubStore:
    store_id: str
    name: str
    created_at: float
    revoked_at: float | None
    last_contact: float | None

    def to_dict(self) -> dict:
        return {
            "store": self.store_id,
            "name": self.name,
            "created_at": self.created_at,
            "revoked": self.revoked_at is not None,
            "last_contact": self.last_contact,
        }


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class HubStores:
    """The register in `path`; each call opens and closes its own connection, so the admin
    commands and a running hub can share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect("open the register of stores"):
            pass

    @contextlib.contextmanager
    def _connect(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, in one transaction, closed after it."""
        try:
            conn = connect(self.path, SCHEMA, isolation_level="")
            try:
                with conn:
                    yield conn
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise unavailable(self.path, doing, exc) from exc

    def add(self, store_id: str, name: str | None = None) -> str:
        """Register `store_id`; its new token (shown once). Adding a revoked store again
        gives it a new token."""
        store_id = check_store_id(store_id)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._connect(f"add store {store_id}") as conn:
            row = conn.execute(
                "SELECT revoked_at FROM stores WHERE store_id = ?", (store_id,)
            ).fetchone()
            if row is not None and row[0] is None:
                raise HubStoreError(f"store {store_id} has a token already; revoke it first")
            conn.execute(
                "INSERT INTO stores (store_id, name, token_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (store_id) DO UPDATE SET name = excluded.name, "
                "token_hash = excluded.token_hash, created_at = excluded.created_at, "
                "revoked_at = NULL",
                (store_id, name or store_id, _hash(token), time.time()),
            )
        return token

    def revoke(self, store_id: str) -> None:
        """Refuse the store's token from now on; raises HubStoreError if it has none live."""
        with self._connect(f"revoke store {store_id}") as conn:
            done = conn.execute(
                "UPDATE stores SET revoked_at = ? WHERE store_id = ? AND revoked_at IS NULL",
                (time.time(), store_id),
            )
        if done.rowcount == 0:
            raise HubStoreError(f"no store {store_id} with a live token")

    def list(self) -> list[HubStore]:
        """Every registered store, by id."""
        with self._connect("list the stores") as conn:
            rows = conn.execute(
                "SELECT store_id, name, created_at, revoked_at, last_contact FROM stores "
                "ORDER BY store_id"
            ).fetchall()
        return [HubStore(*row) for row in rows]

    def store_of(self, token: str) -> str | None:
        """The store whose live token this is, or None."""
        with self._connect("look up a store's token") as conn:
            row = conn.execute(
                "SELECT store_id FROM stores WHERE token_hash = ? AND revoked_at IS NULL",
                (_hash(token),),
            ).fetchone()
        return row[0] if row else None

    def contacted(self, store_ids: list[str], at: float) -> None:
        """Record that `store_ids` were in contact at `at`."""
        with self._connect("record contact with stores") as conn:
            conn.executemany(
                "UPDATE stores SET last_contact = ? WHERE store_id = ?",
                [(at, store_id) for store_id in store_ids],
            )
