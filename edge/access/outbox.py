"""What node.db hands the store document: the CLI's changes, and, once, on upgrade, the
users and terminals node.db held before the store document existed.

The store document lives in the daemon, so the CLI (`posedge user`, `posedge terminals
--revoke`), which runs beside it, queues its changes in node.db's `store_outbox`. The
daemon applies them in the order queued: at start, before it serves, and then as soon as
it sees node.db change (it asks SQLite every POLL seconds, with PRAGMA data_version, on a
connection of its own). A change queued while no daemon runs waits for its next start.

Upgrading from node.db version 2, the first start writes the users (with their password
hashes) and terminals (with their token hashes) of node.db into the store document, unless
the store document already has them, and empties node.db's tables: nobody signs in or
pairs again. SQLite's errors come out as StorageError.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from pathlib import Path

from edge.access import node_db
from edge.access.pairing_codes import stamp
from edge.config.registers import Entry, Registers
from edge.config.store_document import StoreDocument, read_registers
from edge.runtime.errors import StorageError
from edge.runtime.retry import Retry
from edge.runtime.storage import storage_errors
from sync.errors import SyncError

log = logging.getLogger(__name__)

POLL = 0.2  # seconds between looks at whether the CLI queued a change
RETRY_CAP = 5.0


def queue(path: Path, changes: dict[str, object], *, now: dt.datetime) -> None:
    """Queue `changes` to the store document (key -> value, None removes) for the daemon."""
    with node_db.connection(path, "queue a change to the store document") as conn:
        conn.executemany(
            "INSERT INTO store_outbox (key, value, queued_at) VALUES (?, ?, ?)",
            [(key, json.dumps(value), stamp(now)) for key, value in changes.items()],
        )


def queued(path: Path) -> dict[str, object]:
    """The changes queued and not applied yet: key -> value, the latest per key."""
    with node_db.connection(path, "read the store document's queued changes") as conn:
        rows = conn.execute("SELECT key, value FROM store_outbox ORDER BY id").fetchall()
    return {key: json.loads(value) for key, value in rows}


QUEUED = "queued"  # the stamp a queued change shows until the daemon writes it


class QueuedStore(Registers):
    """The store document as the command line sees it beside the daemon: the store file's
    registers with the queued changes on top; its writes are queued (`queue`). It answers
    what StoreDocument answers for users.py and terminals.py: `entry`, `group`, `write`."""

    def __init__(self, node_db_path: Path, store_path: Path, guid: str) -> None:
        self.node_db = Path(node_db_path)
        node_db.prepare(self.node_db)
        registers = read_registers(store_path, guid)
        for key, value in queued(self.node_db).items():
            registers[key] = Entry(key, value, QUEUED)
        super().__init__(registers)

    async def write(self, changes: dict[str, object]) -> str:
        queue(self.node_db, changes, now=dt.datetime.now(dt.UTC))
        for key, value in changes.items():
            self._registers[key] = Entry(key, value, QUEUED)
        return QUEUED


def _earlier_records(conn) -> dict[str, object]:
    """The users and terminals node.db kept itself (version 2), as store document values."""
    found: dict[str, object] = {}
    for name, role, password_hash, created_at in conn.execute(
        "SELECT name, role, password_hash, created_at FROM ui_users"
    ):
        found[f"user:{name}"] = {
            "role": role,
            "password_hash": password_hash,
            "created_at": created_at,
        }
    for terminal_id, name, role, token_hash, created_at, revoked_at in conn.execute(
        "SELECT id, name, role, token_hash, created_at, revoked_at FROM terminals"
    ):
        found[f"terminal:{terminal_id}"] = {
            "id": terminal_id,
            "name": name,
            "role": role,
            "created_at": created_at,
            "revoked_at": revoked_at,
            "token_hash": token_hash,
        }
    return found


class StoreOutbox:
    """Applies what node.db hands the store document (module docstring)."""

    def __init__(self, path: Path, document: StoreDocument) -> None:
        self.path = Path(path)
        self.document = document

    async def upgrade(self) -> int:
        """Move node.db's users and terminals of before into the store document; returns
        how many were written (those it holds already are left as they are)."""
        with node_db.connection(self.path, "read the users and terminals of before") as conn:
            earlier = _earlier_records(conn)
        if not earlier:
            return 0
        missing = {k: v for k, v in earlier.items() if self.document.entry(k) is None}
        if missing:
            await self.document.write(missing)
        with node_db.connection(self.path, "empty the users and terminals of before") as conn:
            conn.execute("DELETE FROM ui_users")
            conn.execute("DELETE FROM terminals")
        log.info(
            "moved %d users and terminals from %s into the store document",
            len(missing),
            self.path,
        )
        return len(missing)

    async def drain(self) -> int:
        """Apply the queued changes, oldest first; returns how many."""
        with node_db.connection(self.path, "read the store document's queued changes") as conn:
            rows = conn.execute("SELECT id, key, value FROM store_outbox ORDER BY id").fetchall()
        if not rows:
            return 0
        changes: dict[str, object] = {}
        for _, key, value in rows:
            changes.pop(key, None)  # a later change of a key is applied after the others
            changes[key] = json.loads(value)
        await self.document.write(changes)
        with node_db.connection(self.path, "clear the store document's queued changes") as conn:
            conn.execute("DELETE FROM store_outbox WHERE id <= ?", (rows[-1][0],))
        log.info("applied %d change(s) queued by the command line", len(rows))
        return len(rows)

    async def run(self) -> None:
        """Apply queued changes as they come, until cancelled; a failing node.db or store
        is retried (the changes stay queued)."""
        reader = node_db.reader(self.path)
        retry = Retry(log, base=POLL, cap=RETRY_CAP, level=logging.ERROR)
        try:
            seen = None
            while True:
                try:
                    with storage_errors(self.path, "watch for queued changes"):
                        version = reader.execute("PRAGMA data_version").fetchone()[0]
                    if version != seen:
                        await self.drain()
                        seen = version
                except (StorageError, SyncError) as exc:
                    retry.failed("queued changes not applied: %s; retrying", exc)
                    await asyncio.sleep(retry.delay())
                    continue
                retry.succeeded("queued changes are applied again")
                await asyncio.sleep(POLL)
        finally:
            reader.close()
