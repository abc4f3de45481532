"""What belongs to the store, not to one node, on three real daemons in network namespaces:
a terminal paired on one node sells through another when its own is powered off, with the
same token; a token made while a node was off works there once it catches up; a revocation
on one node stops the token on the others; every node lists where every node's API is; a
UI user added on one node signs in on another, a settings change on a second applies on the
other two, and a password changed there signs the session on the first out. Every wait is
bounded (tests/support/lan.py, WAIT)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support import netns
from tests.support.lan import HTTP_PORT, Node, settle, store_of_three
from tests.support.managed_node import settings_form
from tests.support.processes import posedge, terminal
from tests.support.ui_client import CSRF

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))


async def call(http, node: Node, auth: dict, method: str, path: str, body=None) -> int:
    """The status of a request to `node` made with the headers `auth`."""
    async with http.request(
        method, node.url + path, json=body, headers=auth, ssl=node.tls
    ) as response:
        await response.read()
        return response.status


async def answers(http, node: Node, auth: dict, wanted: int, what: str) -> None:
    """Wait until `node` answers GET /api/v1/terminals/me with `wanted` for `auth`."""

    async def check():
        status = await call(http, node, auth, "GET", "/api/v1/terminals/me")
        return status == wanted, status

    await settle(check, f"{what}: {node.name} answers {wanted}")


async def manager(http, node: Node) -> dict:
    """The headers of a manager's terminal paired on `node`."""
    _, out, _ = await posedge("pair", "Office", "--manager", "--config", str(node.config))
    code = out.split(": ")[1].split()[0]
    async with http.post(f"{node.url}/api/v1/pair", json={"code": code}, ssl=node.tls) as r:
        assert r.status == 201, await r.text()
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


@needs_namespaces
async def test_a_terminal_pairs_with_the_store_and_a_revocation_reaches_every_node(tmp_path):
    async with store_of_three(tmp_path) as (http, (n1, n2, n3)):
        till = n1.auth  # paired on n1
        for node in (n2, n3):
            await answers(http, node, till, 200, "a token made on n1")

        status, peers = await n2.request(http, "GET", "/api/v1/peers")
        assert status == 200
        listed = {entry["node"]: entry["api"] for entry in peers["nodes"]}
        for node in (n1, n2, n3):  # where a terminal finds every node, from any of them
            assert listed[node.name] == [f"https://{node.namespace.address}:{HTTP_PORT}"]

        await n1.kill()  # powered off: its terminal moves to n2 with the same token
        body = {"channel": "counter"}
        assert await call(http, n2, till, "POST", "/api/v1/orders", body) == 201

        await n3.stop()  # off while a terminal is paired on n2
        late = await terminal(http, n2.config, n2.url, tls=n2.tls)
        await n3.start(http)
        await answers(http, n3, late, 200, "a token made while n3 was off")

        office = await manager(http, n2)
        async with http.get(f"{n2.url}/api/v1/terminals/me", headers=till, ssl=n2.tls) as r:
            till_id = (await r.json())["terminal"]["id"]
        assert await call(http, n2, office, "DELETE", f"/api/v1/terminals/{till_id}") == 200
        assert await call(http, n2, till, "GET", "/api/v1/terminals/me") == 401
        await answers(http, n3, till, 401, "a token revoked on n2")
        await n1.start(http)  # back: it learns of the revocation as it catches up
        await answers(http, n1, till, 401, "a token revoked on n2 while n1 was off")
        await answers(http, n1, late, 200, "a live token")


def browser() -> aiohttp.ClientSession:
    """A browser's cookie jar and connections (cookies of IP addresses kept)."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
    )


async def sign_in(client: aiohttp.ClientSession, node: Node, name: str, password: str):
    """Sign `client` in to `node`'s UI: (whether it is signed in, the page it ends on)."""
    async with client.get(f"{node.url}/ui/signin", ssl=node.tls) as page:
        csrf = CSRF.search(await page.text()).group(1)
    form = {"name": name, "password": password, "next": "/ui/", "csrf_token": csrf}
    async with client.post(f"{node.url}/ui/signin", data=form, ssl=node.tls) as page:
        return page.url.path == "/ui/", str(page.url)


async def can_sign_in(node: Node, name: str, password: str) -> tuple[bool, str]:
    async with browser() as client:
        return await sign_in(client, node, name, password)


async def settings_page(client: aiohttp.ClientSession, node: Node) -> str:
    async with client.get(f"{node.url}/ui/settings", ssl=node.tls) as page:
        return await page.text()


async def signed_in(browser: aiohttp.ClientSession, node: Node) -> bool:
    async with browser.get(f"{node.url}/ui/", ssl=node.tls) as page:
        return page.url.path == "/ui/"


@needs_namespaces
async def test_a_ui_user_added_on_one_node_signs_in_on_another(tmp_path):
    async with store_of_three(tmp_path) as (_, (n1, n2, n3)):
        add = ("user", "add", "maria", "--role", "manager", "--password-stdin")
        await posedge(*add, "--config", str(n1.config), stdin="correct horse\n")

        await settle(lambda: can_sign_in(n3, "maria", "correct horse"), "maria added on n1, on n3")
        maria = browser()
        try:
            assert (await sign_in(maria, n3, "maria", "correct horse"))[0]
            assert (await sign_in(maria, n2, "maria", "correct horse"))[0]
            async with maria.get(f"{n2.url}/ui/settings", ssl=n2.tls) as page:
                csrf = CSRF.search(await page.text()).group(1)
            form = settings_form("Corner Bistro", **{"kds.warn_after": "7", "csrf_token": csrf})
            async with maria.post(f"{n2.url}/ui/settings", data=form, ssl=n2.tls) as page:
                assert "Settings saved" in await page.text()

            async def applied():  # made on n2, shown by n1 and n3 as their own settings
                seen = [await settings_page(maria, node) for node in (n1, n3)]
                return all('value="Corner Bistro"' in page for page in seen), seen

            for node in (n1, n3):
                assert (await sign_in(maria, node, "maria", "correct horse"))[0]
            await settle(applied, "a settings change on n2 applied on n1 and n3")
            change = ("user", "passwd", "maria", "--password-stdin")
            await posedge(*change, "--config", str(n2.config), stdin="battery staple\n")

            async def signed_out():
                still = await signed_in(maria, n3)
                return not still, still

            await settle(signed_out, "maria's session on n3 ended by the change on n2")
            await settle(lambda: can_sign_in(n1, "maria", "battery staple"), "the new one on n1")
        finally:
            await maria.close()
