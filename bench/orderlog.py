"""Benchmark of the order log: orders rung up through the real order domain, made durable.

Every figure comes from the real stack, OrderBook over Replica over DocStore in a real SQLite
file (WAL, synchronous=FULL), each next to a baseline measured in the same run: plain
`sqlite3` writing the same orders as JSON rows, with the same durability.

1. Throughput: many concurrent callers (64 by default) each ring up orders in a loop (open,
   add lines, pay, close); every awaited operation counts. Baseline: one connection inserting
   one JSON row per operation and committing each before the next.
2. Latency at a fixed offered rate (500 operations/s by default, open loop): operations start
   on schedule whatever the earlier ones are doing; latency runs from the scheduled start to
   the acknowledgement. Baseline: the same schedule feeding one committing sqlite3 thread.
3. A business day (5,000 orders of 5 lines, paid and closed), then compacted and
   checkpointed: compaction time; load time and extra resident memory in a fresh process;
   bytes on disk per order. Baseline: the same orders as one JSON row each.

Run it from the project root:

    .venv/bin/python bench/orderlog.py            # defaults, about 1-2 minutes
    .venv/bin/python bench/orderlog.py --help     # sizes, rates and durations

Figures print as they are measured; the last line is one JSON object holding all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pycrdt import Map

from edge.catalog import Catalog, parse_catalog, sample_catalog
from edge.clock import HybridClock
from edge.daemon import freeze_startup_objects, utc_now
from edge.order_ids import new_entry_id
from edge.order_view import OrderView
from edge.orderbook import Actor, NodeIdentity, OrderBook
from sync.errors import StoreUnavailable
from sync.replica import Replica
from sync.store import DocStore

STORE_ID = "bench"
NODE = NodeIdentity("bench-a", "A")
CASHIER = Actor("bench-cashier")
TARGETS = {
    "throughput_ratio_min": 1.0,
    "latency_p99_ms_max": 10.0,
    "load_ms_max": 300.0,
    "load_extra_mb_max": 80.0,
    "bytes_per_order_max": 600.0,
}


def say(text: str) -> None:
    print(text, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values` by the nearest-rank rule."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def latency_summary(latencies: list[float], first: float, last: float) -> dict:
    """p50, p99 and max in ms of latencies in seconds, and the rate acknowledged."""
    ms = [1000 * s for s in latencies]
    return {
        "ops": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "max_ms": round(max(ms), 3),
        "achieved_ops_per_s": round(len(ms) / (last - first), 1),
    }


# -- the orders both sides write ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """One order to ring up: what a cashier would enter."""

    channel: str
    lines: tuple[tuple[str, int, tuple[str, ...]], ...]  # sku, qty, modifier codes
    tender: str


def plan_order(rng: random.Random, catalog: Catalog, lines: int) -> OrderPlan:
    skus = sorted(catalog.items)
    chosen = []
    for _ in range(lines):
        item = catalog.items[rng.choice(skus)]
        mods = rng.sample(sorted(item.modifiers), k=min(len(item.modifiers), rng.randint(0, 1)))
        chosen.append((item.sku, rng.randint(1, 2), tuple(mods)))
    return OrderPlan(
        rng.choice(["counter", "takeaway"]), tuple(chosen), rng.choice(["cash", "card"])
    )


def plans(seed: int, catalog: Catalog, lines: int) -> Iterator[OrderPlan]:
    rng = random.Random(seed)
    while True:
        yield plan_order(rng, catalog, lines)


class OrderRun:
    """One order rung up through the order book; each `step` is one awaited operation."""

    def __init__(self, book: OrderBook, plan: OrderPlan) -> None:
        self.book = book
        self.plan = plan
        self.view: OrderView | None = None
        self._steps: list[Callable] = [
            self._open,
            *(lambda line=line: self._add_line(*line) for line in plan.lines),
            self._pay,
            self._close,
        ]

    @property
    def done(self) -> bool:
        return not self._steps

    async def step(self) -> None:
        await self._steps.pop(0)()

    async def _open(self) -> None:
        self.view = await self.book.open_order(CASHIER, channel=self.plan.channel)

    async def _add_line(self, sku: str, qty: int, modifiers: tuple[str, ...]) -> None:
        self.view, _ = await self.book.add_line(
            CASHIER, self.view.id, sku=sku, qty=qty, modifiers=modifiers
        )

    async def _pay(self) -> None:
        due = self.view.totals.balance_due
        amount = -(-due // 500) * 500 if self.plan.tender == "cash" else due
        self.view = await self.book.add_payment(
            CASHIER, self.view.id, key=f"{self.view.id}-pay", tender=self.plan.tender, amount=amount
        )

    async def _close(self) -> None:
        self.view = await self.book.close(CASHIER, self.view.id)


def baseline_rows(plan: OrderPlan, catalog: Catalog, clock: HybridClock) -> list[str]:
    """The JSON rows of `plan` for the baseline, one per operation, holding the same fields
    the order book writes (the payment amount leaves tax out: a few bytes, not a cost)."""
    order_id = f"{utc_now():%Y%m%d}-{secrets.token_hex(6)}"
    by = {"by": CASHIER.id}
    rows = [
        {
            "op": "open",
            "id": order_id,
            "number": "A-000",
            "channel": plan.channel,
            "table": None,
            "guests": 0,
            "opened_at": clock.now(),
            "opened_by": CASHIER.id,
            "node": NODE.name,
        }
    ]
    amount = 0
    for sku, qty, codes in plan.lines:
        item = catalog.items[sku]
        mods = [item.modifiers[code] for code in codes]
        amount += qty * (item.price + sum(m.price for m in mods))
        rows.append(
            {
                "op": "line",
                "order": order_id,
                "line": new_entry_id(),
                "sku": sku,
                "name": item.name,
                "qty": qty,
                "unit_price": item.price,
                "modifiers": [{"code": m.code, "name": m.name, "price": m.price} for m in mods],
                "note": "",
                "tax_rate": catalog.taxes[item.tax].rate,
                "tax_included": catalog.prices_include_tax,
                "station": item.station,
                "at": clock.now(),
                **by,
            }
        )
    rows.append(
        {
            "op": "pay",
            "order": order_id,
            "key": f"{order_id}-pay",
            "tender": plan.tender,
            "amount": amount,
            "tip": 0,
            "reference": None,
            "at": clock.now(),
            **by,
        }
    )
    rows.append(
        {"op": "close", "order": order_id, "event": new_entry_id(), "at": clock.now(), **by}
    )
    return [json.dumps(row) for row in rows]


def baseline_stream(seed: int, lines: int) -> Iterator[str]:
    """An endless stream of baseline operation rows, order after order."""
    catalog = parse_catalog(sample_catalog())
    clock = HybridClock(NODE.name, lambda: int(time.time() * 1000))
    for plan in plans(seed, catalog, lines):
        yield from baseline_rows(plan, catalog, clock)


# -- opening both sides ------------------------------------------------------------------


def open_book(store: DocStore) -> OrderBook:
    """The bench store's order book over `store` (not started)."""
    return OrderBook(
        Replica(store),
        store_id=STORE_ID,
        node=NODE,
        zone=ZoneInfo("UTC"),
        rollover_hour=4,
        now=utc_now,
    )


class Domain:
    """The real order domain on a fresh store file: DocStore, Replica, OrderBook."""

    def __init__(self, store: DocStore, book: OrderBook, catalog: Catalog) -> None:
        self.store = store
        self.book = book
        self.catalog = catalog

    @classmethod
    async def open(cls, path: Path) -> Domain:
        store = await DocStore.open(path)
        book = open_book(store)
        await book.start()
        catalog = await book.import_catalog(sample_catalog())
        freeze_startup_objects()  # as the daemon does once it has started
        return cls(store, book, catalog)

    @property
    def day_guid(self) -> str:
        return self.book.day_guid(self.book.business_date())


def open_plain(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the store's durability: WAL, synchronous=FULL,
    autocommit (each INSERT is its own committed transaction)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE ops (seq INTEGER PRIMARY KEY, data TEXT NOT NULL)")
    return conn


# -- 1. throughput -----------------------------------------------------------------------


async def domain_throughput(path: Path, args: argparse.Namespace) -> float:
    """Operations/s of `args.concurrency` callers ringing up orders for a fixed time."""
    domain = await Domain.open(path)
    source = plans(args.seed, domain.catalog, args.lines)
    ops = 0
    start = time.perf_counter()
    deadline = start + args.throughput_seconds

    async def cashier() -> None:
        nonlocal ops
        while time.perf_counter() < deadline:
            run = OrderRun(domain.book, next(source))
            while not run.done and time.perf_counter() < deadline:
                await run.step()
                ops += 1

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(args.concurrency):
                group.create_task(cashier())
        elapsed = time.perf_counter() - start
    finally:
        await domain.store.close()
    return ops / elapsed


def baseline_throughput(path: Path, args: argparse.Namespace) -> float:
    """Operations/s of one connection committing one JSON row per operation."""
    conn = open_plain(path)
    rows = baseline_stream(args.seed, args.lines)
    ops = 0
    start = time.perf_counter()
    deadline = start + args.throughput_seconds
    while time.perf_counter() < deadline:
        conn.execute("INSERT INTO ops (data) VALUES (?)", (next(rows),))
        ops += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return ops / elapsed


# -- 2. latency at a fixed offered rate --------------------------------------------------


async def domain_latency(path: Path, args: argparse.Namespace) -> dict:
    """Open loop: the next operation of some order starts every 1/rate s, on schedule."""
    domain = await Domain.open(path)
    source = plans(args.seed, domain.catalog, args.lines)
    ready: list[OrderRun] = []  # orders whose last operation is acknowledged
    latencies: list[float] = []
    acked: list[float] = []
    count = int(args.rate * args.latency_seconds)
    start = time.perf_counter() + 0.05

    async def operate(run: OrderRun, scheduled: float) -> None:
        await run.step()
        now = time.perf_counter()
        latencies.append(now - scheduled)
        acked.append(now)
        if not run.done:
            ready.append(run)

    try:
        async with asyncio.TaskGroup() as group:
            for i in range(count):
                scheduled = start + i / args.rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                # A busy order is never touched twice at once: a new one opens instead,
                # as when every terminal is mid-order and another customer walks in.
                run = ready.pop(0) if ready else OrderRun(domain.book, next(source))
                group.create_task(operate(run, scheduled))
    finally:
        await domain.store.close()
    return latency_summary(latencies, start, max(acked))


def baseline_latency(path: Path, args: argparse.Namespace) -> dict:
    """The same open-loop schedule against plain sqlite3.

    A commit blocks its thread, so a committing loop cannot also keep the schedule. Fair
    to both: a generator thread hands each operation to one writer thread (one connection,
    as the store has) at its scheduled time, and latency counts from the schedule, so time
    spent queued behind earlier commits counts just as it does for posedge.
    """
    conn = open_plain(path)
    rows = baseline_stream(args.seed, args.lines)
    inbox: queue.SimpleQueue[tuple[float, str] | None] = queue.SimpleQueue()
    latencies: list[float] = []
    acked: list[float] = []

    def writer() -> None:
        while (item := inbox.get()) is not None:
            scheduled, row = item
            conn.execute("INSERT INTO ops (data) VALUES (?)", (row,))
            now = time.perf_counter()
            latencies.append(now - scheduled)
            acked.append(now)

    thread = threading.Thread(target=writer, name="baseline-writer")
    thread.start()
    start = time.perf_counter() + 0.05
    for i in range(int(args.rate * args.latency_seconds)):
        scheduled = start + i / args.rate
        row = next(rows)
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        inbox.put((scheduled, row))
    inbox.put(None)
    thread.join()
    conn.close()
    return latency_summary(latencies, start, max(acked))


# -- 3. a business day -------------------------------------------------------------------


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
        doc = domain.book.replica.loaded(guid)
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
            [sys.executable, __file__, "--probe", kind, str(path), guid],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(out.splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


# -- the run -----------------------------------------------------------------------------


def ratio(a: float, b: float) -> float | None:
    """a / b, or None (JSON null) when b is 0."""
    return round(a / b, 3) if b else None


def measure(args: argparse.Namespace, root: Path) -> dict:
    say(f"1. throughput: {args.concurrency} callers for {args.throughput_seconds:g} s each side")
    domain_ops = asyncio.run(domain_throughput(root / "throughput.db", args))
    say(f"   posedge   {domain_ops:9.1f} ops/s")
    plain_ops = baseline_throughput(root / "throughput-plain.db", args)
    say(f"   baseline  {plain_ops:9.1f} ops/s (sqlite3, one commit per op)")
    throughput = {
        "posedge_ops_per_s": round(domain_ops, 1),
        "baseline_ops_per_s": round(plain_ops, 1),
        "ratio": ratio(domain_ops, plain_ops),
    }
    say(f"   ratio     {throughput['ratio']:9.3f}")

    say(f"2. latency: open loop at {args.rate:g} ops/s for {args.latency_seconds:g} s")
    domain_lat = asyncio.run(domain_latency(root / "latency.db", args))
    plain_lat = baseline_latency(root / "latency-plain.db", args)
    for name, lat in (("posedge", domain_lat), ("baseline", plain_lat)):
        say(
            f"   {name:9} p50 {lat['p50_ms']:7.2f} ms  p99 {lat['p99_ms']:7.2f} ms  "
            f"max {lat['max_ms']:7.2f} ms  achieved {lat['achieved_ops_per_s']:.1f} ops/s"
        )

    return {
        "throughput": throughput,
        "latency": {"posedge": domain_lat, "baseline": plain_lat},
        "day": measure_day(args, root),
    }


def measure_day(args: argparse.Namespace, root: Path) -> dict:
    say(f"3. business day: {args.day_orders} orders of {args.lines} lines, paid and closed")
    day = asyncio.run(build_day(root / "orders.db", args))
    say(
        f"   built in {day['build_s']:.1f} s ({day['build_ops_per_s']:.0f} ops/s); "
        f"compaction {day['compact_ms']:.0f} ms ({day['compact_merged_updates']} updates)"
    )
    if day["checkpoint_error"]:
        say(f"   DocStore.checkpoint failed: {day['checkpoint_error']}")
    write_plain_day(root / "orders-plain.db", day["orders"])
    count = len(day["orders"])
    sides = {}
    for name, path, guid in (
        ("posedge", root / "orders.db", day["guid"]),
        ("baseline", root / "orders-plain.db", ""),
    ):
        size, free = disk_bytes(path)  # before the probe opens (and writes to) the file
        load = run_probe("posedge" if guid else "sqlite", path, guid, args.load_repeats)
        sides[name] = {
            "load_ms": round(load["load_ms"], 1),
            "extra_mb": round(load["extra_mb"], 1),
            "bytes_per_order": round(size / count, 1),
            "free_page_bytes_per_order": round(free / count, 1),
        }
        say(
            f"   {name:9} load {load['load_ms']:7.1f} ms  +{load['extra_mb']:6.1f} MB  "
            f"{size / count:7.0f} bytes/order on disk ({free / count:.0f} in free pages)"
        )
    posedge, baseline = sides["posedge"], sides["baseline"]
    return {
        "orders": count,
        "lines_per_order": args.lines,
        "build_ops_per_s": round(day["build_ops_per_s"], 1),
        "compact_ms": round(day["compact_ms"], 1),
        "compact_merged_updates": day["compact_merged_updates"],
        "checkpoint_error": day["checkpoint_error"],
        **sides,
        "ratios": {
            key: ratio(posedge[key], baseline[key])
            for key in ("load_ms", "extra_mb", "bytes_per_order")
        },
    }


def verdicts(figures: dict) -> dict:
    """Which targets are met."""
    posedge_day = figures["day"]["posedge"]
    return {
        "throughput_ratio": figures["throughput"]["ratio"] >= TARGETS["throughput_ratio_min"],
        "latency_p99": figures["latency"]["posedge"]["p99_ms"] <= TARGETS["latency_p99_ms_max"],
        "load_ms": posedge_day["load_ms"] <= TARGETS["load_ms_max"],
        "load_extra_mb": posedge_day["extra_mb"] <= TARGETS["load_extra_mb_max"],
        "bytes_per_order": posedge_day["bytes_per_order"] <= TARGETS["bytes_per_order_max"],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent callers")
    parser.add_argument("--lines", type=int, default=5, help="lines per order")
    parser.add_argument("--throughput-seconds", type=float, default=10.0, help="per side")
    parser.add_argument("--rate", type=float, default=500.0, help="offered operations/s")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="per side")
    parser.add_argument("--day-orders", type=int, default=5000, help="orders in the day")
    parser.add_argument(
        "--load-repeats", type=int, default=3, help="fresh processes per load (median)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the orders' contents")
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.probe:
        kind, path, guid = args.probe
        probe(kind, Path(path), guid)
        return
    with tempfile.TemporaryDirectory(prefix="posedge-bench-") as tmp:
        figures = measure(args, Path(tmp))
    met = verdicts(figures)
    say("targets: " + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in met.items()))
    print(json.dumps({"bench": "orderlog", **figures, "targets": TARGETS, "met": met}))


if __name__ == "__main__":
    main()
