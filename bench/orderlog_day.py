"""Phase 3 of bench/orderlog.py, a business day: ringing it up, compacting and
checkpointing it; its bytes on disk; loading it in a fresh interpreter, where this module
runs as the probe (`python bench/orderlog_day.py KIND PATH GUID` prints one JSON line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pycrdt import Map

from order_runs import Domain, OrderRun, plans
from sync.errors import StoreUnavailable
from sync.replica import Replica
from sync.store import DocStore


async def build_day(path: Path, args: argparse.Namespace) -> dict:
    """Ring up a day of orders, compact the day doc, checkpoint; return the orders' contents."""
    domain = await Domain.open(path)
    source = plans(args.seed, domain.catalog, args.lines)
    left = args.day_orders
    ops = 0

    async def cashier() -> None:
        nonlocal left, ops
        while left > 0:
            left -= 1
            run = OrderRun(domain.book, next(source))
            while not run.done:
                await run.step()
                ops += 1

    try:
        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(args.concurrency):
                group.create_task(cashier())
        built = time.perf_counter() - start
        guid = domain.day_guid
        start = time.perf_counter()
        merged = await domain.store.compact(guid)
        compact_s = time.perf_counter() - start
        try:
            await domain.store.checkpoint()
            checkpoint_error = None
        except StoreUnavailable as exc:
            # Reported, not hidden: closing the store below still folds the WAL in.
            checkpoint_error = f"{type(exc).__name__}: {exc}"
        doc = domain.replica.loaded(guid)
        orders = doc.get("orders", type=Map).to_py()
    finally:
        await domain.store.close()
    return {
        "guid": guid,
        "orders": orders,
        "build_s": built,
        "build_ops_per_s": ops / built,
        "compact_ms": 1000 * compact_s,
        "compact_merged_updates": merged,
        "checkpoint_error": checkpoint_error,
    }


def write_plain_day(path: Path, orders: dict) -> None:
    """The baseline day: each order's contents as one JSON row, checkpointed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
    with conn:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [(order_id, json.dumps(order)) for order_id, order in orders.items()],
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def disk_bytes(path: Path) -> tuple[int, int]:
    """Bytes of the database file plus its WAL, and of those the pages left free."""
    wal = path.with_name(path.name + "-wal")
    size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    conn = sqlite3.connect(path)
    try:
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        (page,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    return size, free * page


def vm_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def probe(kind: str, path: Path, guid: str) -> None:
    """Run in a fresh interpreter: load one day and print time and memory as JSON.

    Imports happen before the first reading, so only the loading itself is counted; the
    second reading is taken while the loaded day is still alive.
    """
    before = vm_kb("VmRSS")
    if kind == "posedge":
        ms, after = asyncio.run(load_domain_day(path, guid))
    else:
        ms, after = load_plain_day(path)
    print(json.dumps({"load_ms": ms, "extra_mb": (after - before) / 1024}))


async def load_domain_day(path: Path, guid: str) -> tuple[float, int]:
    """Open the store and load the day doc: (ms taken, VmRSS kB with the doc loaded)."""
    start = time.perf_counter()
    store = await DocStore.open(path)
    try:
        doc = await Replica(store).open(guid)
        ms = 1000 * (time.perf_counter() - start)
        rss = vm_kb("VmRSS")
        assert len(doc.get("orders", type=Map)) > 0
    finally:
        await store.close()
    return ms, rss


def load_plain_day(path: Path) -> tuple[float, int]:
    """Read and decode every JSON row: (ms taken, VmRSS kB with the orders in memory)."""
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    try:
        orders = [json.loads(data) for (data,) in conn.execute("SELECT data FROM orders")]
    finally:
        conn.close()
    ms = 1000 * (time.perf_counter() - start)
    rss = vm_kb("VmRSS")
    assert orders
    return ms, rss


def run_probe(kind: str, path: Path, guid: str, repeats: int) -> dict:
    """Load a day in fresh interpreters (clean memory); the median of each figure.

    Repeated because one cold load varies a lot here (page faults of a fresh heap).
    """
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, __file__, kind, str(path), guid],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(out.splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


if __name__ == "__main__":
    probe(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
