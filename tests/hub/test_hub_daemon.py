"""The daemon (`posedge run` as a process) linked to a real hub: its hub link on the API,
/metrics and the systemd status line, before and after the hub comes up."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import aiohttp

from tests.support.hub import WAIT, HubProcess
from tests.support.processes import POSEDGE, free_port, posedge_cli


class RunningNode:
    """`posedge run` of store s1 linked to `hub`, with its systemd notifications."""

    def __init__(self, tmp_path: Path, hub: HubProcess, token: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "posedge.toml"
        self.config.write_text(f"""
[store]
id = "s1"
[node]
name = "till-1"
[http]
host = "127.0.0.1"
port = {self.port}
[paths]
state_dir = "{tmp_path / "state"}"
[daemon]
status_interval = 1
[upstream]
url = "{hub.url}"
token = "{token}"
ca = "{hub.directory / "hub.pem"}"
stagger = 0
""")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / "notify.sock"))
        self.notify.setblocking(False)
        self.log = tmp_path / "daemon.log"
        self.process: asyncio.subprocess.Process | None = None
        self.auth: dict[str, str] = {}

    async def start(self, http: aiohttp.ClientSession) -> None:
        assert (
            await posedge_cli("catalog", "--sample", "--config", str(self.config))
        ).returncode == 0
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *POSEDGE, "run", "--config", str(self.config), stdout=log, stderr=log,
                env={**os.environ, "NOTIFY_SOCKET": self.notify.getsockname()},
            )  # fmt: skip
        await self.status_line("READY=1")
        paired = await posedge_cli("pair", "Counter 1", "--config", str(self.config))
        code = paired.stdout.split(": ")[1].split()[0]
        async with http.post(f"{self.url}/api/v1/pair", json={"code": code}) as response:
            self.auth = {"Authorization": f"Bearer {(await response.json())['token']}"}

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), WAIT)
        self.notify.close()

    async def status_line(self, wanted: str) -> str:
        """The first notification holding `wanted`."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(WAIT):
            while wanted not in (message := (await loop.sock_recv(self.notify, 4096)).decode()):
                pass
        return message

    async def call(self, http, method: str, path: str, body=None) -> dict | str:
        async with http.request(method, self.url + path, json=body, headers=self.auth) as r:
            assert r.status < 300, await r.text()
            return await r.json() if r.content_type == "application/json" else await r.text()


async def test_a_running_node_shows_its_hub_link_on_the_api_metrics_and_status_line(tmp_path, hub):
    token = hub.add_store("s1")
    daemon = RunningNode(tmp_path, hub, token)
    async with aiohttp.ClientSession() as http:
        try:
            await daemon.start(http)
            for _ in range(3):
                order = (await daemon.call(http, "POST", "/api/v1/orders", {}))["order"]
                await daemon.call(
                    http, "POST", f"/api/v1/orders/{order['id']}/lines", {"sku": "BURGER"}
                )
            upstream = await daemon.call(http, "GET", "/api/v1/upstream")
            assert upstream["state"] in ("connecting", "offline") and upstream["last_sync"] is None
            assert upstream["backlog"]["orders"] == 3 and upstream["backlog"]["bytes"] > 0
            assert "orders not yet synced" in await daemon.status_line("; hub offline, 3 orders")
            metrics = await daemon.call(http, "GET", "/metrics")
            assert "posedge_upstream_backlog_orders 3.0" in metrics
            assert "posedge_upstream_connected 0.0" in metrics

            await hub.start()
            await daemon.status_line("; hub connected, 0 orders not yet synced")
            upstream = await daemon.call(http, "GET", "/api/v1/upstream")
            assert upstream["state"] == "connected" and upstream["last_sync"] is not None
            assert upstream["backlog"] == {
                "documents": 0,
                "orders": 0,
                "bytes": 0,
                "oldest_age": None,
            }
            metrics = await daemon.call(http, "GET", "/metrics")
            assert "posedge_upstream_connected 1.0" in metrics
            assert "posedge_upstream_backlog_orders 0.0" in metrics
            assert len(await hub.orders("s1", order["business_date"])) == 3
        finally:
            await daemon.stop()
