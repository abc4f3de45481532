"""sd_notify glue for running as a ``Type=notify`` systemd service."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

# A full notify queue means systemd is stuck; give up rather than hang the event loop.
_SEND_TIMEOUT = 1.0


def _send_datagram(state: str) -> None:
    """Send ``state`` to ``$NOTIFY_SOCKET`` the way sd_notify(3) does, without libsystemd."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    elif not address.startswith("/"):
        raise OSError(errno.EINVAL, f"unsupported NOTIFY_SOCKET address {address!r}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(_SEND_TIMEOUT)
        sock.sendto(state.encode(), address)


def _libsystemd_sender() -> Callable[[str], object]:
    from systemd import daemon

    return daemon.notify


class SystemdNotifier:
    """Tells systemd about readiness, status and liveness; every call is a no-op outside systemd.

    Calls are synchronous (one datagram, no waiting for a reply) and never raise: a failed send
    is logged once at warning level until a send succeeds again. ``use_libsystemd`` picks the
    backend: True requires systemd-python, False uses the built-in sender, None prefers
    systemd-python when it imports.
    """

    def __init__(self, *, use_libsystemd: bool | None = None) -> None:
        self._send: Callable[[str], object]
        if use_libsystemd is False:
            self._send = _send_datagram
        else:
            try:
                self._send = _libsystemd_sender()
            except ImportError:
                if use_libsystemd:
                    raise
                self._send = _send_datagram
        self._failing = False

    def ready(self, status: str) -> None:
        """Report that start-up has finished."""
        self._notify("READY=1", f"STATUS={_one_line(status)}")

    def status(self, text: str) -> None:
        """Set the free-form status line shown by ``systemctl status``."""
        self._notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> None:
        """Tell the service manager we are alive."""
        self._notify("WATCHDOG=1")

    def stopping(self, status: str = "Stopping") -> None:
        """Report that shutdown has begun."""
        self._notify("STOPPING=1", f"STATUS={_one_line(status)}")

    def _notify(self, *assignments: str) -> None:
        if "NOTIFY_SOCKET" not in os.environ:
            return
        try:
            self._send("\n".join(assignments))
        except OSError as exc:
            if not self._failing:
                self._failing = True
                log.warning(
                    "could not notify systemd via NOTIFY_SOCKET=%s: %s; "
                    "systemd may consider the service not ready or hung",
                    os.environ.get("NOTIFY_SOCKET"),
                    exc,
                )
            return
        if self._failing:
            self._failing = False
            log.info("notifying systemd works again")


def _one_line(text: str) -> str:
    # A newline would start a new assignment in the datagram; a NUL is rejected by libsystemd.
    return text.replace("\n", " ").replace("\0", " ")


def watchdog_interval(
    environ: Mapping[str, str] = os.environ, pid: int | None = None
) -> float | None:
    """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None if not watched."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    if "WATCHDOG_PID" in environ:
        try:
            watched_pid = int(environ["WATCHDOG_PID"])
        except ValueError:
            return None
        if watched_pid != (os.getpid() if pid is None else pid):
            return None
    return usec / 2 / 1_000_000


async def run_watchdog(notifier: SystemdNotifier, interval: float) -> None:
    """Send ``WATCHDOG=1`` now and every ``interval`` seconds until cancelled."""
    if interval <= 0:
        raise ValueError(f"watchdog interval must be positive, got {interval!r}")
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval)
