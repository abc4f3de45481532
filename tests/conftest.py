"""Suite-wide rules and fixtures.

Under CI=true no test may be skipped; no test may leak a thread; hypothesis never times a
test. Fixtures give real stores in tmp_path and a wall clock the test moves by hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from hypothesis import HealthCheck, settings

from edge.catalog import sample_catalog
from edge.orderbook import NodeIdentity, OrderBook
from sync.replica import Replica
from sync.store import DocStore

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# No deadlines: tests never assert on speed (these machines are shared and noisy). Under CI
# the examples are derived from the test itself, so a red CI run reproduces exactly.
settings.register_profile(
    "posedge",
    deadline=None,
    derandomize=IN_CI,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("posedge")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run under CI when anything was skipped: CI must exercise everything."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"CI=true: {len(skipped)} tests were skipped; failing the run", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """A test must stop every thread it started (aiosqlite runs one per connection)."""
    before = set(threading.enumerate())
    yield
    leaked: list[threading.Thread] = []
    for _ in range(100):
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        threading.Event().wait(0.02)
    pytest.fail(f"threads leaked by the test: {leaked}")


class SettableClock:
    """A wall clock the test moves by hand (injected, never patched)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class LiveClock(SettableClock):
    """The real wall clock, moved forward by hand when a test needs "later" (device tests,
    whose printers and timeouts run in real time)."""

    def __init__(self) -> None:
        super().__init__(dt.datetime.now(dt.UTC))
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


@pytest.fixture
def clock() -> SettableClock:
    """Friday 2026-11-20, 13:00 in New York."""
    return SettableClock(dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC))


async def make_book(
    store: DocStore, clock: SettableClock, *, letter: str = "A", name: str = "node-a"
) -> OrderBook:
    """An order book over `store` for store `s1` in New York, with the sample catalog."""
    book = OrderBook(
        Replica(store),
        store_id="s1",
        node=NodeIdentity(name, letter),
        zone=ZoneInfo("America/New_York"),
        rollover_hour=4,
        now=clock,
    )
    await book.start()
    if not (await book.catalog()).items:
        await book.import_catalog(sample_catalog())
    return book


@pytest.fixture
async def store(tmp_path):
    store = await DocStore.open(tmp_path / "orders.db")
    yield store
    await store.close()


@pytest.fixture
async def book(store, clock) -> OrderBook:
    return await make_book(store, clock)


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs mounted in tmp_path (needs root), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill the disk needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(10_000):  # 40 MB: far beyond the 512 KiB disk
            os.write(fd, b"\x01" * 4096)
        raise AssertionError(f"{directory} never filled up")
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


@pytest.fixture
async def node(tmp_path, clock):
    """A node serving the terminal API on 127.0.0.1 (see tests/api_node.py)."""
    from .api_node import start_node

    node = await start_node(tmp_path / "node", clock)
    yield node
    await node.close()


async def until(check: Callable[[], Awaitable[object] | object], within: float = 15.0):
    """Poll `check` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {within} s: {check}")
        await asyncio.sleep(0.05)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


POSEDGE = [sys.executable, "-m", "edge.cli"]


async def posedge_cli(*args: str) -> subprocess.CompletedProcess:
    """Run a posedge command to its end without blocking the event loop (a node may be
    serving in this process)."""
    process = await asyncio.create_subprocess_exec(
        *POSEDGE, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return subprocess.CompletedProcess(args, process.returncode, stdout.decode(), stderr.decode())


async def daemon_ready(http: aiohttp.ClientSession, url: str) -> bool:
    """Whether the daemon at `url` answers /readyz with 200 (False while it is not up)."""
    try:
        async with http.get(f"{url}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False
