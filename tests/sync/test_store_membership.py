"""Two daemons on loopback made into one store with the CLI (init, join-code, join), then
replicating over their TLS peer link: an order opened on one is paid on the other."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

import aiohttp

from tests.support.processes import POSEDGE, free_port, posedge, terminal
from tests.support.waiting import until


def node_config(root: Path, name: str, letter: str, http: int, peer: int, static=()) -> Path:
    path = root / f"{name}.toml"
    static_list = ", ".join(f'"{address}"' for address in static)
    path.write_text(f"""
[store]
id = "s5"
[node]
name = "{name}"
letter = "{letter}"
[http]
host = "127.0.0.1"
port = {http}
[peers]
host = "127.0.0.1"
port = {peer}
mdns = false
static = [{static_list}]
[paths]
state_dir = "{root / name}"
""")
    return path


@contextlib.asynccontextmanager
async def daemon(config: Path, url: str, http: aiohttp.ClientSession):
    process = await asyncio.create_subprocess_exec(
        *POSEDGE, "run", "--config", str(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        await until(lambda: _ready(http, url, process), within=60)
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(60):
            _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()


async def _ready(http: aiohttp.ClientSession, url: str, process) -> bool:
    assert process.returncode is None, "the daemon exited"
    try:
        async with http.get(f"{url}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def test_a_node_joins_with_a_code_and_the_two_replicate_over_tls(tmp_path):
    ports = [free_port() for _ in range(4)]
    a = node_config(tmp_path, "node-a", "A", ports[0], ports[1])
    b = node_config(tmp_path, "node-b", "B", ports[2], ports[3], static=[f"127.0.0.1:{ports[1]}"])
    url_a, url_b = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[2]}"
    _, made, _ = await posedge("init", "--config", str(a))
    assert "store s5 made; this node is node-a" in made
    await posedge("catalog", "--sample", "--config", str(a))
    async with aiohttp.ClientSession() as http, daemon(a, url_a, http):
        _, out, _ = await posedge("join-code", "--config", str(a))
        code = out.split("join code: ")[1].split()[0]
        wrong, _, refused = await posedge(
            "join", "ZZZZ-ZZZZ", "--from", f"127.0.0.1:{ports[0]}", "--config", str(b), check=False
        )
        assert wrong != 0 and "refused" in refused.lower()
        _, joined, _ = await posedge(
            "join", code, "--from", f"127.0.0.1:{ports[0]}", "--config", str(b)
        )
        assert "node node-b joined store s5" in joined
        async with daemon(b, url_b, http):
            till_a, till_b = await terminal(http, a, url_a), await terminal(http, b, url_b)
            async with http.post(f"{url_a}/api/v1/orders", json={}, headers=till_a) as r:
                order = (await r.json())["order"]
            path = f"/api/v1/orders/{order['id']}"
            async with http.post(f"{url_a}{path}/lines", json={"sku": "FRIES"}, headers=till_a):
                pass
            seen = await until(lambda: _order(http, url_b, path, till_b, lines=1), within=30)
            async with http.post(
                f"{url_b}{path}/payments",
                json={"key": "cash-1", "tender": "cash", "amount": seen["totals"]["total"]},
                headers=till_b,
            ) as r:
                assert r.status == 201, await r.text()
            paid = await until(lambda: _order(http, url_a, path, till_a, status="paid"), within=30)
            assert paid["payments"][0]["key"] == "cash-1"
            async with http.get(f"{url_a}/api/v1/peers", headers=till_a) as r:
                peers = await r.json()
            assert peers["member"] and [p["node"] for p in peers["peers"]] == ["node-b"]
            assert peers["peers"][0]["connected"]


async def _order(http, url: str, path: str, auth: dict, *, lines: int = 0, status: str = ""):
    async with http.get(f"{url}{path}", headers=auth) as response:
        if response.status != 200:
            return None
        order = (await response.json())["order"]
    if len(order["lines"]) < lines or (status and order["status"] != status):
        return None
    return order
