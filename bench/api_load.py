"""Benchmark of the terminal HTTP API: a real daemon, paired terminals, the full order flow.

The daemon runs as its own process (`python -m edge.cli.main run --config <temp toml>`) on a
fresh state directory whose store already holds the sample catalog, listening on a free
port of 127.0.0.1. `--terminals` terminals are paired through the real exchange (a code
from PairingCodes, then POST /api/v1/pair) and each rings up orders over HTTP, every
POST with its own `Idempotency-Key`: open, 5 lines (some with modifiers), void one line, a
10 % discount, fire, a card payment for part of the balance and cash for the rest (each
amount read from the previous answer's balance_due), a tip, close: 13 requests. An order
counts as complete when its close is answered 200.

How the load is generated: the terminals run in `--client-procs` processes of their own
(1 by default: the machine has two cores, one for the daemon with its SQLite threads, one
for the clients), each one asyncio loop driving its share of the terminals, each terminal
with its own aiohttp ClientSession (keep-alive: one connection per terminal while it has
one request in flight). Latency is taken in the client with time.perf_counter, from just
before a request is sent to its parsed answer. The bench process only orchestrates and
sleeps while the HTTP phases run. Over each measured window it prints the CPU the daemon
(and its event-loop thread), the clients and the rest of the machine used, from /proc, and
the daemon's own view from /metrics (read with one more paired terminal): time in its
handlers and group commits, so that a shared, noisy machine shows in the figures.

1. Saturation: every terminal rings up orders back to back; after a warm-up, completed
   orders/s, requests/s and p50/p99 per request kind over a fixed window.
2. Offered load (open loop): orders start on a fixed schedule, `--rate` orders/s in all,
   dealt round robin to the terminals; an order's requests follow one another as on a
   terminal, but a new order never waits for the previous one (a terminal may then have
   several orders going), so a slow node makes orders pile up instead of slowing the
   schedule; orders still going when the arrivals end get `--drain` s to finish. p50/p99
   per kind and overall.
3. Baseline, after the daemon has stopped: the same flow called in-process on OrderBook
   (no HTTP, its own temp store, the same request keys), `--terminals` concurrent callers,
   saturated as in 1; the ratio is HTTP orders/s ÷ in-process orders/s.

The order flow and the client processes are in order_flow.py, the daemon and what is read
of it in daemon_under_load.py; this file holds the phases.

Run it from the project root:

    .venv/bin/python bench/api_load.py            # defaults, about 75 s
    .venv/bin/python bench/api_load.py --help     # terminals, durations, rate
    .venv/bin/python bench/api_load.py --server-profile /tmp/daemon.prof   # under cProfile

Figures print as they are measured; the last line is one JSON object holding all of them.
Targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import secrets
import tempfile
import time
from pathlib import Path

from daemon_under_load import (
    DaemonProcess,
    Node,
    free_port,
    load_catalog,
    pair_terminals,
    write_config,
)
from edge.access.pairing_codes import PairingCodes
from edge.orders.book import OrderBook
from edge.orders.catalog import sample_catalog
from edge.orders.ids import entry_id
from edge.orders.log import Actor
from edge.runtime.process import freeze_startup_objects, utc_now
from order_flow import (
    KINDS,
    REQUESTS_PER_ORDER,
    ClientPool,
    Menu,
    Till,
    ms_summary,
    ratio,
    sample_menu,
    saturate,
)
from order_runs import open_book
from sync.replica import Replica
from sync.store import DocStore

TARGETS = {"http_orders_per_s_min": 150.0, "p99_ms_max": 50.0, "p99_at_orders_per_s": 50.0}


def say(text: str) -> None:
    print(text, flush=True)


# -- the run -----------------------------------------------------------------------------


def per_kind(latencies: dict[str, list[float]]) -> dict:
    return {kind: ms_summary(latencies[kind]) for kind in KINDS}


def print_kinds(kinds: dict) -> None:
    say(f"   {'kind':9} {'count':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, row in kinds.items():
        if row["count"]:
            say(
                f"   {kind:9} {row['count']:7d} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
                f"{row['max_ms']:8.2f}"
            )


def print_window(figures: dict) -> None:
    say(
        f"   CPU (cores busy): daemon {figures['daemon_cpu']:.2f} (event loop thread "
        f"{figures['daemon_loop_thread_cpu']:.2f}), clients "
        f"{figures['client_cpu']:.2f}, rest of the machine {figures['rest_of_machine_cpu']:.2f}"
    )
    say(
        f"   daemon: {figures['daemon_cpu_ms_per_request']} ms CPU and "
        f"{figures['server_side_ms_per_request']} ms in its handlers per request (mean); "
        f"{figures['commits_per_s']} commits/s of {figures['updates_per_commit']} updates, "
        f"{figures['commit_ms_mean']} ms each"
    )


def measure_http(args: argparse.Namespace, root: Path, menu: Menu) -> dict:
    state_dir = root / "state"
    state_dir.mkdir()
    asyncio.run(load_catalog(state_dir / "orders.db"))
    registry = PairingCodes(state_dir / "node.db")
    codes = [
        registry.create_code(
            f"Till {n + 1}", "terminal", ttl=dt.timedelta(minutes=10), now=utc_now()
        ).code
        for n in range(args.terminals)
    ]
    observer = registry.create_code(
        "Bench observer", "terminal", ttl=dt.timedelta(minutes=10), now=utc_now()
    ).code
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    write_config(root / "posedge.toml", state_dir, port)
    daemon = DaemonProcess(root / "posedge.toml", root / "daemon.log", args.server_profile)
    pool = None
    try:
        daemon.wait_ready(base)
        *tokens, observer_token = asyncio.run(pair_terminals(base, [*codes, observer]))
        node = Node(daemon, base, observer_token)
        pool = ClientPool(base, tokens, menu, args.client_procs, args.seed)
        say(
            f"daemon pid {daemon.proc.pid} on {base}; {args.terminals} terminals paired, "
            f"driven by {args.client_procs} client process(es)"
        )
        return {
            "saturation": saturation_phase(args, pool, node),
            "offered": offered_phase(args, pool, node),
        }
    finally:
        if pool is not None:
            pool.close()
        code = daemon.stop()
        if code != 0:
            say(f"   the daemon exited with {code}; its log:\n{daemon.tail()}")


def saturation_phase(args: argparse.Namespace, pool: ClientPool, node: Node) -> dict:
    say(
        f"1. saturation: {args.terminals} terminals back to back, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s measured"
    )
    start = time.monotonic() + 0.5
    lo = start + args.warmup
    command = {"phase": "saturate", "start": start, "warmup": args.warmup}
    got, window = node.phase(pool, {**command, "duration": args.duration}, lo, lo + args.duration)
    requests = sum(len(v) for v in got["latencies"].values())
    result = {
        "orders_per_s": round(got["orders"] / args.duration, 1),
        "requests_per_s": round(requests / args.duration, 1),
        "per_kind": per_kind(got["latencies"]),
        "p99_ms": ms_summary([s for v in got["latencies"].values() for s in v])["p99_ms"],
        "errors": got["errors"],
        **window,
    }
    say(
        f"   {result['orders_per_s']:.1f} orders/s, {result['requests_per_s']:.1f} requests/s, "
        f"errors: {result['errors'] or 'none'}"
    )
    print_kinds(result["per_kind"])
    print_window(window)
    return result


def offered_phase(args: argparse.Namespace, pool: ClientPool, node: Node) -> dict:
    say(f"2. offered load: {args.rate:g} orders/s for {args.offered_duration:g} s, open loop")
    start = time.monotonic() + 0.5
    command = {
        "phase": "offer",
        "start": start,
        "duration": args.offered_duration,
        "rate": args.rate,
        "drain": args.drain,
    }
    got, window = node.phase(pool, command, start, start + args.offered_duration)
    everything = [s for v in got["latencies"].values() for s in v]
    overall = ms_summary(everything)
    result = {
        "offered_orders_per_s": args.rate,
        "orders_started": got["arrived"],
        "orders_completed": got["orders"],
        "orders_unfinished": got["unfinished"],
        "per_kind": per_kind(got["latencies"]),
        "p50_ms": overall["p50_ms"],
        "p99_ms": overall["p99_ms"],
        "max_ms": overall["max_ms"],
        "schedule_lag_p99_ms": ms_summary(got["lags"])["p99_ms"],
        "errors": got["errors"],
        **window,
    }
    say(
        f"   {result['orders_started']} orders started, {result['orders_completed']} completed, "
        f"{result['orders_unfinished']} unfinished; errors: {result['errors'] or 'none'}"
    )
    print_kinds(result["per_kind"])
    say(
        f"   all requests: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"max {result['max_ms']} ms; schedule lag p99 {result['schedule_lag_p99_ms']} ms"
    )
    print_window(window)
    return result


# -- the baseline: the same flow on the order book in-process ----------------------------


class DomainTill:
    """A terminal calling OrderBook directly, with request keys as the API derives them."""

    def __init__(self, book: OrderBook, actor: Actor, terminal_id: str) -> None:
        self._book = book
        self._actor = actor
        self._scope = terminal_id

    def _key(self) -> str:
        return f"{self._scope}:{secrets.token_hex(12)}"

    async def open(self) -> str:
        return (await self._book.open_order(self._actor, request_key=self._key())).id

    async def line(self, order: str, sku: str, qty: int, modifiers: list) -> str:
        _, line_id = await self._book.add_line(
            self._actor, order, sku=sku, qty=qty, modifiers=modifiers, request_key=self._key()
        )
        return line_id

    async def void(self, order: str, line: str) -> None:
        await self._book.void_line(self._actor, order, line, "changed their mind")

    async def discount(self, order: str) -> None:
        await self._book.add_discount(
            self._actor, order, reason="loyalty", percent="10", request_key=self._key()
        )

    async def fire(self, order: str) -> int:
        view, _ = await self._book.fire(self._actor, order, request_key=self._key())
        return view.totals.balance_due

    async def pay(self, order: str, tender: str, amount: int) -> tuple[str, int]:
        key = entry_id(self._key(), "payment")
        view = await self._book.add_payment(
            self._actor, order, key=key, tender=tender, amount=amount
        )
        return key, view.totals.balance_due

    async def tip(self, order: str, payment_key: str, amount: int) -> None:
        key = entry_id(self._key(), "tip")
        await self._book.add_tip(
            self._actor, order, key=key, amount=amount, payment_key=payment_key
        )

    async def close(self, order: str) -> None:
        await self._book.close(self._actor, order, request_key=self._key())


async def domain_saturation(path: Path, args: argparse.Namespace, menu: Menu) -> dict:
    store = await DocStore.open(path)
    try:
        book = open_book(Replica(store))
        await book.start()
        await book.import_catalog(sample_catalog())
        freeze_startup_objects()  # as the daemon does once it has started
        tills: list[Till] = []
        for n in range(args.terminals):
            terminal_id = f"t-{n:08x}"
            tills.append(DomainTill(book, Actor(f"Till {n + 1} ({terminal_id})"), terminal_id))
        start = time.perf_counter() + 0.05
        return await saturate(tills, menu, args.seed, start, args.warmup, args.duration)
    finally:
        await store.close()


def measure_baseline(args: argparse.Namespace, root: Path, menu: Menu) -> dict:
    say(
        f"3. baseline: the same flow on OrderBook in-process, {args.terminals} callers, "
        f"{args.warmup:g} s warm-up + {args.duration:g} s measured"
    )
    got = asyncio.run(domain_saturation(root / "baseline.db", args, menu))
    ops = sum(len(v) for v in got["latencies"].values())
    result = {
        "orders_per_s": round(got["orders"] / args.duration, 1),
        "operations_per_s": round(ops / args.duration, 1),
        "per_kind": per_kind(got["latencies"]),
        "errors": got["errors"],
        "cpu": round(got["cpu_s"] / args.duration, 2),
    }
    say(
        f"   {result['orders_per_s']:.1f} orders/s, {result['operations_per_s']:.1f} "
        f"operations/s, errors: {result['errors'] or 'none'}, CPU {result['cpu']:.2f} cores"
    )
    print_kinds(result["per_kind"])
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terminals", type=int, default=20, help="concurrent terminals")
    parser.add_argument(
        "--client-procs", type=int, default=1, help="processes the terminals are spread over"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="s before measuring (1, 3)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured s (1, 3)")
    parser.add_argument("--rate", type=float, default=50.0, help="offered orders/s (2)")
    parser.add_argument("--offered-duration", type=float, default=20.0, help="s of arrivals (2)")
    parser.add_argument(
        "--drain", type=float, default=30.0, help="s allowed for orders still going after (2)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the orders' contents")
    parser.add_argument(
        "--server-profile", type=Path, help="run the daemon under cProfile, stats to this file"
    )
    args = parser.parse_args(argv)
    if args.terminals < 1 or not 1 <= args.client_procs <= args.terminals:
        parser.error("need 1 <= --client-procs <= --terminals")
    if args.server_profile:
        args.server_profile = args.server_profile.resolve()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    menu = sample_menu()
    with tempfile.TemporaryDirectory(prefix="posedge-api-load-") as tmp:
        http = measure_http(args, Path(tmp), menu)
        baseline = measure_baseline(args, Path(tmp), menu)
    saturation, offered = http["saturation"], http["offered"]
    figures = {
        "bench": "api_load",
        "terminals": args.terminals,
        "client_procs": args.client_procs,
        "requests_per_order": REQUESTS_PER_ORDER,
        "http_orders_per_s": saturation["orders_per_s"],
        "http_requests_per_s": saturation["requests_per_s"],
        "per_kind": saturation["per_kind"],
        "p99_ms_at_offered_load": offered["p99_ms"],
        "offered": offered,
        "saturation": {k: v for k, v in saturation.items() if k != "per_kind"},
        "baseline_orders_per_s": baseline["orders_per_s"],
        "baseline": baseline,
        "ratio": ratio(saturation["orders_per_s"], baseline["orders_per_s"]),
        "targets": TARGETS,
    }
    met = {
        "http_orders_per_s": saturation["orders_per_s"] >= TARGETS["http_orders_per_s_min"],
        "p99_at_offered_load": offered["p99_ms"] is not None
        and offered["p99_ms"] <= TARGETS["p99_ms_max"]
        and offered["orders_unfinished"] == 0,
    }
    say(
        f"ratio HTTP / in-process orders/s: {figures['ratio']} "
        f"({saturation['orders_per_s']} / {baseline['orders_per_s']})"
    )
    say(
        f"targets: >= {TARGETS['http_orders_per_s_min']:g} orders/s at saturation "
        f"{'met' if met['http_orders_per_s'] else 'MISSED'}; p99 <= {TARGETS['p99_ms_max']:g} ms "
        f"at {TARGETS['p99_at_orders_per_s']:g} orders/s offered "
        f"{'met' if met['p99_at_offered_load'] else 'MISSED'}"
        + ("" if args.rate == TARGETS["p99_at_orders_per_s"] else f" (offered {args.rate:g})")
    )
    print(json.dumps({**figures, "met": met}))


if __name__ == "__main__":
    main()
