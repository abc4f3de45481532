"""The daemon as a real process: sd_notify over a real socket, signals, and the demo."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop

POSEDGE = [sys.executable, "-m", "edge.cli.main"]


def receive_until(sock: socket.socket, wanted: str, deadline: float) -> list[str]:
    """Datagrams received until one contains `wanted` (or the deadline passes)."""
    seen: list[str] = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if wanted in seen[-1]:
            return seen
    raise AssertionError(f"never received {wanted!r}; got {seen}")


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield sock, path
    sock.close()


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "posedge.toml"
    path.write_text(f"""
[store]
id = "s9"
timezone = "Europe/Berlin"
[node]
name = "till-9"
[http]
host = "127.0.0.1"
port = {free_port()}
[paths]
state_dir = "{tmp_path / "state"}"
[daemon]
status_interval = 1
""")
    return path


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def start(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*POSEDGE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_run_tells_systemd_ready_status_watchdog_and_stopping(notify_socket, config_file):
    sock, path = notify_socket
    process = start(
        ["run", "--config", str(config_file)],
        NOTIFY_SOCKET=str(path),
        WATCHDOG_USEC="200000",
        WATCHDOG_PID=str(os.getpid()),
    )
    try:
        deadline = time.monotonic() + 30
        messages = receive_until(sock, "READY=1", deadline)
        assert "STATUS=store s9, node till-9: business day" in messages[-1]
        # WATCHDOG_PID names another process, so this daemon must not ping the watchdog
        later = receive_until(sock, "STATUS=", time.monotonic() + 10)
        assert not any("WATCHDOG=1" in m for m in later)
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    assert "STOPPING=1" in "".join(receive_until(sock, "STOPPING=1", time.monotonic() + 5))
    assert "stopping on SIGTERM" in stderr


def test_run_pings_the_watchdog_at_half_its_interval(notify_socket, config_file):
    sock, path = notify_socket
    process = start(
        ["run", "--config", str(config_file)], NOTIFY_SOCKET=str(path), WATCHDOG_USEC="200000"
    )
    try:
        deadline = time.monotonic() + 30
        receive_until(sock, "READY=1", deadline)
        pings = 0
        while pings < 3:
            receive_until(sock, "WATCHDOG=1", deadline)
            pings += 1
    finally:
        code, stderr = stop(process, signal.SIGINT)
    assert code == 0, stderr


def test_demo_rings_up_orders_that_are_still_there_after_it_stops(tmp_path, notify_socket):
    sock, path = notify_socket
    state = tmp_path / "demo"
    process = start(
        ["demo", "--state-dir", str(state), "--interval", "0.05"], NOTIFY_SOCKET=str(path)
    )
    try:
        receive_until(sock, "READY=1", time.monotonic() + 30)
        deadline = time.monotonic() + 30
        logged = []
        while len(logged) < 3 and time.monotonic() < deadline:
            line = process.stderr.readline()
            if "edge.cli.demo.cashier: demo: order " in line:
                logged.append(line.split("demo: order ")[1].split()[0])
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
    assert len(logged) == 3
    listing = subprocess.run(
        [*POSEDGE, "orders", "--state-dir", str(state), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    orders = {o["number"]: o for o in map(json.loads, listing.stdout.splitlines())}
    assert set(logged) <= set(orders)
    for number in logged:  # every order the demo reported closed is closed and paid
        assert orders[number]["status"] == "closed"
        assert orders[number]["totals"]["balance_due"] == 0
    # Its emulated front printer printed their receipts, kept as text and as pictures.
    receipts = sorted((state / "paper" / "front").glob("*.txt"))
    first = next(path for path in receipts if f"Order {logged[0]}" in path.read_text())
    assert "TOTAL USD" in first.read_text() and first.with_suffix(".png").stat().st_size > 0


def test_run_serves_readiness_and_refuses_a_taken_state_dir_or_port(notify_socket, config_file):
    sock, path = notify_socket
    port = tomllib.loads(config_file.read_text())["http"]["port"]
    process = start(["run", "--config", str(config_file)], NOTIFY_SOCKET=str(path))
    try:
        receive_until(sock, "READY=1", time.monotonic() + 30)
        status, ready = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and ready["status"] == "ready"
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
        status, problem = get(f"http://127.0.0.1:{port}/api/v1/orders")
        assert status == 401 and problem["type"] == "urn:posedge:problem:unauthorized"
        elsewhere = config_file.with_name("elsewhere.toml")
        elsewhere.write_text(config_file.read_text().replace('/state"', '/state2"'))
        for config, complaint in [
            (config_file, "another posedge daemon is running on"),
            (elsewhere, f"cannot listen on 127.0.0.1:{port}"),
        ]:
            second = subprocess.run(
                [*POSEDGE, "run", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1 and complaint in second.stderr, second.stderr
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr
