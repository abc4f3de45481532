import asyncio
import logging
import os
import socket
import sys
import uuid

import pytest

from edge.runtime.systemd import SystemdNotifier, run_watchdog, watchdog_interval

RECV_TIMEOUT = 5.0


@pytest.fixture
def receiver(tmp_path, monkeypatch):
    """A datagram socket standing in for systemd's notify socket, named in NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(RECV_TIMEOUT)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


@pytest.fixture(params=[True, False], ids=["libsystemd", "fallback"])
def notifier(request):
    return SystemdNotifier(use_libsystemd=request.param)


def test_notifier_sends_each_state_as_one_datagram(receiver, notifier):
    notifier.ready("serving on :8080")
    notifier.status("3 peers")
    notifier.watchdog()
    notifier.stopping()

    received = [receiver.recv(4096) for _ in range(4)]

    assert received == [
        b"READY=1\nSTATUS=serving on :8080",
        b"STATUS=3 peers",
        b"WATCHDOG=1",
        b"STOPPING=1\nSTATUS=Stopping",
    ]


def test_status_text_cannot_inject_another_assignment(receiver, notifier):
    notifier.status("printer jammed\nREADY=1")

    assert receiver.recv(4096) == b"STATUS=printer jammed READY=1"


def test_notifier_reaches_abstract_socket(monkeypatch, notifier):
    name = f"posedge-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(RECV_TIMEOUT)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)

        notifier.ready("up")

        assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_notifier_sends_nothing_while_notify_socket_unset(receiver, notifier, monkeypatch, caplog):
    address = os.environ["NOTIFY_SOCKET"]
    monkeypatch.delenv("NOTIFY_SOCKET")

    notifier.ready("unseen")
    notifier.watchdog()
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    notifier.status("seen")

    assert receiver.recv(4096) == b"STATUS=seen"
    assert caplog.records == []


def test_vanished_socket_warns_once_and_recovers(receiver, notifier, caplog):
    address = os.environ["NOTIFY_SOCKET"]
    receiver.close()
    os.unlink(address)
    caplog.set_level(logging.INFO, logger="edge.runtime.systemd")

    notifier.watchdog()
    notifier.status("still going")
    notifier.watchdog()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert address in warnings[0].getMessage()

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as again:
        again.bind(address)
        again.settimeout(RECV_TIMEOUT)
        notifier.status("back")
        assert again.recv(4096) == b"STATUS=back"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "notifying systemd works again"
    ]


def test_auto_backend_falls_back_without_systemd_python(receiver, monkeypatch):
    # Both are needed: `from systemd import daemon` is satisfied by the package attribute.
    monkeypatch.setitem(sys.modules, "systemd.daemon", None)
    monkeypatch.delattr("systemd.daemon", raising=False)

    with pytest.raises(ImportError):
        SystemdNotifier(use_libsystemd=True)
    SystemdNotifier().watchdog()

    assert receiver.recv(4096) == b"WATCHDOG=1"


def test_fallback_closes_its_socket_after_each_send(receiver):
    notifier = SystemdNotifier(use_libsystemd=False)
    before = len(os.listdir("/proc/self/fd"))

    for _ in range(20):
        notifier.watchdog()
        receiver.recv(4096)

    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "10000000"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1234"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "4321"}, None),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "me"}, None),
    ],
)
def test_watchdog_interval(environ, expected):
    assert watchdog_interval(environ, pid=1234) == expected


def test_watchdog_interval_defaults_to_our_own_pid():
    environ = {"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}

    assert watchdog_interval(environ) == 1.5


async def test_run_watchdog_pings_until_cancelled(receiver, notifier):
    receiver.setblocking(False)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_watchdog(notifier, 0.01))
    try:
        pings = [
            await asyncio.wait_for(loop.sock_recv(receiver, 4096), RECV_TIMEOUT) for _ in range(2)
        ]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, RECV_TIMEOUT)

    assert pings == [b"WATCHDOG=1", b"WATCHDOG=1"]
    assert task.cancelled()


async def test_run_watchdog_rejects_non_positive_interval(notifier):
    with pytest.raises(ValueError, match="positive"):
        await run_watchdog(notifier, 0)
