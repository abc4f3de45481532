"""Benchmark of LAN replication: three nodes sell while partitioned, then the links come up.

Each node is the real stack (DocStore in its own SQLite file, OrderBook, PeerManager with
mutually authenticated TLS on loopback), in this one process. While no link is up, every
node rings up its orders (500 by default: open, lines, payment, close). Then every node's
peer manager starts, with the others as static peers (the node whose id sorts first dials,
as with mDNS), and the bench measures:

1. Convergence: from the moment the last of the three links is up to the moment every node
   holds the same state of every document (state vectors equal both ways), and from the
   managers' start (TLS handshakes included).
2. Bytes: what the links carried, as sync frames (payload of the WebSocket messages) and on
   the wire (TCP payload, TLS and WebSocket framing included, from the kernel's counters
   where `ss` shows them), next to the minimum: for every node, the size of one Yjs update
   holding exactly what it lacked (the union of all nodes' state, diffed against its own).
3. Discovery (root only: it needs network namespaces): two processes in namespaces on a
   bridge, each running posedge's mDNS discovery; the time from the second beginning to
   announce (mDNS probes for its name first) to the first listing it.

Run it from the project root:

    .venv/bin/python bench/converge.py            # defaults, under a minute
    .venv/bin/python bench/converge.py --help

Figures print as they are measured; the last line is one JSON object holding all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from pycrdt import Doc, Map

from daemon_under_load import free_port
from edge.app import serving_peers
from edge.orders.book import OrderBook
from edge.orders.catalog import sample_catalog
from edge.orders.log import NodeIdentity
from edge.replication.peers import PeerManager
from edge.runtime.process import utc_now
from order_runs import OrderRun, plans
from sync.membership.trust import StoreCredentials, create_store, issue_node_certificate, make_csr
from sync.protocol import covers
from sync.replica import Replica
from sync.store import DocStore

ROOT = Path(__file__).resolve().parent.parent
STORE_ID = "bench"
TARGETS = {"converge_s": 1.0, "bytes_ratio": 1.3, "discovery_s": 3.0}
WAIT = 60.0  # seconds: a bound on every wait below


def say(text: str) -> None:
    print(text, flush=True)


@dataclasses.dataclass
class Node:
    name: str
    store: DocStore
    replica: Replica
    book: OrderBook
    creds: StoreCredentials
    port: int
    manager: PeerManager | None = None
    task: asyncio.Task | None = None
    servers: contextlib.AsyncExitStack = dataclasses.field(
        default_factory=contextlib.AsyncExitStack
    )


def member(creds: StoreCredentials, node_id: str) -> StoreCredentials:
    key, csr = make_csr(node_id)
    cert = issue_node_certificate(creds, node_id, csr)
    return dataclasses.replace(creds, node_id=node_id, node_cert_pem=cert, node_key_pem=key)


async def open_nodes(directory: Path, count: int) -> list[Node]:
    """`count` members of one store, each over its own store file, sharing one catalog (as
    they would after their last sync before the partition)."""
    first = create_store(STORE_ID, "node-1")
    nodes = []
    for index in range(count):
        name = f"node-{index + 1}"
        store = await DocStore.open(directory / f"{name}.db")
        replica = Replica(store)
        book = OrderBook(
            replica,
            store_id=STORE_ID,
            node=NodeIdentity(name, chr(ord("A") + index)),
            zone=ZoneInfo("UTC"),
            rollover_hour=4,
            now=utc_now,
        )
        await book.start()
        creds = first if index == 0 else member(first, name)
        nodes.append(Node(name, store, replica, book, creds, free_port()))
    await nodes[0].book.import_catalog(sample_catalog())
    catalog = nodes[0].replica.loaded(nodes[0].book.catalog_guid).get_update()
    for node in nodes[1:]:
        await node.replica.apply_update(node.book.catalog_guid, catalog, "bench")
    return nodes


async def sell(book: OrderBook, orders: int, seed: int, lines: int) -> None:
    """Ring up `orders` orders in `book`, four cashiers at a time."""
    catalog = await book.catalog()
    source = plans(seed, catalog, lines)
    left = orders

    async def cashier() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            run = OrderRun(book, next(source))
            while not run.done:
                await run.step()

    async with asyncio.TaskGroup() as group:
        for _ in range(4):
            group.create_task(cashier())


def documents(node: Node) -> dict[str, Doc]:
    return {guid: doc for guid, doc in node.replica.loaded_documents().items()}


def minimum_bytes(nodes: list[Node]) -> int:
    """Σ over nodes and documents of one update holding what that node lacks."""
    guids = set().union(*(documents(node) for node in nodes))
    total = 0
    for guid in sorted(guids):
        union = Doc()
        for node in nodes:
            doc = node.replica.loaded(guid)
            if doc is not None:
                union.apply_update(doc.get_update())
        for node in nodes:
            doc = node.replica.loaded(guid)
            missing = union.get_update(doc.get_state() if doc is not None else b"\x00")
            if missing != b"\x00\x00":  # an empty update: nothing to send
                total += len(missing)
    return total


def same_state(nodes: list[Node]) -> bool:
    guids = set().union(*(documents(node) for node in nodes))
    for guid in guids:
        states = []
        for node in nodes:
            doc = node.replica.loaded(guid)
            if doc is None:
                return False
            states.append(doc.get_state())
        first = states[0]
        if not all(covers(first, s) and covers(s, first) for s in states[1:]):
            return False
    return True


def links_up(nodes: list[Node]) -> float | None:
    """When (time.time()) the last of the links came up, once all are up."""
    since = []
    for node in nodes:
        for other in nodes:
            if other is not node:
                status = node.manager.peers.get(other.name)
                if status is None or status.session is None:
                    return None
                since.append(status.since)
    return max(since)


def payload_bytes(nodes: list[Node]) -> tuple[int, int]:
    """Bytes and frames the live sessions queued for their peers."""
    sessions = [
        status.session
        for node in nodes
        for status in node.manager.peers.values()
        if status.session is not None
    ]
    return sum(s.bytes_out for s in sessions), sum(s.frames_out for s in sessions)


def wire_bytes(ports: list[int], *, towards_only: bool = False) -> int | None:
    """TCP payload bytes sent on the loopback connections to `ports` (both ways, or with
    `towards_only` only by the connecting side), from `ss`; None where the kernel or ss
    does not show them."""
    try:
        listing = subprocess.run(
            ["ss", "-tinH", "state", "established"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    total, seen = 0, False
    lines = listing.splitlines()
    for header, details in zip(lines[::2], lines[1::2], strict=False):
        addresses = header.split()[3 if towards_only else 2 : 4]
        if not any(address.endswith(f":{port}") for address in addresses for port in ports):
            continue
        match = re.search(r"bytes_sent:(\d+)", details)
        if match:
            total, seen = total + int(match.group(1)), True
    return total if seen else None


async def start_managers(nodes: list[Node]) -> None:
    """Start every node's peer manager, last first, so that each one dials (the nodes after
    it) only servers that are up."""
    for index in reversed(range(len(nodes))):
        node = nodes[index]
        later = [f"127.0.0.1:{other.port}" for other in nodes[index + 1 :]]
        node.manager = PeerManager(
            node.book,
            node.replica,
            node.creds,
            interfaces=None,
            static=later,
            days=3,
            use_mdns=False,
        )
        server = await node.servers.enter_async_context(
            serving_peers(node.manager, "127.0.0.1", node.port)
        )
        node.task = asyncio.create_task(node.manager.run(server.port))
        await wait_for(lambda node=node: node.manager.bound_port or node.task.done(), "server")
        if node.task.done():
            node.task.result()


async def wait_for(check, what: str, poll: float = 0.002):
    """Poll `check` until it answers; its answer."""
    deadline = time.perf_counter() + WAIT
    while time.perf_counter() < deadline:
        if answer := check():
            return answer
        await asyncio.sleep(poll)
    raise SystemExit(f"converge: no {what} within {WAIT} s")


async def converge(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="posedge-converge-") as tmp:
        nodes = await open_nodes(Path(tmp), args.nodes)
        try:
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    sell(node.book, args.orders, args.seed + index, args.lines)
                    for index, node in enumerate(nodes)
                )
            )
            say(
                f"partitioned: {args.nodes} nodes rang up {args.orders} orders each "
                f"in {time.perf_counter() - start:.1f} s"
            )
            minimum = minimum_bytes(nodes)
            started = time.time()
            await start_managers(nodes)
            up = await wait_for(lambda: links_up(nodes), "links")
            await wait_for(lambda: same_state(nodes), "convergence")
            same = time.time()
            payload, frames = payload_bytes(nodes)
            wire = wire_bytes([node.port for node in nodes])
            await asyncio.sleep(0)
            orders = [
                (await node.replica.open(node.book.day_guid(node.book.business_date())))
                .get("orders", type=Map)
                .to_py()
                for node in nodes
            ]
            identical = all(o == orders[0] for o in orders[1:])
            count = len(orders[0])
        finally:
            for node in nodes:
                if node.task is not None:
                    node.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await node.task
                await node.servers.aclose()
                await node.store.close()
    figures = {
        "orders_per_node": args.orders,
        "orders_after": count,
        "identical_orders": identical,
        "links_up_s": up - started,
        "converge_after_links_s": same - up,
        "converge_after_start_s": same - started,
        "sync_bytes": payload,
        "sync_frames": frames,
        "wire_bytes": wire,
        "minimum_bytes": minimum,
        "bytes_ratio": payload / minimum,
        "wire_ratio": wire / minimum if wire is not None else None,
    }
    say(
        f"links up {figures['links_up_s'] * 1000:.0f} ms after start; identical state "
        f"{figures['converge_after_links_s'] * 1000:.0f} ms after the links were up "
        f"({figures['converge_after_start_s'] * 1000:.0f} ms after start); "
        f"{count} orders on every node, identical: {identical}"
    )
    say(
        f"bytes: {payload:,} in {frames:,} sync frames, {wire if wire is not None else '?'} "
        f"on the wire; minimum {minimum:,}; ratio {figures['bytes_ratio']:.3f}"
    )
    return figures


async def discovery(args: argparse.Namespace) -> dict:
    """Time from a node announcing to another node listing it, over real multicast."""
    sys.path.insert(0, str(ROOT))
    from tests.support import netns  # the namespaces and the discovery node the tests use

    if (reason := netns.available()) is not None:
        say(f"discovery: not measured ({reason})")
        return {"discovery_s": None, "discovery_skipped": reason}
    times = []
    async with netns.Network(2) as (first, second):
        seer = await spawn_discovery_node(first, "n1")
        try:
            for round_ in range(args.discovery_rounds):
                name = f"m{round_}"
                joiner = await spawn_discovery_node(second, name, "starting")
                starting = time.perf_counter()
                seen = await read_until(seer, lambda line, n=name: n in line.get("peers", {}))
                times.append(seen - starting)
                joiner.terminate()
                await asyncio.wait_for(joiner.wait(), WAIT)
                await read_until(seer, lambda line, n=name: n not in line.get("peers", {}))
        finally:
            seer.terminate()
            await asyncio.wait_for(seer.wait(), WAIT)
    times.sort()
    say(
        "discovery: a new node listed "
        + ", ".join(f"{t * 1000:.0f}" for t in times)
        + " ms after it began to announce"
    )
    return {"discovery_s": times[-1], "discovery_median_s": times[len(times) // 2]}


async def spawn_discovery_node(
    namespace, node: str, until: str = "started"
) -> asyncio.subprocess.Process:
    """A discovery node running in `namespace`, once it printed `until`: "starting" just
    before it begins to announce, "started" once it announced."""
    process = await namespace.spawn(
        *namespace.python("-m", "tests.support.discovery_node", STORE_ID, node),
        "8421",
        "ab" * 32,
        cwd=ROOT,
    )
    await read_until(process, lambda line: until in line)
    return process


async def read_until(process: asyncio.subprocess.Process, done) -> float:
    deadline = time.perf_counter() + WAIT
    while (remaining := deadline - time.perf_counter()) > 0:
        raw = await asyncio.wait_for(process.stdout.readline(), remaining)
        if not raw:
            raise SystemExit("converge: a discovery node exited")
        if done(json.loads(raw)):
            return time.perf_counter()
    raise SystemExit(f"converge: discovery gave no answer within {WAIT} s")


async def main(args: argparse.Namespace) -> None:
    figures = await converge(args)
    if args.discovery_rounds:
        figures.update(await discovery(args))
    result = {
        "bench": "converge",
        "figures": figures,
        "baseline": {"minimum_bytes": figures["minimum_bytes"]},
        "ratio": {"bytes": figures["bytes_ratio"], "wire_bytes": figures["wire_ratio"]},
        "targets": TARGETS,
        "met": {
            "converge_s": figures["converge_after_links_s"] <= TARGETS["converge_s"],
            "bytes_ratio": figures["bytes_ratio"] <= TARGETS["bytes_ratio"],
            "discovery_s": (
                figures["discovery_s"] <= TARGETS["discovery_s"]
                if figures.get("discovery_s") is not None
                else None
            ),
        },
    }
    print(json.dumps(result), flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--orders", type=int, default=500, help="orders per node")
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--discovery-rounds", type=int, default=5, help="new nodes to time (0: skip)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
