"""The daemon under load in the API benchmark: its own process, and what is read of it.

Prepares a state directory (a store holding the sample catalog, a config on a free port of
127.0.0.1), runs `posedge run` as a subprocess (`DaemonProcess`, stopped with SIGTERM), pairs
terminals through POST /api/v1/pair, and observes a measured window from outside: the CPU of
the daemon, of its event-loop thread and of the whole machine from /proc, and the daemon's
own counters from /metrics. `Node` runs a phase on the client processes and takes those
figures over its window.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import aiohttp

from edge.orders.catalog import sample_catalog
from order_flow import ClientPool, merged, ratio
from order_runs import NODE, STORE_ID, open_book
from sync.replica import Replica
from sync.store import DocStore

ROOT = Path(__file__).resolve().parent.parent


# -- the daemon --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def load_catalog(path: Path) -> None:
    """Write the sample catalog into a new store, as a manager would before opening."""
    store = await DocStore.open(path)
    try:
        book = open_book(Replica(store))
        await book.start()
        await book.import_catalog(sample_catalog())
    finally:
        await store.close()


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
            [sys.executable, *profiler, "-m", "edge.cli.main", "run", "--config", str(config)],
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


# -- a measured window, seen from outside the daemon -------------------------------------


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
