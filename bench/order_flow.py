"""The order flow of the API benchmark, and the load that drives it through terminals.

One order (`ring_up`) is 13 calls on a `Till`: open, five lines, void one, a discount, fire,
a card then a cash payment, a tip, close. `saturate` has every till ring up orders back to
back; `offer` starts orders on a fixed schedule (open loop); a `Recorder` keeps latencies per
kind of call. `HttpTill` makes each call one HTTP request to the daemon, and `ClientPool`
drives the HTTP tills from spawned client processes (each runs `client_process`, which must
stay importable from here); `merged` adds their figures up.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import secrets
import time
import traceback
from collections import Counter
from collections.abc import Awaitable
from multiprocessing.connection import Connection
from typing import Protocol, TypeVar

import aiohttp

from edge.cli.demo.cashier import choose_modifiers
from edge.orders.catalog import Item, parse_catalog, sample_catalog
from edge.runtime.errors import OrderError

KINDS = ("open", "line", "void", "discount", "fire", "pay", "tip", "close")
LINES = 5
REQUESTS_PER_ORDER = LINES + 8  # open, lines, void, discount, fire, 2 payments, tip, close
TIP = 200

T = TypeVar("T")
Menu = dict[str, Item]  # sku → the item
Plan = list[tuple[str, int, list]]  # sku, qty, modifiers (codes or {code, qty}) per line


async def make_orders(session: aiohttp.ClientSession, base: str, count: int) -> list[str]:
    """`count` takeaway orders of one burger each, through the API at `base`; their ids."""
    ids = []
    for _ in range(count):
        async with session.post(f"{base}/api/v1/orders", json={"channel": "takeaway"}) as r:
            order_id = (await r.json())["order"]["id"]
        async with session.post(
            f"{base}/api/v1/orders/{order_id}/lines", json={"sku": "BURGER"}
        ) as r:
            assert r.status == 201, await r.text()
        ids.append(order_id)
    return ids


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
    """The sample catalog's items a till rings up at their catalog price (not open-priced)."""
    catalog = parse_catalog(sample_catalog())
    return {sku: item for sku, item in sorted(catalog.items.items()) if item.open_price is None}


def plan_order(rng: random.Random, menu: Menu) -> Plan:
    """Five lines; the first always, the others sometimes, with modifiers by the item's
    groups (the demo cashier's choice: every required group met, nothing else broken)."""
    skus = list(menu)
    with_modifiers = [sku for sku in skus if menu[sku].modifiers]
    plan = []
    for index in range(LINES):
        item = menu[rng.choice(with_modifiers if index == 0 else skus)]
        chosen = choose_modifiers(item, rng) or []
        if not item.groups or not any(group.required for group in item.groups):
            chosen = chosen if index == 0 or rng.random() < 0.4 else []
        plan.append((item.sku, rng.randint(1, 2), chosen))
    return plan


class Till(Protocol):
    """One terminal's way to the order book: each call is one request or one operation."""

    async def open(self) -> str: ...  # the order id
    async def line(self, order: str, sku: str, qty: int, modifiers: list) -> str: ...
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

    async def line(self, order: str, sku: str, qty: int, modifiers: list) -> str:
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
