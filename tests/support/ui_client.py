"""A browser's part in the manager UI tests, without a browser: an HTTP client with its own
cookie jar that reads each page's CSRF token and posts forms the way the pages do."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp

from tests.support.api_node import ApiNode

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Page:
    status: int
    url: str
    text: str

    @property
    def csrf_token(self) -> str:
        found = CSRF.search(self.text)
        assert found, f"no CSRF token on {self.url}"
        return found.group(1)


class UiClient:
    """One browser: its cookies, the last page it saw. Close with `await client.close()`."""

    def __init__(self, node: ApiNode, *, local_address: str = "127.0.0.1") -> None:
        self.node = node
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies of an IP address (127.0.0.1)
            connector=aiohttp.TCPConnector(local_addr=(local_address, 0)),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kwargs) -> Page:
        async with self.session.get(self.node.url + path, **kwargs) as response:
            return Page(response.status, str(response.url.relative()), await response.text())

    async def post(self, path: str, data: dict, **kwargs) -> Page:
        async with self.session.post(self.node.url + path, data=data, **kwargs) as response:
            return Page(response.status, str(response.url.relative()), await response.text())

    async def submit(self, page_path: str, action: str, fields: dict) -> Page:
        """Open `page_path`, then post `fields` to `action` with the page's CSRF token."""
        page = await self.get(page_path)
        return await self.post(action, {**fields, "csrf_token": page.csrf_token})

    async def sign_in(self, name: str, password: str) -> Page:
        return await self.submit(
            "/ui/signin", "/ui/signin", {"name": name, "password": password, "next": "/ui/"}
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.session.cookie_jar if c.key == name), None)


async def add_user(node: ApiNode, name: str, role: str, password: str = "correct horse") -> None:
    await node.context.users.add(name, role, password, now=node.clock())
