"""Compaction of the document store: a document's tail of updates merged into its snapshot.

A snapshot is the zlib-compressed result of `pycrdt.merge_updates` over everything up to a
sequence number. The `Compactor` keeps, per document, the size of its snapshot and of its
tail, decides when merging is worth it, and merges in a worker process of its own, so that
a big day's merge never holds the daemon's interpreter lock.

Contract: one `Compactor` per `DocStore`, on the store's connection and lock, on its loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sqlite3
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

import aiosqlite
from pycrdt import merge_updates

from sync.errors import StoreCorrupt, StoreUnavailable
from sync.sqlite import rollback, unavailable

log = logging.getLogger(__name__)

DEFAULT_COMPACT_AFTER = 1000
"""A document is compacted once this many updates sit in its tail, and they add up to at
least half its compressed snapshot: rewriting the snapshot then costs a bounded share of
what was appended, however large the day has grown."""

SNAPSHOT_CODEC = "zlib"


async def read_snapshot(
    conn: aiosqlite.Connection, path: Path, guid: str
) -> tuple[bytes, int] | None:
    """The compressed snapshot of `guid` and the last seq it holds (call under the lock)."""
    rows = await conn.execute_fetchall(
        "SELECT codec, data, upto_seq FROM snapshots WHERE guid = ?", (guid,)
    )
    if not rows:
        return None
    codec, data, upto = rows[0]
    check_codec(path, guid, codec)
    return data, upto


def check_codec(path: Path, guid: str, codec: str) -> None:
    """Raise StoreCorrupt unless a snapshot's codec is the one snapshots are written in."""
    if codec != SNAPSHOT_CODEC:
        raise StoreCorrupt(f"{path}: snapshot of {guid!r} has unknown codec {codec!r}")


def decompress(path: Path, guid: str, snapshot: bytes) -> bytes:
    """The update a compressed snapshot holds; raises StoreCorrupt."""
    try:
        return zlib.decompress(snapshot)
    except zlib.error as exc:
        raise StoreCorrupt(f"{path}: the snapshot of {guid!r} is damaged: {exc}") from exc


async def inflate(path: Path, guid: str, snapshot: bytes) -> bytes:
    """`decompress` off the loop: zlib lets go of the GIL, so the loop runs on while a big
    day inflates."""
    return await asyncio.to_thread(decompress, path, guid, snapshot)


class Compactor:
    """When each document is due for compaction, the compaction itself, and its worker."""

    def __init__(
        self, path: Path, conn: aiosqlite.Connection, lock: asyncio.Lock, compact_after: int
    ) -> None:
        self._path = path
        self._conn = conn
        self._lock = lock  # the store's: one transaction at a time on the one connection
        self._compact_after = compact_after
        self._tail_counts: dict[str, int] = {}
        self._tail_bytes: dict[str, int] = {}
        self._snapshot_bytes: dict[str, int] = {}
        self._due: set[str] = set()
        self._wakeup = asyncio.Event()
        self._merger: ProcessPoolExecutor | None = None

    def snapshot_found(self, guid: str, size: int) -> None:
        """Account for the snapshot of `guid` found as the store opens."""
        self._snapshot_bytes[guid] = size

    def tail_found(self, guid: str, count: int, size: int) -> None:
        """Account for the tail of `guid` found as the store opens (after its snapshot)."""
        self._tail_counts[guid], self._tail_bytes[guid] = count, size
        self._consider(guid)

    def appended(self, guid: str, size: int) -> None:
        """Account for one committed update of `guid`."""
        self._tail_counts[guid] = self._tail_counts.get(guid, 0) + 1
        self._tail_bytes[guid] = self._tail_bytes.get(guid, 0) + size
        self._consider(guid)

    def _consider(self, guid: str) -> None:
        tail_bytes = self._tail_bytes.get(guid, 0)
        if self._tail_counts.get(
            guid, 0
        ) >= self._compact_after and 2 * tail_bytes >= self._snapshot_bytes.get(guid, 0):
            self._due.add(guid)
            self._wakeup.set()

    async def compact(self, guid: str) -> int:
        """Merge the snapshot and tail of `guid` into one snapshot; return updates merged."""
        async with self._lock:
            snapshot = await read_snapshot(self._conn, self._path, guid)
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
                await rollback(self._conn)
                raise unavailable(self._path, f"compact {guid!r}", exc) from exc
            except asyncio.CancelledError:
                # close() cancels the compactor: leave no transaction open for the writer.
                await rollback(self._conn)
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
            raise StoreUnavailable(f"the compaction worker of {self._path} died: {exc}") from exc

    async def run(self) -> None:
        """Compact each document as it falls due, until cancelled; a failure waits and
        retries with capped backoff."""
        failures = 0
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._due:
                guid = self._due.pop()
                try:
                    await self.compact(guid)
                except StoreUnavailable as exc:
                    failures += 1
                    if failures == 1 or failures % 100 == 0:
                        log.warning("compaction failed (%d times): %s", failures, exc)
                    await asyncio.sleep(min(60.0, 2.0 ** min(failures, 6)))
                    self._due.add(guid)
                else:
                    if failures:
                        log.info("compaction works again after %d failures", failures)
                    failures = 0

    async def close(self) -> None:
        """Stop the worker process (call once `run` has stopped; safe to call twice)."""
        if self._merger is not None:
            merger, self._merger = self._merger, None
            await asyncio.to_thread(merger.shutdown, cancel_futures=True)


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
