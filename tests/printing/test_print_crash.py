"""The daemon killed (SIGKILL) while it sends a kitchen ticket, then restarted: the ticket
prints again, marked REPRINT, and is never printed twice without a mark."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import aiohttp

from drivers.emulators.network_printer import NetworkPrinterEmulator
from tests.support.processes import POSEDGE, daemon_ready, free_port, posedge_cli, stop
from tests.support.waiting import until


def write_config(tmp_path: Path, printer_port: int, api_port: int) -> Path:
    path = tmp_path / "posedge.toml"
    path.write_text(f"""
[store]
id = "s7"
[node]
name = "kitchen-node"
[http]
host = "127.0.0.1"
port = {api_port}
[paths]
state_dir = "{tmp_path / "state"}"
[print]
status_interval = 0.2
retry_max_interval = 0.2

[devices.kitchen]
kind = "printer"
url = "tcp://127.0.0.1:{printer_port}"

[stations]
grill = "kitchen"
fryer = "kitchen"
""")
    return path


def start_daemon(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*POSEDGE, "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_ticket_cut_off_by_sigkill_reprints_marked_after_restart(tmp_path):
    async with NetworkPrinterEmulator() as printer, aiohttp.ClientSession() as session:
        api_port = free_port()
        url = f"http://127.0.0.1:{api_port}"
        config = write_config(tmp_path, printer.port, api_port)
        assert (await posedge_cli("catalog", "--sample", "--config", str(config))).returncode == 0
        daemon = start_daemon(config)
        try:
            await until(lambda: daemon_ready(session, url), within=30)
            paired = await posedge_cli("pair", "Counter 1", "--config", str(config))
            code = paired.stdout.split(": ")[1].split()[0]
            async with session.post(f"{url}/api/v1/pair", json={"code": code}) as response:
                token = (await response.json())["token"]
            auth = {"Authorization": f"Bearer {token}"}

            async def post(path: str, body: dict | None = None) -> dict:
                async with session.post(f"{url}/api/v1{path}", json=body, headers=auth) as r:
                    assert r.status < 300, await r.text()
                    return await r.json()

            order = (await post("/orders", {"channel": "takeaway"}))["order"]
            for sku in ("BURGER", "VEGGIE", "BURGER"):  # one ticket: all at the grill
                await post(f"/orders/{order['id']}/lines", {"sku": sku, "note": "well done"})
            printer.slow(0.3)  # the printer works through the ticket line by line
            await post(f"/orders/{order['id']}/fire")
            await until(lambda: printer.current.lines, within=30)  # mid-ticket
            stop(daemon, signal.SIGKILL)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.communicate()
        assert not any(paper.cut for paper in printer.papers)
        printer.slow(0)

        restarted = start_daemon(config)
        try:
            papers = await printer.wait_for_papers(2, timeout=60)
            await asyncio.sleep(0.5)
            async with session.get(
                f"{url}/api/v1/print-jobs?order_id={order['id']}", headers=auth
            ) as response:
                [job] = (await response.json())["jobs"]
        finally:
            code, stderr = stop(restarted, signal.SIGTERM)
        assert code == 0, stderr
        assert "interrupted while sending" in stderr or "REPRINT" in stderr
        unmarked = [p for p in printer.papers if "REPRINT" not in p.text]
        marked = [p for p in printer.papers if "REPRINT" in p.text]
        # The first copy was already in the printer when the daemon died, and it finished;
        # the second says that it is a reprint. Nothing else printed.
        assert len(unmarked) == 1 and len(marked) == 1 and len(papers) == 2
        assert order["number"] in marked[0].text and "Garden Burger" in marked[0].text
        assert (job["state"], job["attempts"], job["printed_marks"]["reprint"]) == (
            "printed",
            2,
            True,
        )
