"""SIGHUP reloads a running daemon's devices and kitchen routing from its configuration file:
a station moved to another printer prints there from then on, a broken file changes nothing,
and jobs queued for an offline printer still print after a reload."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from drivers.emulators.network_printer import NetworkPrinterEmulator
from tests.support.processes import POSEDGE, daemon_ready, free_port, posedge_cli
from tests.support.waiting import until


def write_config(path: Path, api_port: int, ports: dict[str, int], **stations: str) -> None:
    routes = "\n".join(f'{station} = "{printer}"' for station, printer in stations.items())
    printers = "\n".join(
        f'[devices.{name}]\nkind = "printer"\nurl = "tcp://127.0.0.1:{port}"\n'
        for name, port in ports.items()
    )
    path.write_text(f"""
[store]
id = "s5"
[http]
host = "127.0.0.1"
port = {api_port}
[paths]
state_dir = "{path.parent / "state"}"
[print]
status_interval = 0.2
retry_max_interval = 0.2

{printers}
[stations]
{routes}
""")


class Daemon:
    """`posedge run` as a subprocess whose log lines are collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode().rstrip())

    def logged(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    async def hangup(self, expect: str) -> str:
        """Send SIGHUP; the first new log line containing `expect`."""
        seen = len(self.lines)
        self.process.send_signal(signal.SIGHUP)
        await until(lambda: any(expect in line for line in self.lines[seen:]), within=30)
        return next(line for line in self.lines[seen:] if expect in line)

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._reader
        return self.process.returncode


@contextlib.asynccontextmanager
async def running(config: Path) -> AsyncIterator[Daemon]:
    process = await asyncio.create_subprocess_exec(
        *POSEDGE, "run", "--config", str(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    daemon = Daemon(process)
    try:
        yield daemon
    finally:
        code = await daemon.stop()
        assert code == 0, "\n".join(daemon.lines[-30:])


class Till:
    """A terminal paired with the daemon, ringing up orders over HTTP."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.session, self.url = session, url
        self.auth = {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, body: dict | None = None) -> dict:
        async with self.session.post(f"{self.url}/api/v1{path}", json=body, headers=self.auth) as r:
            assert r.status < 300, await r.text()
            return await r.json()

    async def get(self, path: str) -> dict:
        async with self.session.get(f"{self.url}/api/v1{path}", headers=self.auth) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def fire(self, note: str) -> str:
        """An order of one burger (the grill station) with `note`, fired; its id."""
        order = (await self.post("/orders", {"channel": "takeaway"}))["order"]
        await self.post(f"/orders/{order['id']}/lines", {"sku": "BURGER", "note": note})
        await self.post(f"/orders/{order['id']}/fire")
        return order["id"]


async def pair(session: aiohttp.ClientSession, url: str, config: Path) -> Till:
    paired = await posedge_cli("pair", "Counter 1", "--config", str(config))
    code = paired.stdout.split(": ")[1].split()[0]
    async with session.post(f"{url}/api/v1/pair", json={"code": code}) as response:
        return Till(session, url, (await response.json())["token"])


def printed(printer: NetworkPrinterEmulator, note: str) -> bool:
    return any(note in paper.text for paper in printer.papers if paper.cut)


async def test_sighup_moves_a_station_to_another_printer_and_keeps_it_on_a_bad_file(tmp_path):
    async with (
        NetworkPrinterEmulator() as kitchen,
        NetworkPrinterEmulator() as bar,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
    ):
        api_port = free_port()
        url = f"http://127.0.0.1:{api_port}"
        ports = {"kitchen": kitchen.port, "bar": bar.port}
        config = tmp_path / "posedge.toml"
        write_config(config, api_port, ports, grill="kitchen")
        assert (await posedge_cli("catalog", "--sample", "--config", str(config))).returncode == 0
        async with running(config) as daemon:
            await until(lambda: daemon_ready(session, url), within=30)
            till = await pair(session, url, config)
            await till.fire("first")
            await until(lambda: printed(kitchen, "first"), within=30)

            write_config(config, api_port, ports, grill="bar")
            line = await daemon.hangup("reloaded")
            assert "grill -> bar" in line
            await till.fire("second")
            await until(lambda: printed(bar, "second"), within=30)

            write_config(config, api_port, ports, grill="fryer")  # a printer of no node
            line = await daemon.hangup("configuration not reloaded")
            assert f"{config}: stations.grill: must name a printer of the store" in line
            assert "the devices keep their settings" in line
            await till.fire("third")
            await until(lambda: printed(bar, "third"), within=30)

        assert not printed(kitchen, "second") and not printed(kitchen, "third")
        assert [printed(bar, note) for note in ("first", "second", "third")] == [False, True, True]


async def test_jobs_queued_for_an_offline_printer_print_after_a_reload(tmp_path):
    async with (
        NetworkPrinterEmulator() as kitchen,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
    ):
        api_port = free_port()
        url = f"http://127.0.0.1:{api_port}"
        config = tmp_path / "posedge.toml"
        write_config(config, api_port, {"kitchen": kitchen.port}, grill="kitchen")
        assert (await posedge_cli("catalog", "--sample", "--config", str(config))).returncode == 0
        async with running(config) as daemon:
            await until(lambda: daemon_ready(session, url), within=30)
            till = await pair(session, url, config)
            kitchen.go_offline()
            order_ids = [await till.fire(f"held {n}") for n in range(3)]

            async def all_waiting() -> bool:
                jobs = (await till.get("/print-jobs?printer=kitchen"))["jobs"]
                waiting = {j["order_id"] for j in jobs if j["state"] == "queued"}
                devices = (await till.get("/devices"))["devices"]
                return waiting == set(order_ids) and devices[0]["state"] == "offline"

            await until(all_waiting, within=30)
            # the receipt's footer and the print settings change; the printer stays
            config.write_text(
                config.read_text().replace("[print]", '[receipt]\nfooter = ["Come again"]\n[print]')
            )
            await daemon.hangup("reloaded")
            kitchen.go_online()
            await kitchen.wait_for_papers(3, timeout=60)
            await until(lambda: all(printed(kitchen, f"held {n}") for n in range(3)), within=30)

            async def all_printed() -> bool:  # on paper first, then recorded so
                jobs = (await till.get("/print-jobs?printer=kitchen"))["jobs"]
                return sorted(j["state"] for j in jobs) == ["printed"] * 3

            await until(all_printed, within=30)
        assert not daemon.logged("Traceback")
