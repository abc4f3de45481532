"""Benchmark of the upstream link: a store's backlog reaching the hub, and many stores at once.

A real hub (`posedge hub`, its own process, TLS on loopback) and nodes built from the real
stack (DocStore in its own SQLite file, OrderBook, UpstreamLink) in this process.

1. Catch-up: a node rings up a busy day (5,000 orders by default: open, lines, payment,
   close) while it has no hub, then its upstream link starts. Measured: the time until the
   hub has acknowledged every document (the node's link progress covers its last change),
   and the bytes the node sent (TCP payload, from the kernel's counters via `ss`; the sync
   frames before deflate too). Baseline, in the same run: the same orders as the JSON the
   API shows (`GET /orders/{id}`), gzipped in batches of 500, POSTed over HTTPS with the
   hub's certificate to a receiver process that inflates each batch and stores its orders
   in SQLite (WAL, synchronous=FULL) before answering; from reading the orders on the node
   to the last answer.
2. Many stores: 50 stores (100 orders each by default), each one node, start their links
   at once. Measured: the time until every store is acknowledged, the hub's ingest rate
   (orders and wire bytes per second), links that failed at any point, the hub's peak
   memory, and that HQ's API lists every order of every store.

Run it from the project root:

    .venv/bin/python bench/upstream.py            # defaults, about 2 minutes
    .venv/bin/python bench/upstream.py --help

Figures print as they are measured; the last line is one JSON object holding all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from converge import sell, wire_bytes
from daemon_under_load import free_port
from edge.config.model import UpstreamConfig
from edge.hub.app import prepare_hub
from edge.orders.book import OrderBook
from edge.orders.catalog import sample_catalog
from edge.orders.feed import OrderFeed
from edge.orders.log import NodeIdentity
from edge.replication.upstream import UpstreamLink
from edge.runtime.process import utc_now
from sync.hub.tls import client_context, server_context
from sync.hub.tokens import HubStores
from sync.replica import Replica
from sync.store import DocStore

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"catch_up_s": 5.0, "bytes_ratio": 1.0, "failed_links": 0}
WAIT = 180.0  # seconds: a bound on every wait below
BATCH = 500  # orders per POST in the baseline


def say(text: str) -> None:
    print(text, flush=True)


def peak_rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


async def start_process(*argv: str) -> tuple[asyncio.subprocess.Process, dict]:
    """A child process that prints one JSON line once it listens; it and that line."""
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(process.stdout.readline(), WAIT)
    if not line:
        raise SystemExit(f"upstream: {argv[2:4]} exited before listening")
    return process, json.loads(line)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


class Hub:
    """`posedge hub` in a directory of its own, with a token per store."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.setup = prepare_hub(directory, cert=None, key=None, names=["127.0.0.1"])
        self.stores = HubStores(directory / "stores.db")
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.setup.cert

    async def start(self) -> None:
        self.process, _ = await start_process(
            sys.executable, "-m", "edge.cli.main", "hub", "--dir", str(self.directory),
            "--host", "127.0.0.1", "--port", str(self.port), "--name", "127.0.0.1",
        )  # fmt: skip

    async def order_count(self, http: aiohttp.ClientSession, store_id: str, day: str) -> int:
        async with http.get(
            f"https://127.0.0.1:{self.port}/hq/v1/stores/{store_id}/orders",
            params={"date": day},
            headers={"Authorization": f"Bearer {self.setup.hq_token}"},
            ssl=client_context(self.ca),
        ) as response:
            body = await response.json()
            return len(body["orders"]) if response.status == 200 else -1


async def open_node(directory: Path, store_id: str) -> tuple[Replica, OrderBook]:
    """A store's node with the sample catalog, on a fresh store file (`replica.store`)."""
    replica = Replica(await DocStore.open(directory / f"{store_id}.db"))
    book = OrderBook(
        replica,
        store_id=store_id,
        node=NodeIdentity(f"{store_id}-node", "A"),
        zone=ZoneInfo("UTC"),
        rollover_hour=4,
        now=utc_now,
    )
    await book.start()
    await book.import_catalog(sample_catalog())
    return replica, book


async def wait_until(check, what: str, poll: float = 0.02) -> float:
    """Poll the coroutine function `check` until it answers true; when (perf_counter)."""
    deadline = time.perf_counter() + WAIT
    while time.perf_counter() < deadline:
        if await check():
            return time.perf_counter()
        await asyncio.sleep(poll)
    raise SystemExit(f"upstream: {what} not within {WAIT} s")


@contextlib.asynccontextmanager
async def linked(book: OrderBook, replica: Replica, hub: Hub, token: str):
    """The node's upstream link to `hub`, running while the block does."""
    config = UpstreamConfig(hub.url, token, hub.ca, stagger=0.0)
    feed = OrderFeed(replica, store_id=book.store_id)
    link = UpstreamLink(book, replica, config, feed=feed, retry_cap=1.0)
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def all_acknowledged(link: UpstreamLink) -> bool:
    return link.state == "connected" and not await link.unacknowledged()


async def catch_up(args: argparse.Namespace, tmp: Path, hub: Hub) -> dict:
    replica, book = await open_node(tmp, "busy")
    token = hub.stores.add("busy")
    try:
        start = time.perf_counter()
        await sell(book, args.orders, args.seed, args.lines)
        built = time.perf_counter() - start
        say(f"catch-up: the node rang up {args.orders} orders in {built:.1f} s")
        day = book.business_date().isoformat()
        async with linked(book, replica, hub, token) as link:
            start = time.perf_counter()
            done = await wait_until(lambda: all_acknowledged(link), "the hub's acknowledgement")
            wire = wire_bytes([hub.port], towards_only=True)
            payload = link.session.bytes_out if link.session else None
        async with aiohttp.ClientSession() as http:
            at_hub = await hub.order_count(http, "busy", day)
        figures = {
            "orders": args.orders,
            "orders_at_hub": at_hub,
            "catch_up_s": done - start,
            "wire_bytes": wire,
            "sync_frame_bytes": payload,
        }
        figures["baseline"] = await post_json(book, hub, tmp)
    finally:
        await replica.store.close()
    base = figures["baseline"]
    figures["time_ratio"] = figures["catch_up_s"] / base["seconds"]
    figures["bytes_ratio"] = wire / base["wire_bytes"] if wire and base["wire_bytes"] else None
    say(
        f"catch-up: hub acknowledged {args.orders} orders in {figures['catch_up_s']:.2f} s, "
        f"{wire:,} bytes sent ({payload:,} in sync frames before deflate); hub lists {at_hub}"
    )
    say(
        f"baseline: gzipped JSON batches in {base['seconds']:.2f} s, {base['wire_bytes']:,} "
        f"bytes sent ({base['body_bytes']:,} in bodies); ratios: time "
        f"{figures['time_ratio']:.2f}, bytes {figures['bytes_ratio']:.3f}"
    )
    return figures


async def post_json(book: OrderBook, hub: Hub, tmp: Path) -> dict:
    """The baseline: the day's orders as gzipped JSON batches to the receiver process."""
    port = free_port()
    receiver, _ = await start_process(
        sys.executable, __file__, "--receive", str(tmp / "received.db"), "--port", str(port),
        "--cert", str(hub.ca), "--key", str(hub.setup.key),
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            start = time.perf_counter()
            views = await book.list_orders(book.business_date())
            body_bytes = stored = 0
            for at in range(0, len(views), BATCH):
                batch = [view.to_dict() for view in views[at : at + BATCH]]
                body = gzip.compress(json.dumps(batch).encode())
                body_bytes += len(body)
                async with http.post(
                    f"https://127.0.0.1:{port}/orders",
                    data=body,
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                    ssl=client_context(hub.ca),
                ) as response:
                    response.raise_for_status()
                    stored += (await response.json())["stored"]
            seconds = time.perf_counter() - start
            wire = wire_bytes([port], towards_only=True)
    finally:
        await stop_process(receiver)
    return {"seconds": seconds, "stored": stored, "wire_bytes": wire, "body_bytes": body_bytes}


async def many_stores(args: argparse.Namespace, tmp: Path, hub: Hub) -> dict:
    ids = [f"store-{n:03d}" for n in range(args.stores)]
    nodes = [await open_node(tmp, store_id) for store_id in ids]
    tokens = [hub.stores.add(store_id) for store_id in ids]
    try:
        start = time.perf_counter()
        await asyncio.gather(
            *(
                sell(book, args.store_orders, args.seed + n, args.lines)
                for n, (_, book) in enumerate(nodes)
            )
        )
        say(
            f"stores: {args.stores} stores rang up {args.store_orders} orders each in "
            f"{time.perf_counter() - start:.1f} s"
        )
        day = nodes[0][1].business_date().isoformat()
        async with contextlib.AsyncExitStack() as links_up:
            start = time.perf_counter()
            links = [
                await links_up.enter_async_context(linked(book, replica, hub, token))
                for (replica, book), token in zip(nodes, tokens, strict=True)
            ]

            async def every_store_acknowledged() -> bool:
                return all([await all_acknowledged(link) for link in links])

            done = await wait_until(every_store_acknowledged, "every store's acknowledgement", 0.1)
            wire = wire_bytes([hub.port], towards_only=True)
            failed = sorted(
                store_id
                for store_id, link in zip(ids, links, strict=True)
                if link.last_error is not None
            )
        async with aiohttp.ClientSession() as http:
            counts = [await hub.order_count(http, store_id, day) for store_id in ids]
    finally:
        for replica, _ in nodes:
            await replica.store.close()
    seconds = done - start
    total = args.stores * args.store_orders
    figures = {
        "stores": args.stores,
        "orders": total,
        "seconds": seconds,
        "orders_per_s": total / seconds,
        "wire_bytes_per_s": wire / seconds if wire else None,
        "failed_links": len(failed),
        "failed_stores": failed,
        "stores_complete_at_hub": sum(count == args.store_orders for count in counts),
        "hub_peak_rss_mb": peak_rss_mb(hub.process.pid),
    }
    say(
        f"stores: {args.stores} stores acknowledged in {seconds:.2f} s: "
        f"{figures['orders_per_s']:.0f} orders/s; links that failed: {len(failed)}; stores "
        f"complete at the hub: {figures['stores_complete_at_hub']}; hub peak RSS "
        f"{figures['hub_peak_rss_mb']:.0f} MB"
    )
    return figures


async def bench(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="posedge-upstream-") as tmp:
        hub = Hub(Path(tmp) / "hub", free_port())
        await hub.start()
        try:
            catch = await catch_up(args, Path(tmp), hub)
            stores = await many_stores(args, Path(tmp), hub)
        finally:
            await stop_process(hub.process)
    return {"catch_up": catch, "many_stores": stores}


def receive(args: argparse.Namespace) -> None:
    """The baseline's receiving end: store each POSTed batch durably, then answer."""
    db = sqlite3.connect(args.receive, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, body TEXT NOT NULL)")

    def store(orders: list[dict]) -> None:
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?)",
                [(order["id"], json.dumps(order)) for order in orders],
            )

    async def orders(request: web.Request) -> web.Response:
        batch = json.loads(await request.read())  # aiohttp inflates Content-Encoding: gzip
        await asyncio.to_thread(store, batch)
        return web.json_response({"stored": len(batch)})

    async def serve() -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/orders", orders)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        ssl = server_context(Path(args.cert), Path(args.key))
        await web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=ssl).start()
        print(json.dumps({"listening": args.port}), flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def verdicts(figures: dict) -> dict:
    catch, stores = figures["catch_up"], figures["many_stores"]
    return {
        "catch_up_s": catch["catch_up_s"] <= TARGETS["catch_up_s"],
        "bytes_ratio": catch["bytes_ratio"] is not None
        and catch["bytes_ratio"] <= TARGETS["bytes_ratio"],
        "failed_links": stores["failed_links"] <= TARGETS["failed_links"],
        "all_orders_at_hub": catch["orders_at_hub"] == catch["orders"]
        and stores["stores_complete_at_hub"] == stores["stores"],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000, help="the busy day's orders")
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--stores", type=int, default=50, help="stores syncing at once")
    parser.add_argument("--store-orders", type=int, default=100, help="orders per store")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--receive", help=argparse.SUPPRESS)  # the baseline's receiver
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.receive:
        receive(args)
        return
    figures = asyncio.run(bench(args))
    met = verdicts(figures)
    say(f"targets {TARGETS}: met {met}")
    catch = figures["catch_up"]
    summary = {
        "bench": "upstream",
        "figures": figures,
        "baseline": catch["baseline"],
        "ratio": {"time": catch["time_ratio"], "wire_bytes": catch["bytes_ratio"]},
        "targets": TARGETS,
        "met": met,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
