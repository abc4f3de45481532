"""Benchmark of the print path: from the API call that fires an order to the ticket's last
byte at the printer, next to python-escpos sending the same bytes to the same printer.

The daemon runs as its own process (`posedge run`) with one network printer routed the
grill station; the printer is the emulator (`NetworkPrinterEmulator`) in this process, on
127.0.0.1. A ticket counts as arrived when the emulator has taken in its cut, the last
command of a ticket.

1. Latency, posedge: `--fires` orders are made beforehand (one Classic Burger each, at the
   grill); each fire is timed from just before `POST /orders/{id}/fire` is sent to the
   ticket's arrival, one at a time. In between, the daemon writes the fire to the order
   log, its kitchen router queues a job (a SQLite commit), the printer's worker commits it
   as sending, asks the printer for its status, sends the bytes and `GS r 1`.
2. Latency, baseline: python-escpos' own `Network` printer (one persistent connection, as
   python-escpos keeps it) sends the very bytes the daemon sent for each ticket, from a
   thread; timed from just before `_raw` to the same arrival.
3. Throughput: `--burst` fires posted at once by `--concurrency` clients; tickets/s from the
   first post to the last arrival. Baseline: the same number of tickets sent back to back by
   python-escpos.

The figure is posedge's p99 over the baseline's (added milliseconds and the ratio), and
tickets/s per printer. Targets: at most 10 ms added at p99, at least 20 tickets/s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
from escpos.printer import Network

from daemon_under_load import DaemonProcess, free_port, load_catalog, pair_terminals, write_config
from drivers.emulators.network_printer import NetworkPrinterEmulator
from drivers.escpos.printout import Paper
from edge.access.pairing_codes import PairingCodes
from order_flow import make_orders, ms_summary, ratio


class Arrivals:
    """Tickets arriving at the emulator: when each one's cut came in."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._event = asyncio.Event()

    def on_paper(self, paper: Paper) -> None:
        self.times.append(time.perf_counter())
        self._event.set()

    async def wait_for(self, count: int, limit: float = 60) -> float:
        """The arrival time of ticket number `count` (1-based), waiting `limit` s at most."""
        async with asyncio.timeout(limit):
            while len(self.times) < count:
                self._event.clear()
                await self._event.wait()
        return self.times[count - 1]


def say(text: str) -> None:
    print(text, flush=True)


async def fire(session: aiohttp.ClientSession, base: str, order_id: str) -> None:
    async with session.post(f"{base}/api/v1/orders/{order_id}/fire") as r:
        assert r.status == 200, await r.text()


async def posedge_latency(session, base, arrivals: Arrivals, order_ids: list[str]) -> list[float]:
    latencies = []
    for order_id in order_ids:
        before = len(arrivals.times)
        started = time.perf_counter()
        await fire(session, base, order_id)
        latencies.append(await arrivals.wait_for(before + 1) - started)
    return latencies


async def posedge_burst(session, base, arrivals: Arrivals, order_ids, concurrency: int) -> float:
    before = len(arrivals.times)
    pending = list(order_ids)

    async def client() -> None:
        while pending:
            await fire(session, base, pending.pop())

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    last = await arrivals.wait_for(before + len(order_ids), limit=120)
    return len(order_ids) / (last - started)


async def direct_latency(port: int, arrivals: Arrivals, tickets: list[bytes]) -> list[float]:
    printer = Network("127.0.0.1", port, timeout=10)
    lock = threading.Lock()  # python-escpos printers are not made for several threads
    latencies = []
    try:
        for data in tickets:
            before = len(arrivals.times)
            started = time.perf_counter()
            await asyncio.to_thread(_send, printer, lock, data)
            latencies.append(await arrivals.wait_for(before + 1) - started)
    finally:
        printer.close()
    return latencies


async def direct_burst(port: int, arrivals: Arrivals, tickets: list[bytes]) -> float:
    printer = Network("127.0.0.1", port, timeout=10)
    lock = threading.Lock()
    before = len(arrivals.times)
    try:
        started = time.perf_counter()
        await asyncio.to_thread(_send, printer, lock, b"".join(tickets))
        last = await arrivals.wait_for(before + len(tickets), limit=120)
    finally:
        printer.close()
    return len(tickets) / (last - started)


def _send(printer: Network, lock: threading.Lock, data: bytes) -> None:
    with lock:
        printer._raw(data)


def ticket_bytes(emulator: NetworkPrinterEmulator, count: int) -> list[bytes]:
    """The bytes of the last `count` tickets the daemon sent, as the emulator received them."""
    raw = emulator.received
    pieces = raw.split(b"\x1dV")  # each ticket ends with GS V <m>
    tickets = [piece + b"\x1dV" for piece in pieces[:-1]]
    fixed = [ticket[1:] if i else ticket for i, ticket in enumerate(tickets)]  # the m byte
    return [t + b"\x00" for t in fixed[-count:]]


async def measure(args: argparse.Namespace, root: Path) -> dict:
    arrivals = Arrivals()
    async with NetworkPrinterEmulator(on_paper=arrivals.on_paper) as emulator:
        state_dir = root / "state"
        state_dir.mkdir()
        await load_catalog(state_dir / "orders.db")
        port = free_port()
        config = root / "posedge.toml"
        write_config(config, state_dir, port)
        with config.open("a") as extra:
            extra.write(
                "[print]\nstatus_interval = 5\n"
                f'[devices.kitchen]\nkind = "printer"\nurl = "tcp://127.0.0.1:{emulator.port}"\n'
                '[stations]\ngrill = "kitchen"\nfryer = "kitchen"\nbar = "kitchen"\n'
            )
        codes = [
            PairingCodes(state_dir / "node.db")
            .create_code(
                "bench", "terminal", ttl=dt.timedelta(minutes=30), now=dt.datetime.now(dt.UTC)
            )
            .code
        ]
        daemon = DaemonProcess(config, root / "daemon.log", None)
        base = f"http://127.0.0.1:{port}"
        try:
            daemon.wait_ready(base)
            [token] = await pair_terminals(base, codes)
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                say(f"making {args.warmup + args.fires + args.burst} orders ...")
                warm = await make_orders(session, base, args.warmup)
                timed = await make_orders(session, base, args.fires)
                burst = await make_orders(session, base, args.burst)
                await posedge_latency(session, base, arrivals, warm)
                say(f"posedge: {args.fires} fires, one at a time ...")
                ours = await posedge_latency(session, base, arrivals, timed)
                tickets = ticket_bytes(emulator, args.fires)
                say(f"posedge: a burst of {args.burst} fires, {args.concurrency} clients ...")
                our_rate = await posedge_burst(session, base, arrivals, burst, args.concurrency)
            assert len(tickets) == args.fires, "tickets could not be told apart"
            say("python-escpos Network: the same tickets ...")
            direct = await direct_latency(emulator.port, arrivals, tickets)
            direct_rate = await direct_burst(
                emulator.port, arrivals, (tickets * (args.burst // len(tickets) + 1))[: args.burst]
            )
        finally:
            code = daemon.stop()
        if code != 0:
            raise RuntimeError(f"the daemon exited with {code}:\n{daemon.tail()}")
    posedge, baseline = ms_summary(ours), ms_summary(direct)
    return {
        "fires": args.fires,
        "posedge": posedge,
        "baseline_python_escpos": baseline,
        "added_p50_ms": round(posedge["p50_ms"] - baseline["p50_ms"], 2),
        "added_p99_ms": round(posedge["p99_ms"] - baseline["p99_ms"], 2),
        "p99_ratio": ratio(posedge["p99_ms"], baseline["p99_ms"]),
        "posedge_tickets_per_s": round(our_rate, 1),
        "baseline_tickets_per_s": round(direct_rate, 1),
        "throughput_ratio": ratio(our_rate, direct_rate),
        "targets": {"added_p99_ms": 10, "tickets_per_s": 20},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fires", type=int, default=200, help="timed fires (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed fires first (20)")
    parser.add_argument("--burst", type=int, default=200, help="fires posted at once (200)")
    parser.add_argument("--concurrency", type=int, default=10, help="clients in the burst")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="posedge-print-bench-") as tmp:
        figures = asyncio.run(measure(args, Path(tmp)))
    p, b = figures["posedge"], figures["baseline_python_escpos"]
    say(f"fire -> ticket at the printer, posedge: p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms")
    say(f"python-escpos direct, same bytes:    p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms")
    say(f"added by posedge at p99: {figures['added_p99_ms']} ms (ratio {figures['p99_ratio']})")
    say(
        f"tickets/s per printer: posedge {figures['posedge_tickets_per_s']}, "
        f"direct {figures['baseline_tickets_per_s']}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
