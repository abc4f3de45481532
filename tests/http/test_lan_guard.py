"""What a node serves over plain HTTP to the LAN, with a real daemon in a network namespace
reached through a bridge (tests/support/lan.py): before it is a member of a store, nothing;
once it is, redirects and refusals that say to use HTTPS, and with `http.plain_kds` the
kitchen screens and nothing else; one address may hold only so many connections, and the LAN
as a whole so many that the node's own health checks still get in."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import pytest

from tests.support import netns
from tests.support.lan import HOST, HTTP_PORT, WAIT, Node
from tests.support.processes import posedge
from tests.support.waiting import until

pytestmark = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

CAP = 4  # http.max_connections_per_address of the node under test
TOTAL = 16  # its http.max_connections
HEALTH_INSIDE = f"""
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:{HTTP_PORT}/healthz", timeout=30).status)
"""


async def plain(http, node: Node, method: str, path: str, **kwargs) -> tuple[int, dict, str]:
    """(status, headers, body) of a plain-HTTP request from the LAN (this end of the bridge)."""
    url = f"http://{node.namespace.address}:{HTTP_PORT}{path}"
    async with http.request(method, url, allow_redirects=False, **kwargs) as response:
        return response.status, dict(response.headers), await response.text()


async def code(node: Node, *role: str) -> str:
    _, out, _ = await posedge("pair", "Screen", *role, "--config", str(node.config))
    return out.split(": ")[1].split()[0]


async def closed_at_once(node: Node) -> bool:
    reader, writer = await asyncio.open_connection(node.namespace.address, HTTP_PORT)
    try:
        return await asyncio.wait_for(reader.read(1), WAIT) == b""
    except ConnectionResetError:
        return True
    finally:
        writer.close()


async def test_plain_http_from_the_lan_gets_the_kitchen_at_most(tmp_path):
    async with (
        netns.Network(1, host_address=HOST) as [namespace],
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
    ):
        node = Node("n1", "A", namespace, tmp_path)
        try:
            node.configure("UTC", http=f"max_connections_per_address = {CAP}")
            await node.start(http)  # not a member yet: no HTTPS to offer
            status, _, body = await plain(http, node, "GET", "/ui/")
            assert status == 409 and "not-a-member" in body
            assert (await plain(http, node, "GET", "/healthz"))[0] == 200
            await node.stop()

            await posedge("init", "--config", str(node.config))
            await posedge("catalog", "--sample", "--config", str(node.config))
            await node.start(http)
            status, headers, _ = await plain(http, node, "GET", "/ui/signin?next=/ui/")
            assert status == 308
            assert (
                headers["Location"]
                == f"https://{namespace.address}:{HTTP_PORT}/ui/signin?next=/ui/"
            )
            for method, path in (("GET", "/api/v1/orders"), ("POST", "/api/v1/pair")):
                status, _, body = await plain(http, node, method, path)
                assert status == 403 and "https-required" in body, (path, body)
            assert (await plain(http, node, "GET", "/kds/grill"))[0] == 308
            async with http.get(f"{node.url}/api/v1/pair/ca", ssl=node.tls) as response:
                assert response.status == 200  # HTTPS under the store CA, host name checked

            held = [await asyncio.open_connection(namespace.address, HTTP_PORT) for _ in range(CAP)]
            assert await closed_at_once(node)
            for _, writer in held:
                writer.close()
            await until(lambda: node_answers(http, node), WAIT)
            await node.stop()

            node.configure(
                "UTC", host="0.0.0.0", http=f"plain_kds = true\nmax_connections = {TOTAL}"
            )
            await node.start(http)
            held = [
                await asyncio.open_connection(namespace.address, HTTP_PORT) for _ in range(TOTAL)
            ]
            assert await closed_at_once(node)  # the LAN's share is full...
            inside = namespace.run(sys.executable, "-c", HEALTH_INSIDE)  # ...but not the node's own
            assert inside.stdout.strip() == "200", inside.stderr
            for _, writer in held:
                writer.close()
            await until(lambda: node_answers(http, node), WAIT)
            assert (await plain(http, node, "GET", "/kds/grill"))[0] == 200
            screen = await code(node, "--kds")
            status, _, body = await plain(http, node, "POST", "/api/v1/pair", json={"code": screen})
            assert status == 201, body
            kds = {"Authorization": f"Bearer {json.loads(body)['token']}"}
            status, _, body = await plain(
                http, node, "GET", "/api/v1/catalog/stations/grill", headers=kds
            )
            assert status == 200 and json.loads(body)["items"], body  # the 86 panel...
            eighty_six = "/api/v1/catalog/items/BURGER/availability"
            for method in ("PUT", "DELETE"):
                status, _, body = await plain(http, node, method, eighty_six, headers=kds, json={})
                assert status == 200, (method, body)  # ...marks and clears over plain HTTP
            status, _, body = await plain(http, node, "GET", "/api/v1/catalog", headers=kds)
            assert status == 403 and "https-required" in body, body  # the prices stay private
            till = await code(node)  # a terminal's code may not cross the LAN in clear...
            status, _, body = await plain(http, node, "POST", "/api/v1/pair", json={"code": till})
            assert status == 403 and "pairing-refused" in body, body
            async with http.post(f"{node.url}/api/v1/pair", json={"code": till}, ssl=node.tls) as r:
                assert r.status == 201  # ...and is still good over HTTPS
            assert (await plain(http, node, "GET", "/ui/"))[0] == 308
            await node.stop()
        except BaseException:
            print(node.log_tail())
            raise


async def node_answers(http, node: Node) -> bool:
    try:
        async with http.get(f"{node.url}/healthz", ssl=node.tls) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False
