"""Kill -9 a process that writes orders flat out; every acknowledged write must survive.

The child (`crash_writer.py`) writes through the real order domain with several concurrent
writers, so group-commit batches are in flight when SIGKILL lands at a random moment. The
parent then reopens the same store and checks every operation the child acknowledged. All
cycles share one store file: each continues the same business day's log. Set
POSEDGE_CRASH_SEED to replay a run's kill timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import random
import signal
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path

from edge.orders.status import Status
from sync.replica import Replica
from sync.store import DocStore

WRITER = Path(__file__).parent / "support" / "crash_writer.py"


def _load_writer():
    # Loaded from its file (it also runs as a script), so the parent checks with the very
    # OrderBook set-up the child writes with, however tests/ is laid out as a package.
    spec = importlib.util.spec_from_file_location("crash_writer", WRITER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crash_writer = _load_writer()
CYCLES = 22
WRITERS = 8
COMPACT_AFTER = 200  # small, so some kills land during a compaction
KILL_AFTER = (0.2, 1.0)  # seconds after the child reports ready
CHILD_MAX_SECONDS = 30  # the child stops by itself if never killed
READY_TIMEOUT = 30.0
REAP_TIMEOUT = 10.0


class Acks:
    """What the child acknowledged, per order."""

    def __init__(self) -> None:
        self.opened: set[str] = set()
        self.lines: defaultdict[str, set[str]] = defaultdict(set)
        self.payments: defaultdict[str, set[str]] = defaultdict(set)
        self.closed: set[str] = set()
        self.count = 0

    def add(self, record: dict) -> None:
        order = record["order"]
        match record["op"]:
            case "open":
                self.opened.add(order)
            case "line":
                self.lines[order].add(record["line"])
            case "pay":
                self.payments[order].add(record["key"])
            case "close":
                self.closed.add(order)
            case other:
                raise AssertionError(f"unknown op {other!r} from the child")
        self.count += 1

    def merge(self, other: Acks) -> None:
        self.opened |= other.opened
        for order, lines in other.lines.items():
            self.lines[order] |= lines
        for order, keys in other.payments.items():
            self.payments[order] |= keys
        self.closed |= other.closed
        self.count += other.count

    def orders(self) -> set[str]:
        return self.opened | set(self.lines) | set(self.payments) | self.closed


def stderr_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


async def run_and_kill(db: Path, delay: float, stderr_path: Path) -> tuple[Acks, int]:
    """Start the child, kill it `delay` s after it is ready; its acks and its orders before."""
    acks = Acks()
    stderr = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WRITER),
            str(db),
            str(WRITERS),
            str(COMPACT_AFTER),
            str(CHILD_MAX_SECONDS),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    finally:
        os.close(stderr)
    try:
        assert proc.stdout is not None
        first = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT)
        assert first.endswith(b"\n"), (
            f"the child died before it was ready: {first!r}\n{stderr_tail(stderr_path)}"
        )
        ready = json.loads(first)
        assert ready.get("ready") is True, ready

        async def read_acks() -> None:
            # A line is written in one write() of under PIPE_BUF bytes, so it arrives whole
            # or not at all; a line without its newline was never acknowledged.
            while line := await proc.stdout.readline():
                if line.endswith(b"\n"):
                    acks.add(json.loads(line))

        reader = asyncio.create_task(read_acks())
        try:
            await asyncio.sleep(delay)
            proc.kill()
            returncode = await asyncio.wait_for(proc.wait(), REAP_TIMEOUT)
            await asyncio.wait_for(reader, REAP_TIMEOUT)
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        assert returncode == -signal.SIGKILL, (
            f"the child exited with {returncode} before it was killed\n{stderr_tail(stderr_path)}"
        )
        return acks, ready["orders_before"]
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def check_acknowledged(db: Path, acks: Acks, context: str) -> int:
    """Reopen the store and check every acknowledged write; return the day's order count."""
    store = await DocStore.open(db)  # raises if the store does not open cleanly
    try:
        book = crash_writer.make_book(Replica(store), lambda: crash_writer.DAY_START)
        missing: list[str] = []
        for order_id in sorted(acks.orders()):
            try:
                view = await book.get(order_id)
            except Exception as exc:
                missing.append(f"order {order_id}: {exc}")
                continue
            for line_id in sorted(acks.lines.get(order_id, ())):
                if view.line(line_id) is None:
                    missing.append(f"line {line_id} of {order_id}")
            paid = {p.key for p in view.payments}
            for key in sorted(acks.payments.get(order_id, set()) - paid):
                missing.append(f"payment {key} of {order_id}")
            if order_id in acks.closed and view.status != Status.CLOSED:
                missing.append(f"close of {order_id} (status {view.status.label})")
        assert not missing, f"{context}: acknowledged writes lost: {missing[:20]}"
        return await crash_writer.count_orders(book)
    finally:
        await store.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


async def test_store_keeps_acknowledged_writes_after_kill(tmp_path):
    seed = int(os.environ.get("POSEDGE_CRASH_SEED") or random.randrange(2**32))
    print(f"crash test seed: {seed} (replay with POSEDGE_CRASH_SEED={seed})")
    rng = random.Random(seed)
    db = tmp_path / "orders.db"
    stderr_path = tmp_path / "crash_writer.stderr"
    everything = Acks()
    orders_after_last_cycle = 0
    started = time.monotonic()
    for cycle in range(CYCLES):
        context = f"seed {seed}, cycle {cycle}"
        delay = rng.uniform(*KILL_AFTER)
        acks, orders_before = await run_and_kill(db, delay, stderr_path)
        assert acks.count > 0, f"{context}: the child acknowledged nothing in {delay:.2f} s"
        # The child started from exactly what the parent checked after the last kill.
        assert orders_before == orders_after_last_cycle, context
        orders_after_last_cycle = await check_acknowledged(db, acks, context)
        assert orders_after_last_cycle >= len(everything.orders() | acks.orders()), context
        everything.merge(acks)
    # The last cycle's store still holds what the first cycles acknowledged.
    await check_acknowledged(db, everything, f"seed {seed}, after {CYCLES} cycles")
    assert integrity(db) == "ok"
    print(
        f"{CYCLES} kills, {everything.count} acknowledged writes, "
        f"{len(everything.orders())} orders, {time.monotonic() - started:.1f} s"
    )
