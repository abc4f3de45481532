"""The document store: a durable log of Yjs updates per document, in one SQLite file.

Every update is appended inside a transaction that has committed (WAL, synchronous=FULL)
before `append` returns, so an acknowledged write survives kill -9 and power loss.
Throughput comes from group commit: appends that arrive while a commit is in flight are
written together in the next transaction, and all of their callers are answered at once.

Updates are compacted into one snapshot per document (sync/compaction.py); a load is the
snapshot followed by the tail of updates appended since. The store also keeps a registry of
documents (kind, closed or not) and each link's acknowledged progress. `peek` reads a store
file without opening it for writing (`posedge doctor`).

Contract: one `DocStore` per file and per process; use it from one event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from sync.compaction import (
    DEFAULT_COMPACT_AFTER,
    Compactor,
    inflate,
    read_snapshot,
)
from sync.errors import (
    DocumentClosed,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    UnknownDocument,
)
from sync.sqlite import FULL, Schema, connect_async, rollback, unavailable

log = logging.getLogger(__name__)

_STEP_1 = """
CREATE TABLE IF NOT EXISTS documents (
    guid       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    meta       TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    closed_at  REAL
);
CREATE TABLE IF NOT EXISTS snapshots (
    guid     TEXT PRIMARY KEY REFERENCES documents(guid),
    codec    TEXT NOT NULL,  -- 'zlib': data is the zlib-compressed merged update
    data     BLOB NOT NULL,
    upto_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    guid TEXT NOT NULL REFERENCES documents(guid),
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_by_guid ON updates (guid, seq);
CREATE TABLE IF NOT EXISTS link_progress (
    link         TEXT NOT NULL,
    guid         TEXT NOT NULL REFERENCES documents(guid),
    state_vector BLOB NOT NULL,
    acked_seq    INTEGER NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (link, guid)
);
"""

SCHEMA = Schema(FULL, steps=(_STEP_1,), foreign_keys=True, incremental_vacuum=True)
"""A store's file (a node's log, the hub's `hub.db`): version 1 is the first schema."""

MAX_BATCH = 512
"""Most appends written in one transaction."""

"""Seconds `peek` waits while the daemon holds the file busy."""


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A registered document."""

    guid: str
    kind: str
    meta: dict
    created_at: float
    closed_at: float | None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


@dataclass(frozen=True, slots=True)
class LinkProgress:
    """What one link (a peer or the hub) has acknowledged of one document."""

    link: str
    guid: str
    state_vector: bytes
    acked_seq: int
    updated_at: float


@dataclass(slots=True)
class _PendingAppend:
    guid: str
    data: bytes
    done: asyncio.Future[int]


class DocStore:
    """Durable update log, snapshots, document registry and link progress in SQLite."""

    def __init__(self, path: Path, conn: aiosqlite.Connection, compact_after: int) -> None:
        self.path = path
        self._conn = conn
        self._lock = asyncio.Lock()  # one transaction at a time on the one connection
        self._docs: dict[str, DocumentInfo] = {}
        self._compactor = Compactor(path, conn, self._lock, compact_after)
        # Kept in memory so that asking them (each link's offer, the hub backlog every few
        # seconds) never waits for the writer's lock: the newest seq of each document, and
        # the link progress read so far (written through).
        self._last_seqs: dict[str, int] = {}
        self._progress: dict[tuple[str, str], LinkProgress | None] = {}
        self._failed: set[str] = set()
        self._pending: list[_PendingAppend] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        # Transactions that committed appends: one per group-commit batch (for /metrics).
        self.commits = 0
        # The highest sequence number given out: AUTOINCREMENT never reuses one, so it is a
        # position in this node's history that survives restarts and compaction.
        self.last_seq = 0
        self.commit_observers: list[Callable[[float, int], None]] = []
        """Called with (seconds, updates) after each committed batch (for /metrics)."""

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path, *, compact_after: int = DEFAULT_COMPACT_AFTER) -> DocStore:
        """Open (creating if needed) the store at `path` and start its writer."""
        path = Path(path)
        try:
            conn = await connect_async(path, SCHEMA)
        except sqlite3.Error as exc:
            raise _unopenable(path, exc) from exc
        store = cls(path, conn, compact_after)
        try:
            await store._prepare()
        except BaseException:
            await conn.close()
            raise
        store._tasks = [
            asyncio.create_task(store._write_loop(), name="docstore-writer"),
            asyncio.create_task(store._compactor.run(), name="docstore-compactor"),
        ]
        return store

    async def _prepare(self) -> None:
        conn = self._conn
        try:
            async with conn.execute(
                "SELECT guid, kind, meta, created_at, closed_at FROM documents"
            ) as cur:
                for row in await cur.fetchall():
                    self._docs[row[0]] = _document_info(row)
            for guid, size, upto in await conn.execute_fetchall(
                "SELECT guid, length(data), upto_seq FROM snapshots"
            ):
                self._compactor.snapshot_found(guid, size)
                self._last_seqs[guid] = upto
            for guid, count, size, newest in await conn.execute_fetchall(
                "SELECT guid, count(*), sum(length(data)), max(seq) FROM updates GROUP BY guid"
            ):
                self._compactor.tail_found(guid, count, size)
                self._last_seqs[guid] = max(newest, self._last_seqs.get(guid, 0))
            [(last_seq,)] = await conn.execute_fetchall(
                "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'updates'"
            )
            self.last_seq = int(last_seq)
        except sqlite3.Error as exc:
            raise _unopenable(self.path, exc) from exc

    async def close(self) -> None:
        """Write every pending append, stop the background tasks, close the file.

        Safe to call twice.
        """
        if self._closing:
            return
        self._closing = True
        self._wakeup.set()
        writer, compactor = self._tasks or (None, None)
        if compactor is not None:
            compactor.cancel()
            await asyncio.gather(compactor, return_exceptions=True)
        if writer is not None:
            await writer  # it drains what is pending, then returns
        await self._conn.close()
        await self._compactor.close()

    # -- registry ----------------------------------------------------------------------

    async def register(self, guid: str, kind: str, meta: dict | None = None) -> DocumentInfo:
        """Register a document (idempotent: an existing one is returned unchanged)."""
        if guid in self._docs:
            return self._docs[guid]
        info = DocumentInfo(guid, kind, dict(meta or {}), time.time(), None)
        await self._write(
            "register a document",
            "INSERT OR IGNORE INTO documents (guid, kind, meta, created_at) VALUES (?, ?, ?, ?)",
            (guid, kind, json.dumps(info.meta), info.created_at),
        )
        self._docs.setdefault(guid, info)
        return self._docs[guid]

    def document(self, guid: str) -> DocumentInfo:
        """The registry entry of `guid`; raises UnknownDocument."""
        try:
            return self._docs[guid]
        except KeyError:
            raise UnknownDocument(f"no document {guid!r} in {self.path}") from None

    def documents(self, kind: str | None = None) -> list[DocumentInfo]:
        """Every registered document, or those of one kind, ordered by guid."""
        return sorted(
            (d for d in self._docs.values() if kind is None or d.kind == kind),
            key=lambda d: d.guid,
        )

    async def close_document(self, guid: str) -> DocumentInfo:
        """Make a document read-only: later appends raise DocumentClosed."""
        info = self.document(guid)
        if info.closed:
            return info
        closed_at = time.time()
        await self._write(
            "close a document",
            "UPDATE documents SET closed_at = ? WHERE guid = ?",
            (closed_at, guid),
        )
        info = DocumentInfo(info.guid, info.kind, info.meta, info.created_at, closed_at)
        self._docs[guid] = info
        return info

    # -- the update log ----------------------------------------------------------------

    def check_writable(self, guid: str) -> None:
        """Raise the error an append to `guid` would raise now, if any."""
        if self._closing or (self._tasks and self._tasks[0].done()):
            raise StoreUnavailable(f"the store {self.path} is closing")
        if self.document(guid).closed:
            raise DocumentClosed(f"document {guid!r} is closed and read-only")
        if guid in self._failed:
            raise StoreUnavailable(
                f"an earlier write to {guid!r} failed; the document must be reloaded"
            )

    async def append(self, guid: str, update: bytes) -> int:
        """Append one update and return its sequence number once it is durable.

        Raises UnknownDocument, DocumentClosed, or StoreUnavailable (nothing stored). After
        a failed append, appends to the same document fail until it is `load`ed again, so a
        later update can never be stored without an earlier one it builds on.
        """
        self.check_writable(guid)
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append(_PendingAppend(guid, bytes(update), done))
        self._wakeup.set()
        return await asyncio.shield(done)

    async def load(self, guid: str) -> list[bytes]:
        """The document's snapshot (if any) followed by its tail, oldest first."""
        self.document(guid)
        async with self._lock:
            try:
                snapshot = await read_snapshot(self._conn, self.path, guid)
                tail = [
                    row[0]
                    for row in await self._conn.execute_fetchall(
                        "SELECT data FROM updates WHERE guid = ? ORDER BY seq", (guid,)
                    )
                ]
            except sqlite3.Error as exc:
                raise unavailable(self.path, f"read {guid!r}", exc) from exc
        self._failed.discard(guid)
        if snapshot is None:
            return tail
        return [await inflate(self.path, guid, snapshot[0]), *tail]

    async def updates_since(self, guid: str, seq: int) -> list[tuple[int, bytes]]:
        """Tail updates of `guid` with a sequence number above `seq` (not the snapshot)."""
        self.document(guid)
        async with (
            self._lock,
            self._conn.execute(
                "SELECT seq, data FROM updates WHERE guid = ? AND seq > ? ORDER BY seq", (guid, seq)
            ) as cur,
        ):
            return [(s, d) for s, d in await cur.fetchall()]

    async def compact(self, guid: str) -> int:
        """Merge the snapshot and tail of `guid` into one snapshot; return updates merged."""
        self.document(guid)
        return await self._compactor.compact(guid)

    async def checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it."""
        async with self._lock:
            try:
                await self._conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise unavailable(self.path, "checkpoint the WAL", exc) from exc

    # -- link progress -----------------------------------------------------------------

    async def save_link_progress(
        self, link: str, guid: str, state_vector: bytes, acked_seq: int
    ) -> None:
        """Remember what `link` has acknowledged of `guid`."""
        self.document(guid)
        now = time.time()
        await self._write(
            "save link progress",
            "INSERT INTO link_progress (link, guid, state_vector, acked_seq, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (link, guid) DO UPDATE SET "
            "state_vector = excluded.state_vector, acked_seq = excluded.acked_seq, "
            "updated_at = excluded.updated_at",
            (link, guid, bytes(state_vector), acked_seq, now),
        )
        progress = LinkProgress(link, guid, bytes(state_vector), acked_seq, now)
        self._progress[(link, guid)] = progress

    async def last_seq_of(self, guid: str) -> int:
        """The sequence number of the newest update of `guid` (0 if it has none)."""
        self.document(guid)
        return self._last_seqs.get(guid, 0)

    async def link_progress(self, link: str, guid: str) -> LinkProgress | None:
        """What `link` last acknowledged of `guid`, or None."""
        if (link, guid) in self._progress:
            return self._progress[(link, guid)]
        async with (
            self._lock,
            self._conn.execute(
                "SELECT link, guid, state_vector, acked_seq, updated_at FROM link_progress "
                "WHERE link = ? AND guid = ?",
                (link, guid),
            ) as cur,
        ):
            row = await cur.fetchone()
        progress = LinkProgress(*row) if row else None
        return self._progress.setdefault((link, guid), progress)

    # -- internals ---------------------------------------------------------------------

    async def _write(self, doing: str, sql: str, params: Iterable[object]) -> None:
        if self._closing:
            raise StoreUnavailable(f"the store {self.path} is closing")
        async with self._lock:
            try:
                await self._conn.execute(sql, tuple(params))
            except sqlite3.Error as exc:
                raise unavailable(self.path, doing, exc) from exc

    async def _write_loop(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[_PendingAppend]) -> None:
        rows = []
        for item in batch:
            if item.guid in self._failed:
                item.done.set_exception(
                    StoreUnavailable(f"an earlier write to {item.guid!r} failed")
                )
            else:
                rows.append(item)
        if not rows:
            return
        values = ", ".join(["(?, ?)"] * len(rows))
        params = [value for item in rows for value in (item.guid, item.data)]
        async with self._lock:
            try:
                # One statement in autocommit mode is one transaction, committed (fsync'd,
                # synchronous=FULL) when it returns: a single trip to the SQLite thread.
                started = time.perf_counter()
                returned = await self._conn.execute_fetchall(
                    f"INSERT INTO updates (guid, data) VALUES {values} RETURNING seq", params
                )
                elapsed = time.perf_counter() - started
                self.commits += 1
            except Exception as exc:  # any failure fails this batch; the writer goes on
                await rollback(self._conn)
                error = unavailable(self.path, f"append {len(rows)} updates", exc)
                log.error("%s", error, extra={"store": str(self.path)})
                for item in rows:
                    self._failed.add(item.guid)
                    if not item.done.done():
                        item.done.set_exception(error)
                return
        # Rows are inserted in VALUES order and AUTOINCREMENT only grows, so the sorted
        # sequence numbers match the rows (RETURNING itself promises no order).
        seqs = sorted(row[0] for row in returned)
        self.last_seq = max(self.last_seq, seqs[-1])
        for observe in self.commit_observers:
            observe(elapsed, len(rows))
        for seq, item in zip(seqs, rows, strict=True):
            if not item.done.done():
                item.done.set_result(seq)
            self._last_seqs[item.guid] = seq
            self._compactor.appended(item.guid, len(item.data))


def _unopenable(path: Path, exc: sqlite3.Error) -> StoreError:
    """The error for a store file that cannot be opened: unavailable while the disk is full or
    the file cannot be opened at all, corrupt when SQLite cannot read what it holds."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_CANTOPEN" or not isinstance(exc, sqlite3.DatabaseError):
        return unavailable(path, "open the store", exc)
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
        return unavailable(path, "open the store", exc)
    return StoreCorrupt(
        f"{path} is not a readable posedge store: {exc} (restore it from a backup or move it aside)"
    )


def _document_info(row: tuple) -> DocumentInfo:
    guid, kind, meta, created_at, closed_at = row
    return DocumentInfo(guid, kind, json.loads(meta), created_at, closed_at)
