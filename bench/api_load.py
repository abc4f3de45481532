"""Benchmark of the terminal HTTP API: a real daemon, paired terminals, the full order flow.

The daemon runs as its own process (`python -m edge.cli run --config <temp toml>`) on a
fresh state directory whose store already holds the sample catalog, listening on a free
port of 127.0.0.1. `--terminals` terminals are paired through the real exchange (a code
from TerminalRegistry, then POST /api/v1/pair) and each rings up orders over HTTP, every
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
import multiprocessing
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

import aiohttp

from edge.catalog import parse_catalog, sample_catalog
from edge.daemon import freeze_startup_objects, utc_now
from edge.errors import OrderError
from edge.order_ids import entry_id
from edge.orderbook import Actor, NodeIdentity, OrderBook
from edge.terminals import TerminalRegistry
from sync.replica import Replica
from sync.store import DocStore

ROOT = Path(__file__).resolve().parent.parent
STORE_ID = "bench"
NODE = NodeIdentity("bench-a", "A")
KINDS = ("open", "line", "void", "discount", "fire", "pay", "tip", "close")
LINES = 5
REQUESTS_PER_ORDER = LINES + 8  # open, lines, void, discount, fire, 2 payments, tip, close
TIP = 200
TARGETS = {"http_orders_per_s_min": 150.0, "p99_ms_max": 50.0, "p99_at_orders_per_s": 50.0}

T = TypeVar("T")
Menu = dict[str, list[str]]  # sku → its modifier codes
Plan = list[tuple[str, int, list[str]]]  # sku, qty, modifier codes per line


def say(text: str) -> None:
    print(text, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values` by the nearest-rank rule."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ms_summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(seconds),
        "p50_ms": round(1000 * percentile(seconds, 0.50), 2),
        "p99_ms": round(1000 * percentile(seconds, 0.99), 2),
        "max_ms": round(1000 * max(seconds), 2),
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


# -- the order flow, over any till -------------------------------------------------------


def sample_menu() -> Menu:
    catalog = parse_catalog(sample_catalog())
    return {sku: sorted(item.modifiers) for sku, item in sorted(catalog.items.items())}


def plan_order(rng: random.Random, menu: Menu) -> Plan:
    """Five lines; the first always, the others sometimes, with a modifier or two."""
    skus = list(menu)
    with_modifiers = [sku for sku in skus if menu[sku]]
    plan = []
    for index in range(LINES):
        sku = rng.choice(with_modifiers if index == 0 else skus)
        codes = menu[sku]
        chosen = []
        if codes and (index == 0 or rng.random() < 0.4):
            chosen = rng.sample(codes, k=min(len(codes), rng.randint(1, 2)))
        plan.append((sku, rng.randint(1, 2), chosen))
    return plan


class Till(Protocol):
    """One terminal's way to the order book: each call is one request or one operation."""

    async def open(self) -> str: ...  # the order id
    async def line(self, order: str, sku: str, qty: int, modifiers: list[str]) -> str: ...
    async def void(self, order: str, line: str) -> None: ...
    async def discount(self, order: str) -> None: ...
    async def fire(self, order: str) -> int: ...  # the balance due
    async def pay(self, order: str, tender: str, amount: int) -> tuple[str, int]: ...
    async def tip(self, order: str, payment_key: str, amount: int) -> None: ...
    async def close(self, order: str) -> None: ...


class Stopped(Exception):
    """The measured window is over: leave the order where it is."""


class Recorder:
    """Latencies per kind of the calls that finish within [lo, hi], and completed orders."""

    def __init__(self, lo: float, hi: float, stop: float = float("inf")) -> None:
        self.lo, self.hi, self.stop = lo, hi, stop
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.orders = 0
        self.errors: Counter[str] = Counter()

    async def timed(self, kind: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        if started >= self.stop:
            call.close()  # type: ignore[attr-defined]  # a coroutine never awaited
            raise Stopped
        result = await call
        finished = time.perf_counter()
        if self.lo <= finished <= self.hi:
            self.latencies[kind].append(finished - started)
            self.orders += kind == "close"
        return result

    def result(self) -> dict:
        return {"latencies": self.latencies, "orders": self.orders, "errors": dict(self.errors)}


class RequestFailed(Exception):
    """An answer other than the one the flow expects."""


async def ring_up(till: Till, plan: Plan, rec: Recorder) -> None:
    """One order from open to close; a failure is counted and ends the order."""
    timed = rec.timed
    try:
        order = await timed("open", till.open())
        lines = [await timed("line", till.line(order, *line)) for line in plan]
        await timed("void", till.void(order, lines[-1]))
        await timed("discount", till.discount(order))
        due = await timed("fire", till.fire(order))
        card, due = await timed("pay", till.pay(order, "card", max(1, due * 3 // 5)))
        _, due = await timed("pay", till.pay(order, "cash", due))
        await timed("tip", till.tip(order, card, TIP))
        await timed("close", till.close(order))
    except Stopped:
        pass
    except (RequestFailed, OrderError, aiohttp.ClientError, TimeoutError) as exc:
        rec.errors[str(exc) if isinstance(exc, RequestFailed) else type(exc).__name__] += 1


async def sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def cpu_window(lo: float, hi: float, out: dict) -> None:
    """This process's CPU seconds (every thread) between perf_counter instants lo and hi."""
    await sleep_until(lo)
    before = time.process_time()
    await sleep_until(hi)
    out["cpu_s"] = time.process_time() - before


async def saturate(
    tills: list[Till], menu: Menu, seed: int, start: float, warmup: float, duration: float
) -> dict:
    """Every till rings up orders back to back from `start`; measured after the warm-up."""
    lo = start + warmup
    hi = lo + duration
    rec = Recorder(lo, hi, stop=hi)
    rng = random.Random(seed)
    out: dict = {}

    async def terminal(till: Till) -> None:
        await sleep_until(start)
        while time.perf_counter() < hi:
            await ring_up(till, plan_order(rng, menu), rec)

    async with asyncio.TaskGroup() as group:
        group.create_task(cpu_window(lo, hi, out))
        for till in tills:
            group.create_task(terminal(till))
    return {**rec.result(), **out}


async def offer(
    tills: list[Till],
    menu: Menu,
    seed: int,
    start: float,
    duration: float,
    rate: float,
    share: tuple[int, int],
    drain: float,
) -> dict:
    """Open loop: this process's share of orders starting every 1/rate s from `start`."""
    index, procs = share
    rec = Recorder(start, float("inf"))
    rng = random.Random(seed)
    lags: list[float] = []
    out: dict = {}

    async def order(till: Till, scheduled: float) -> None:
        lags.append(time.perf_counter() - scheduled)
        await ring_up(till, plan_order(rng, menu), rec)

    cpu = asyncio.create_task(cpu_window(start, start + duration, out))
    tasks = []
    try:
        while (scheduled := start + (len(tasks) * procs + index) / rate) < start + duration:
            await sleep_until(scheduled)
            till = tills[len(tasks) % len(tills)]
            tasks.append(asyncio.create_task(order(till, scheduled)))
        await cpu
        _, pending = await asyncio.wait(tasks, timeout=drain) if tasks else (set(), set())
    finally:
        for task in [cpu, *tasks]:
            task.cancel()
        await asyncio.gather(cpu, *tasks, return_exceptions=True)
    return {**rec.result(), **out, "lags": lags, "arrived": len(tasks), "unfinished": len(pending)}


# -- terminals over HTTP (in the client processes) ---------------------------------------


class HttpTill:
    """A paired terminal speaking to the daemon over its own keep-alive session."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._orders = f"{base}/api/v1/orders"

    async def _post(self, path: str, body: dict | None, expect: int) -> dict:
        headers = {"Idempotency-Key": secrets.token_hex(12)}
        async with self._session.post(self._orders + path, json=body, headers=headers) as r:
            data = await r.read()
            if r.status != expect:
                raise RequestFailed(f"{path.rsplit('/', 1)[-1] or 'open'} {r.status}")
        return json.loads(data)

    async def open(self) -> str:
        return (await self._post("", {"channel": "counter"}, 201))["order"]["id"]

    async def line(self, order: str, sku: str, qty: int, modifiers: list[str]) -> str:
        body = {"sku": sku, "qty": qty, "modifiers": modifiers}
        return (await self._post(f"/{order}/lines", body, 201))["line_id"]

    async def void(self, order: str, line: str) -> None:
        await self._post(f"/{order}/lines/{line}/void", {"reason": "changed their mind"}, 200)

    async def discount(self, order: str) -> None:
        await self._post(f"/{order}/discounts", {"reason": "loyalty", "percent": "10"}, 201)

    async def fire(self, order: str) -> int:
        return (await self._post(f"/{order}/fire", None, 200))["order"]["totals"]["balance_due"]

    async def pay(self, order: str, tender: str, amount: int) -> tuple[str, int]:
        body = {"tender": tender, "amount": amount}
        answer = await self._post(f"/{order}/payments", body, 201)
        return answer["payment_key"], answer["order"]["totals"]["balance_due"]

    async def tip(self, order: str, payment_key: str, amount: int) -> None:
        await self._post(f"/{order}/tips", {"amount": amount, "payment_key": payment_key}, 201)

    async def close(self, order: str) -> None:
        await self._post(f"/{order}/close", None, 200)


async def run_clients(base: str, tokens: list[str], menu: Menu, seed: int, command: dict) -> dict:
    """One phase of this client process's terminals; `command` comes from the bench."""
    start = time.perf_counter() + (command["start"] - time.monotonic())
    timeout = aiohttp.ClientTimeout(total=30)
    sessions = [
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        for token in tokens
    ]
    try:
        tills: list[Till] = [HttpTill(session, base) for session in sessions]
        if command["phase"] == "saturate":
            return await saturate(tills, menu, seed, start, command["warmup"], command["duration"])
        return await offer(
            tills,
            menu,
            seed,
            start,
            command["duration"],
            command["rate"],
            command["share"],
            command["drain"],
        )
    finally:
        for session in sessions:
            await session.close()


def client_process(conn: Connection, base: str, tokens: list[str], menu: Menu, seed: int) -> None:
    """Body of a client process: run each phase the bench sends, answer with its figures."""
    conn.send("ready")
    while (command := conn.recv()) is not None:
        try:
            conn.send(asyncio.run(run_clients(base, tokens, menu, seed, command)))
        except Exception:
            conn.send({"failed": traceback.format_exc()})
        seed += 1000
    conn.close()


class ClientPool:
    """The client processes (spawned: a clean interpreter each), driven over pipes."""

    def __init__(self, base: str, tokens: list[str], menu: Menu, procs: int, seed: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.procs = procs
        self._conns: list[Connection] = []
        self._processes = []
        for index in range(procs):
            ours, theirs = spawn.Pipe()
            process = spawn.Process(
                target=client_process,
                args=(theirs, base, tokens[index::procs], menu, seed + index),
                name=f"api-load-client-{index}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self._conns.append(ours)
            self._processes.append(process)
        for conn in self._conns:
            self._receive(conn, 60)

    def _receive(self, conn: Connection, timeout: float) -> object:
        if not conn.poll(timeout):
            raise RuntimeError(f"a client process did not answer within {timeout:.0f} s")
        answer = conn.recv()
        if isinstance(answer, dict) and "failed" in answer:
            raise RuntimeError(f"a client process failed:\n{answer['failed']}")
        return answer

    def send(self, command: dict) -> None:
        for index, conn in enumerate(self._conns):
            conn.send({**command, "share": (index, self.procs)})

    def collect(self, timeout: float) -> list[dict]:
        return [self._receive(conn, timeout) for conn in self._conns]  # type: ignore[misc]

    def close(self) -> None:
        """Stop every client process (safe twice)."""
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._processes = [], []


def merged(results: list[dict]) -> dict:
    """The figures of several client processes as one."""
    total: dict = {"latencies": {kind: [] for kind in KINDS}, "orders": 0, "errors": Counter()}
    for result in results:
        for kind in KINDS:
            total["latencies"][kind] += result["latencies"][kind]
        total["orders"] += result["orders"]
        total["errors"].update(result["errors"])
        for key in ("cpu_s", "arrived", "unfinished"):
            total[key] = total.get(key, 0) + result.get(key, 0)
        total.setdefault("lags", []).extend(result.get("lags", []))
    total["errors"] = dict(total["errors"])
    return total


# -- the daemon --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def load_catalog(path: Path) -> None:
    """Write the sample catalog into a new store, as a manager would before opening."""
    store = await DocStore.open(path)
    try:
        book = open_book(store)
        await book.start()
        await book.import_catalog(sample_catalog())
    finally:
        await store.close()


def open_book(store: DocStore) -> OrderBook:
    return OrderBook(
        Replica(store),
        store_id=STORE_ID,
        node=NODE,
        zone=ZoneInfo("UTC"),
        rollover_hour=4,
        now=utc_now,
    )


def write_config(path: Path, state_dir: Path, port: int) -> None:
    path.write_text(
        f'[store]\nid = "{STORE_ID}"\ntimezone = "UTC"\n'
        f'[node]\nname = "{NODE.name}"\nletter = "{NODE.letter}"\n'
        f"[paths]\nstate_dir = {json.dumps(str(state_dir))}\n"
        f'[http]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[log]\nlevel = "warning"\n'
    )


class DaemonProcess:
    """`posedge run` in a subprocess (optionally under cProfile), stopped with SIGTERM."""

    def __init__(self, config: Path, log: Path, profile: Path | None) -> None:
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", "edge.cli", "run", "--config", str(config)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log

    def wait_ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the daemon was not ready within {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def cpu_seconds(self) -> float:
        """CPU seconds of the daemon and its live children (the compaction worker)."""
        pids = [self.proc.pid, *_children(self.proc.pid)]
        return sum(_cpu_seconds(f"/proc/{pid}/stat") for pid in pids)

    def loop_cpu_seconds(self) -> float:
        """CPU seconds of the daemon's main thread, the one running its event loop."""
        return _cpu_seconds(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, wait for the graceful stop, SIGKILL past `timeout` (safe twice)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cpu_seconds(stat: str) -> float:
    """utime + stime of a process or thread, from its /proc stat file."""
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def pair_terminals(base: str, codes: list[str]) -> list[str]:
    """Exchange each pairing code for a bearer token through POST /api/v1/pair."""
    tokens = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for code in codes:
            async with session.post(f"{base}/api/v1/pair", json={"code": code}) as answer:
                if answer.status != 201:
                    raise RuntimeError(f"pairing refused: {answer.status} {await answer.text()}")
                tokens.append((await answer.json())["token"])
    return tokens


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


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def scrape(base: str, token: str) -> Counter[str]:
    """The daemon's /metrics, each metric summed over its labels."""
    request = urllib.request.Request(
        f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        text = answer.read().decode()
    totals: Counter[str] = Counter()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            totals[name.split("{", 1)[0]] += float(value)
    return totals


def snapshot(daemon: DaemonProcess, base: str, token: str) -> Counter[str]:
    """What the window figures are differences of: CPU clocks and the daemon's counters."""
    taken = scrape(base, token)
    taken["daemon_cpu_s"] = daemon.cpu_seconds()
    taken["daemon_loop_cpu_s"] = daemon.loop_cpu_seconds()
    taken["machine_busy_s"] = machine_busy_seconds()
    return taken


def window_figures(before: Counter, after: Counter, seconds: float, client_cpu_s: float) -> dict:
    """CPU use and the daemon's own view of one measured window."""
    diff = after.copy()
    diff.subtract(before)
    requests = diff["posedge_http_request_duration_seconds_count"]
    commits = diff["posedge_store_commit_duration_seconds_count"]
    others = diff["machine_busy_s"] - diff["daemon_cpu_s"] - client_cpu_s
    return {
        "daemon_cpu": round(diff["daemon_cpu_s"] / seconds, 2),
        "daemon_loop_thread_cpu": round(diff["daemon_loop_cpu_s"] / seconds, 2),
        "client_cpu": round(client_cpu_s / seconds, 2),
        "rest_of_machine_cpu": round(others / seconds, 2),
        "daemon_cpu_ms_per_request": ratio(1000 * diff["daemon_cpu_s"], requests),
        "server_side_ms_per_request": ratio(
            1000 * diff["posedge_http_request_duration_seconds_sum"], requests
        ),
        "commits_per_s": round(commits / seconds, 1),
        "updates_per_commit": ratio(diff["posedge_store_updates_committed_total"], commits),
        "commit_ms_mean": ratio(1000 * diff["posedge_store_commit_duration_seconds_sum"], commits),
    }


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


class Node:
    """The running daemon as the phases see it: where to reach it, how to observe it."""

    def __init__(self, daemon: DaemonProcess, base: str, observer_token: str) -> None:
        self.daemon = daemon
        self.base = base
        self.observer_token = observer_token

    def phase(self, pool: ClientPool, command: dict, lo: float, hi: float) -> tuple[dict, dict]:
        """Run a phase on the clients; observe the daemon over [lo, hi] (monotonic)."""
        pool.send(command)
        time.sleep(max(0.0, lo - time.monotonic()))
        before = snapshot(self.daemon, self.base, self.observer_token)
        time.sleep(max(0.0, hi - time.monotonic()))
        after = snapshot(self.daemon, self.base, self.observer_token)
        got = merged(pool.collect(timeout=120 + command.get("drain", 0)))
        return got, window_figures(before, after, hi - lo, got["cpu_s"])


def measure_http(args: argparse.Namespace, root: Path, menu: Menu) -> dict:
    state_dir = root / "state"
    state_dir.mkdir()
    asyncio.run(load_catalog(state_dir / "orders.db"))
    registry = TerminalRegistry(state_dir / "node.db")
    try:
        codes = [
            registry.create_code(
                f"Till {n + 1}", "terminal", ttl=dt.timedelta(minutes=10), now=utc_now()
            ).code
            for n in range(args.terminals)
        ]
        observer = registry.create_code(
            "Bench observer", "terminal", ttl=dt.timedelta(minutes=10), now=utc_now()
        ).code
    finally:
        registry.close()
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

    async def line(self, order: str, sku: str, qty: int, modifiers: list[str]) -> str:
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
        book = open_book(store)
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
