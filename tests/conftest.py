"""Suite-wide rules and fixtures.

Under CI=true no test may be skipped; no test may leak a thread; hypothesis never times a
test. Fixtures give real stores in tmp_path and a wall clock the test moves by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading

import pytest
from hypothesis import HealthCheck, settings

import drivers.escpos  # noqa: F401  first: python-escpos loaded without leaving a temp dir
from edge.orders.book import OrderBook
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.clocks import SettableClock
from tests.support.processes import IN_CI

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


@pytest.fixture
def clock() -> SettableClock:
    """Friday 2026-11-20, 13:00 in New York."""
    return SettableClock(dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC))


@pytest.fixture
async def store(tmp_path):
    store = await DocStore.open(tmp_path / "orders.db")
    yield store
    await store.close()


@pytest.fixture
def replica(store) -> Replica:
    """The replica of `store`'s documents that the `book` fixture works over."""
    return Replica(store)


@pytest.fixture
async def book(store, replica, clock) -> OrderBook:
    return await make_book(store, clock, replica=replica)


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


@pytest.fixture
async def node(tmp_path, clock):
    """A node serving the terminal API on 127.0.0.1 (see tests/support/api_node.py)."""
    from tests.support.api_node import start_node

    node = await start_node(tmp_path / "node", clock)
    yield node
    await node.close()
