"""A node serving the terminal API on a real loopback socket, for end-to-end tests.

It assembles the API as the daemon does (`open_api`) over a store in a test's directory,
listens on 127.0.0.1 with a port the OS picks, and pairs terminals through the real pairing
exchange.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from edge.api.app import ApiServer, open_api
from edge.api.context import ApiContext
from edge.orderbook import OrderBook
from sync.store import DocStore

from .conftest import SettableClock, make_book


@dataclass
class ApiNode:
    """One running node: its parts, its URL, and an HTTP client session."""

    state_dir: Path
    clock: SettableClock
    store: DocStore
    book: OrderBook
    context: ApiContext
    server: ApiServer
    session: aiohttp.ClientSession
    _closers: contextlib.AsyncExitStack = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def pair(self, name: str = "Counter 1", *, manager: bool = False) -> str:
        """Pair a terminal through POST /api/v1/pair; returns its bearer token."""
        code = self.context.terminals.create_code(
            name,
            "manager" if manager else "terminal",
            ttl=dt.timedelta(minutes=5),
            now=self.clock(),
        )
        async with self.session.post(f"{self.url}/api/v1/pair", json={"code": code.code}) as r:
            assert r.status == 201, await r.text()
            return (await r.json())["token"]

    async def close(self) -> None:
        await self._closers.aclose()


async def start_node(state_dir: Path, clock: SettableClock) -> ApiNode:
    """Start a node over `state_dir` (created if needed); close it with `await node.close()`."""
    state_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test, before serving)
    closers = contextlib.AsyncExitStack()
    try:
        store = await DocStore.open(state_dir / "orders.db")
        closers.push_async_callback(store.close)
        book = await make_book(store, clock)
        server, context = await open_api(
            closers,
            book,
            node_db=state_dir / "node.db",
            requests_db=state_dir / "requests.db",
            host="127.0.0.1",
            port=0,
            shutdown_timeout=5,
            now=clock,
        )
        await server.start()
        context.ready = True
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        closers.push_async_callback(session.close)
    except BaseException:
        await closers.aclose()
        raise
    return ApiNode(state_dir, clock, store, book, context, server, session, closers)
