"""Network namespaces for multi-node tests: N namespaces joined by veth pairs on a bridge.

`Network(n)` is a context manager (needs root and iproute2). Each namespace gets one interface,
`eth0`, addressed 10.77.0.(i+1)/24, with loopback up and the multicast route
`224.0.0.0/4 dev eth0` (no default route exists, and multicast needs one). Names carry a
random run id, so parallel runs and leftovers of a killed run never clash; on the way out
everything made is removed (and every process started through it killed), even after a
failure half-way through setting up.

`Network(n, host_address="10.77.0.254")` also gives the bridge that address, so that this
process reaches the namespaces' servers through the bridge (the host end is not a namespace
of its own: only one such network can be up on a machine at a time, since two would route
the same subnet). `Namespace.unplug()` takes the namespace's port of the bridge down, like
pulling its cable: the namespace keeps its address and routes (marked linkdown) and still
reaches its own address, but nothing else reaches it until `Namespace.plug()`.

A program runs inside a namespace with `Namespace.argv(...)` (`ip netns exec NAME ...`),
`Namespace.run(...)` (blocking, bounded) or `await Namespace.spawn(...)` (an asyncio
subprocess); `Namespace.python(...)` builds the argv of this interpreter, so
`ns.python("-m", "some.module")` or `ns.python("-c", code)` runs a coroutine there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.77.0"
PREFIX = 24
INTERFACE = "eth0"
MULTICAST = "224.0.0.0/4"
COMMAND_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parents[2]


def available() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS` on the host, bounded in time; raise with its stderr when it fails."""
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


@dataclass
class Namespace:
    """One namespace of a `Network`: its name, its interface and its address on the bridge."""

    name: str
    address: str
    interface: str = INTERFACE
    host_end: str = ""  # the other end of its veth pair, a port of the bridge
    processes: list[asyncio.subprocess.Process | subprocess.Popen] = field(default_factory=list)

    def argv(self, *argv: str) -> list[str]:
        """`argv` run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def python(self, *args: str) -> list[str]:
        """This interpreter run inside this namespace with `args` (`-m module ...`, `-c code`)."""
        return self.argv(sys.executable, *args)

    def run(self, *argv: str, timeout: float = COMMAND_TIMEOUT, check: bool = True, **kwargs):
        """Run `argv` inside the namespace to completion (text output captured)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("cwd", ROOT)
        return subprocess.run(self.argv(*argv), text=True, timeout=timeout, check=check, **kwargs)

    def popen(self, *argv: str, **kwargs) -> subprocess.Popen:
        """Start `argv` inside the namespace; `Network` kills it on the way out if still alive."""
        kwargs.setdefault("cwd", ROOT)
        process = subprocess.Popen(self.argv(*argv), **kwargs)
        self.processes.append(process)
        return process

    async def spawn(self, *argv: str, **kwargs) -> asyncio.subprocess.Process:
        """Start `argv` inside the namespace as an asyncio subprocess (stdout piped by default);
        `Network` kills it on the way out if still alive."""
        kwargs.setdefault("stdout", asyncio.subprocess.PIPE)
        kwargs.setdefault("cwd", ROOT)
        process = await asyncio.create_subprocess_exec(*self.argv(*argv), **kwargs)
        self.processes.append(process)
        return process

    def set_address(self, address: str) -> None:
        """Move this namespace's address on the bridge to `address` (same /24)."""
        # Old one out first: an address added to a subnet that has one is secondary, and
        # deleting the primary deletes the secondaries with it.
        ip("-n", self.name, "addr", "del", f"{self.address}/{PREFIX}", "dev", self.interface)
        ip("-n", self.name, "addr", "add", f"{address}/{PREFIX}", "dev", self.interface)
        self.address = address

    def unplug(self) -> None:
        """Cut this namespace off the bridge (its veth's bridge end down); see `plug`."""
        ip("link", "set", self.host_end, "down")

    def plug(self) -> None:
        """Put this namespace back on the bridge after `unplug`."""
        ip("link", "set", self.host_end, "up")

    def block(self, address: str) -> None:
        """Drop whatever this namespace sends to `address` (a partition, with `block` on the
        other side too), while the rest of the bridge stays reachable; see `unblock`."""
        ip("-n", self.name, "route", "add", "blackhole", f"{address}/32")

    def unblock(self, address: str) -> None:
        """Reach `address` again after `block`."""
        ip("-n", self.name, "route", "del", "blackhole", f"{address}/32")

    def kill_processes(self) -> None:
        """Kill what was started in this namespace and is still running, and reap it."""
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            if isinstance(process, subprocess.Popen):
                process.wait(timeout=COMMAND_TIMEOUT)
        # asyncio processes are reaped by their loop's child watcher (the test awaits them).
        # Anything else still in the namespace was started by these processes (a daemon's
        # children): the namespace is ours alone, so its pids are too.
        pids = ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


class Network:
    """`count` namespaces on one bridge (see the module docstring); a context manager."""

    def __init__(self, count: int, *, host_address: str | None = None) -> None:
        if not 1 <= count <= 200:
            raise ValueError(f"between 1 and 200 namespaces, not {count}")
        if host_address is not None and host_address.rsplit(".", 1)[0] != SUBNET:
            raise ValueError(f"the host's address must be in {SUBNET}.0/{PREFIX}")
        self.count = count
        self.host_address = host_address
        self.run_id = secrets.token_hex(3)
        self.bridge = f"pe{self.run_id}br"
        self.namespaces: list[Namespace] = []
        self._made: list[tuple[str, ...]] = []  # undo commands, last made first undone

    def __enter__(self) -> list[Namespace]:
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self.namespaces

    def __exit__(self, *exc_info) -> None:
        self.close()

    async def __aenter__(self) -> list[Namespace]:
        return self.__enter__()

    async def __aexit__(self, *exc_info) -> None:
        """As `close`, but first kill and await the asyncio subprocesses (their loop reaps
        them)."""
        for namespace in self.namespaces:
            for process in namespace.processes:
                if isinstance(process, asyncio.subprocess.Process) and process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT)
        self.close()

    def _make(self, args: tuple[str, ...], undo: tuple[str, ...]) -> None:
        ip(*args)
        self._made.append(undo)

    def _setup(self) -> None:
        self._make(("link", "add", self.bridge, "type", "bridge"), ("link", "del", self.bridge))
        # No snooping: every port hears every group, whatever IGMP reports were seen.
        ip("link", "set", self.bridge, "type", "bridge", "mcast_snooping", "0")
        ip("link", "set", self.bridge, "up")
        if self.host_address is not None:
            # Deleting the bridge deletes its address.
            ip("addr", "add", f"{self.host_address}/{PREFIX}", "dev", self.bridge)
        for index in range(self.count):
            name = f"pe{self.run_id}-{index}"
            host_end, inner_end = f"pe{self.run_id}h{index}", f"pe{self.run_id}n{index}"
            self._make(("netns", "add", name), ("netns", "del", name))
            # Deleting the host end deletes its peer, wherever that is by then.
            self._make(
                ("link", "add", host_end, "type", "veth", "peer", "name", inner_end),
                ("link", "del", host_end),
            )
            ip("link", "set", host_end, "master", self.bridge, "up")
            ip("link", "set", inner_end, "netns", name)
            namespace = Namespace(name, f"{SUBNET}.{index + 1}", host_end=host_end)
            inside = ("-n", name)
            ip(*inside, "link", "set", inner_end, "name", namespace.interface)
            ip(*inside, "link", "set", "lo", "up")
            ip(*inside, "addr", "add", f"{namespace.address}/{PREFIX}", "dev", namespace.interface)
            ip(*inside, "link", "set", namespace.interface, "up")
            ip(*inside, "route", "add", MULTICAST, "dev", namespace.interface)
            self.namespaces.append(namespace)

    def close(self) -> None:
        """Kill what runs in the namespaces, then remove all that was made; safe twice."""
        for namespace in self.namespaces:
            namespace.kill_processes()
        errors = []
        while self._made:
            undo = self._made.pop()
            done = ip(*undo, check=False)
            if done.returncode != 0 and "Cannot find device" not in done.stderr:
                errors.append(f"ip {' '.join(undo)}: {done.stderr.strip()}")
        self.namespaces = []
        if errors:
            raise RuntimeError("could not remove the test network: " + "; ".join(errors))


@contextlib.contextmanager
def network(count: int) -> Iterator[list[Namespace]]:
    """`count` namespaces on a bridge, removed on the way out (see `Network`)."""
    with Network(count) as namespaces:
        yield namespaces
