"""posedge as a subprocess: its command, free ports, readiness and stopping."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


POSEDGE = [sys.executable, "-m", "edge.cli.main"]


async def posedge_cli(
    *args: str, within: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run a posedge command to its end without blocking the event loop (a node may be
    serving in this process), with `stdin` as its input."""
    process = await asyncio.create_subprocess_exec(
        *POSEDGE,
        *args,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    given = None if stdin is None else stdin.encode()
    stdout, stderr = await asyncio.wait_for(process.communicate(given), timeout=within)
    return subprocess.CompletedProcess(args, process.returncode, stdout.decode(), stderr.decode())


async def posedge(*args: str, check: bool = True, stdin: str | None = None) -> tuple[int, str, str]:
    """A posedge command's (exit status, stdout, stderr); with `check`, it must succeed."""
    done = await posedge_cli(*args, within=120, stdin=stdin)
    if check:
        assert done.returncode == 0, done.stderr
    return done.returncode, done.stdout, done.stderr


async def terminal(
    http: aiohttp.ClientSession, config: Path, url: str, *, tls: ssl.SSLContext | None = None
) -> dict:
    """Pair a terminal named Till with the daemon at `url` (over HTTPS trusting `tls`'s CA):
    the headers of its requests."""
    _, out, _ = await posedge("pair", "Till", "--config", str(config))
    code = out.split(": ")[1].split()[0]
    async with http.post(f"{url}/api/v1/pair", json={"code": code}, ssl=tls) as response:
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def daemon_ready(http: aiohttp.ClientSession, url: str) -> bool:
    """Whether the daemon at `url` answers /readyz with 200 (False while it is not up)."""
    try:
        async with http.get(f"{url}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(sig)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stderr
