"""The document store: a durable log of Yjs updates per document, in one SQLite file.

Every update is appended inside a transaction that has committed (WAL, synchronous=FULL)
before `append` returns, so an acknowledged write survives kill -9 and power loss.
Throughput comes from group commit: appends that arrive while a commit is in flight are
written together in the next transaction, and all of their callers are answered at once.

Updates are compacted into one snapshot per document with `pycrdt.merge_updates`; a load
is the snapshot followed by the tail of updates appended since. The store also keeps a
registry of documents (kind, closed or not) and each link's acknowledged progress.

Contract: one `DocStore` per file and per process; use it from one event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import aiosqlite
from pycrdt import merge_updates

from .errors import DocumentClosed, StoreCorrupt, StoreUnavailable, UnknownDocument

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
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

MAX_BATCH = 512
"""Most appends written in one transaction."""

DEFAULT_COMPACT_AFTER = 1000
"""A document is compacted once this many updates sit in its tail, and they add up to at
least half its compressed snapshot: rewriting the snapshot then costs a bounded share of
what was appended, however large the day has grown."""

SNAPSHOT_CODEC = "zlib"


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


def _unavailable(path: Path, doing: str, exc: BaseException) -> StoreUnavailable:
    hint = "free disk space" if "full" in str(exc).lower() else "check the disk and permissions"
    return StoreUnavailable(f"could not {doing} in {path}: {exc} ({hint})")


class DocStore:
    """Durable update log, snapshots, document registry and link progress in SQLite."""

    def __init__(self, path: Path, conn: aiosqlite.Connection, compact_after: int) -> None:
        self.path = path
        self._conn = conn
        self._compact_after = compact_after
        self._lock = asyncio.Lock()  # one transaction at a time on the one connection
        self._docs: dict[str, DocumentInfo] = {}
        self._tail_counts: dict[str, int] = {}
        self._tail_bytes: dict[str, int] = {}
        self._snapshot_bytes: dict[str, int] = {}
        # Kept in memory so that asking them (each link's offer, the hub backlog every few
        # seconds) never waits for the writer's lock: the newest seq of each document, and
        # the link progress read so far (written through).
        self._last_seqs: dict[str, int] = {}
        self._progress: dict[tuple[str, str], LinkProgress | None] = {}
        self._failed: set[str] = set()
        self._pending: list[_PendingAppend] = []
        self._wakeup = asyncio.Event()
        self._to_compact: set[str] = set()
        self._compact_wakeup = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._merger: ProcessPoolExecutor | None = None
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
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise _unavailable(path, "open the store", exc) from exc
        store = cls(path, conn, compact_after)
        try:
            await store._prepare()
        except BaseException:
            await conn.close()
            raise
        store._tasks = [
            asyncio.create_task(store._write_loop(), name="docstore-writer"),
            asyncio.create_task(store._compact_loop(), name="docstore-compactor"),
        ]
        return store

    async def _prepare(self) -> None:
        conn = self._conn
        try:
            version = await self._scalar("PRAGMA user_version")
            if version > SCHEMA_VERSION:
                raise StoreCorrupt(
                    f"{self.path} has schema version {version}, newer than this posedge "
                    f"understands ({SCHEMA_VERSION}); upgrade posedge"
                )
            if version == 0:
                # auto_vacuum must be chosen before the first table exists.
                await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = await self._scalar("PRAGMA journal_mode = WAL")
            if str(mode).lower() != "wal":
                raise StoreUnavailable(f"{self.path}: SQLite refused WAL mode (got {mode})")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.executescript(_SCHEMA)
            if version != SCHEMA_VERSION:
                # Only a new store is written to here, so an existing one opens on a full disk.
                await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            async with conn.execute(
                "SELECT guid, kind, meta, created_at, closed_at FROM documents"
            ) as cur:
                for row in await cur.fetchall():
                    self._docs[row[0]] = _document_info(row)
            for guid, size, upto in await conn.execute_fetchall(
                "SELECT guid, length(data), upto_seq FROM snapshots"
            ):
                self._snapshot_bytes[guid], self._last_seqs[guid] = size, upto
            for guid, count, size, newest in await conn.execute_fetchall(
                "SELECT guid, count(*), sum(length(data)), max(seq) FROM updates GROUP BY guid"
            ):
                self._tail_counts[guid], self._tail_bytes[guid] = count, size
                self._last_seqs[guid] = max(newest, self._last_seqs.get(guid, 0))
            self.last_seq = int(
                await self._scalar(
                    "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'updates'"
                )
            )
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
                raise _unavailable(self.path, "open the store", exc) from exc
            raise StoreCorrupt(
                f"{self.path} is not a readable posedge store: {exc} "
                "(restore it from a backup or move it aside)"
            ) from exc
        for guid in self._tail_counts:
            self._consider_compaction(guid)

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
        if self._merger is not None:
            await asyncio.to_thread(self._merger.shutdown, cancel_futures=True)

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
                snapshot = await self._snapshot(guid)
                tail = [
                    row[0]
                    for row in await self._conn.execute_fetchall(
                        "SELECT data FROM updates WHERE guid = ? ORDER BY seq", (guid,)
                    )
                ]
            except sqlite3.Error as exc:
                raise _unavailable(self.path, f"read {guid!r}", exc) from exc
        self._failed.discard(guid)
        if snapshot is None:
            return tail
        try:  # zlib lets go of the GIL, so the loop runs on while a big day inflates
            update = await asyncio.to_thread(zlib.decompress, snapshot[0])
        except zlib.error as exc:
            raise StoreCorrupt(f"{self.path}: the snapshot of {guid!r} is damaged: {exc}") from exc
        return [update, *tail]

    async def _snapshot(self, guid: str) -> tuple[bytes, int] | None:
        """The compressed snapshot of `guid` and the last seq it holds (call under the lock)."""
        rows = await self._conn.execute_fetchall(
            "SELECT codec, data, upto_seq FROM snapshots WHERE guid = ?", (guid,)
        )
        if not rows:
            return None
        codec, data, upto = rows[0]
        if codec != SNAPSHOT_CODEC:
            raise StoreCorrupt(f"{self.path}: snapshot of {guid!r} has unknown codec {codec!r}")
        return data, upto

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
        async with self._lock:
            snapshot = await self._snapshot(guid)
            tail = await self._conn.execute_fetchall(
                "SELECT seq, data FROM updates WHERE guid = ? ORDER BY seq", (guid,)
            )
        if not tail:
            return 0
        upto = tail[-1][0]
        merged = await self._merge(snapshot[0] if snapshot else None, [d for _, d in tail])
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                await self._conn.execute(
                    "INSERT INTO snapshots (guid, codec, data, upto_seq) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (guid) DO UPDATE SET codec = excluded.codec, "
                    "data = excluded.data, upto_seq = excluded.upto_seq",
                    (guid, SNAPSHOT_CODEC, merged, upto),
                )
                await self._conn.execute(
                    "DELETE FROM updates WHERE guid = ? AND seq <= ?", (guid, upto)
                )
                await self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._rollback()
                raise _unavailable(self.path, f"compact {guid!r}", exc) from exc
            except asyncio.CancelledError:
                # close() cancels the compactor: leave no transaction open for the writer.
                await self._rollback()
                raise
            # Through sqlite3_exec: the sqlite3 module steps a pragma once, and each step of
            # incremental_vacuum frees a single page.
            await self._conn.executescript("PRAGMA incremental_vacuum;")
        self._tail_counts[guid] = max(0, self._tail_counts.get(guid, 0) - len(tail))
        merged_bytes = sum(len(d) for _, d in tail)
        self._tail_bytes[guid] = max(0, self._tail_bytes.get(guid, 0) - merged_bytes)
        self._snapshot_bytes[guid] = len(merged)
        log.debug("compacted %s: %d updates into %d bytes", guid, len(tail), len(merged))
        return len(tail)

    async def _merge(self, snapshot: bytes | None, tail: list[bytes]) -> bytes:
        """The new compressed snapshot, made in a worker process: `merge_updates` holds the
        GIL for tens of milliseconds on a busy day, which would stall every operation."""
        if self._merger is None:
            self._merger = ProcessPoolExecutor(
                max_workers=1,
                mp_context=get_context("spawn"),
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._merger, _merged_snapshot, snapshot, tail)
        except BrokenProcessPool as exc:
            self._merger = None
            raise StoreUnavailable(f"the compaction worker of {self.path} died: {exc}") from exc

    async def settings(self) -> dict[str, object]:
        """The durability settings in force on the store's connection (for `posedge doctor`)."""
        async with self._lock:
            journal_mode = await self._scalar("PRAGMA journal_mode")
            synchronous = await self._scalar("PRAGMA synchronous")
        levels = {0: "off", 1: "normal", 2: "full", 3: "extra"}
        return {"journal_mode": journal_mode, "synchronous": levels.get(synchronous, synchronous)}

    async def checkpoint(self) -> None:
        """Fold the WAL into the database file and truncate it."""
        async with self._lock:
            try:
                await self._conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise _unavailable(self.path, "checkpoint the WAL", exc) from exc

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

    async def _scalar(self, sql: str) -> object:
        async with self._conn.execute(sql) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def _rollback(self) -> None:
        try:
            await self._conn.execute("ROLLBACK")
        except Exception:  # no transaction was open, or the connection is gone
            pass

    async def _write(self, doing: str, sql: str, params: Iterable[object]) -> None:
        if self._closing:
            raise StoreUnavailable(f"the store {self.path} is closing")
        async with self._lock:
            try:
                await self._conn.execute(sql, tuple(params))
            except sqlite3.Error as exc:
                raise _unavailable(self.path, doing, exc) from exc

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
                await self._rollback()
                error = _unavailable(self.path, f"append {len(rows)} updates", exc)
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
            self._tail_counts[item.guid] = self._tail_counts.get(item.guid, 0) + 1
            self._tail_bytes[item.guid] = self._tail_bytes.get(item.guid, 0) + len(item.data)
        for guid in {item.guid for item in rows}:
            self._consider_compaction(guid)

    def _consider_compaction(self, guid: str) -> None:
        tail_bytes = self._tail_bytes.get(guid, 0)
        if self._tail_counts.get(
            guid, 0
        ) >= self._compact_after and 2 * tail_bytes >= self._snapshot_bytes.get(guid, 0):
            self._to_compact.add(guid)
            self._compact_wakeup.set()

    async def _compact_loop(self) -> None:
        failures = 0
        while True:
            await self._compact_wakeup.wait()
            self._compact_wakeup.clear()
            while self._to_compact:
                guid = self._to_compact.pop()
                try:
                    await self.compact(guid)
                except StoreUnavailable as exc:
                    failures += 1
                    if failures == 1 or failures % 100 == 0:
                        log.warning("compaction failed (%d times): %s", failures, exc)
                    await asyncio.sleep(min(60.0, 2.0 ** min(failures, 6)))
                    self._to_compact.add(guid)
                else:
                    if failures:
                        log.info("compaction works again after %d failures", failures)
                    failures = 0


def _merged_snapshot(snapshot: bytes | None, tail: list[bytes]) -> bytes:
    """Runs in the compaction worker: merge a compressed snapshot and its tail, compress."""
    parts = ([zlib.decompress(snapshot)] if snapshot else []) + tail
    return zlib.compress(merge_updates(*parts) if len(parts) > 1 else parts[0], 6)


def _die_with_parent(parent: int) -> None:
    """Compaction worker set-up: be killed when the daemon dies, however it dies.

    A pool worker holds both ends of its own task queue, so it would otherwise outlive a
    daemon killed with SIGKILL (and keep its stdio open).
    """
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the daemon died before prctl took effect
        os._exit(1)


def _document_info(row: tuple) -> DocumentInfo:
    guid, kind, meta, created_at, closed_at = row
    return DocumentInfo(guid, kind, json.loads(meta), created_at, closed_at)
