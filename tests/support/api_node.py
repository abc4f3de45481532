"""A node serving the terminal API on a real loopback socket, for end-to-end tests.

It assembles the API as the daemon does (`open_api`) over a store in a test's directory,
listens on 127.0.0.1 with a port the OS picks, and pairs terminals through the real pairing
exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from edge.app import open_store_document
from edge.config.devices import DeviceSettings
from edge.config.model import HttpConfig, PrintSettings, ReceiptConfig
from edge.devices.assembly import open_devices
from edge.http.assembly import open_api
from edge.http.context import ApiContext
from edge.http.server import HttpServer
from edge.http.tls import ApiCertificate
from edge.orders.availability import Availability
from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from sync.membership.trust import StoreCredentials
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.clocks import SettableClock
from tests.support.tasks import cancel

LOOPBACK = HttpConfig("127.0.0.1", 0)  # any free port of 127.0.0.1


@dataclass
class ApiNode:
    """One running node: its parts, its URL, and an HTTP client session."""

    state_dir: Path
    clock: SettableClock
    store: DocStore
    replica: Replica
    book: OrderBook
    context: ApiContext
    server: HttpServer
    session: aiohttp.ClientSession
    _closers: contextlib.AsyncExitStack = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def https_url(self) -> str:
        """The same port over TLS (a node started with `member=True`)."""
        return f"https://127.0.0.1:{self.server.port}"

    async def pair(self, name: str = "Counter 1", *, manager: bool = False) -> str:
        """Pair a terminal through POST /api/v1/pair; returns its bearer token."""
        code = self.context.terminals.codes.create_code(
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


class Terminal:
    """A paired terminal: posts JSON with its token, returns (status, body, headers)."""

    def __init__(self, node: ApiNode, token: str) -> None:
        self.node = node
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body=None, *, key: str | None = None):
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        async with self.node.session.request(
            method, f"{self.node.url}/api/v1{path}", json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None), response.headers

    async def post(self, path: str, body=None, *, key: str | None = None, expect: int = 201):
        status, data, _ = await self.call("POST", path, body, key=key)
        assert status == expect, data
        return data

    async def get(self, path: str, expect: int = 200):
        status, data, _ = await self.call("GET", path)
        assert status == expect, data
        return data


async def start_node(
    state_dir: Path,
    clock: SettableClock,
    devices: DeviceSettings | None = None,
    *,
    receipt_printer: str = "",
    receipt_logo: Path | None = None,
    member: StoreCredentials | None = None,
    http: HttpConfig = LOOPBACK,
    **print_settings,
) -> ApiNode:
    """Start a node over `state_dir` (created if needed), driving `devices` with the given
    `print.*` settings; close it with `await node.close()`. With the credentials of a store
    `member`, it also serves HTTPS under that store's CA."""
    state_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a test, before serving)
    closers = contextlib.AsyncExitStack()
    try:
        store = await DocStore.open(state_dir / "orders.db")
        closers.push_async_callback(store.close)
        replica = Replica(store)
        book = await make_book(store, clock, replica=replica)
        feed = OrderFeed(replica, store_id=book.store_id)
        node_devices = await closers.enter_async_context(
            open_devices(
                book,
                feed,
                devices or DeviceSettings(),
                print_db=state_dir / "print.db",
                print_settings=PrintSettings(**print_settings),
                receipt=ReceiptConfig(
                    receipt_printer, ("12 Main St",), ("Thank you!",), receipt_logo
                ),
                store_name="Demo Store",
                now=clock,
            )
        )
        document = await open_store_document(replica, book.store_id, book.node.name)
        closers.callback(document.close)
        book.availability = Availability(document)  # as edge/app.py wires it
        api = await open_api(
            closers,
            book,
            replica,
            feed=feed,
            document=document,
            devices=node_devices,
            state_dir=state_dir,
            node_db=state_dir / "node.db",
            requests_db=state_dir / "requests.db",
            http=http,
            https=ApiCertificate(member) if member is not None else None,
            shutdown_timeout=5,
            now=clock,
        )
        server, context = api.server, api.context
        await server.start()
        context.ready = True
        devices_task = asyncio.create_task(node_devices.run(), name="devices")
        closers.push_async_callback(cancel, devices_task)
        outbox_task = asyncio.create_task(api.outbox.run(), name="store outbox")
        closers.push_async_callback(cancel, outbox_task)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        closers.push_async_callback(session.close)
    except BaseException:
        await closers.aclose()
        raise
    return ApiNode(state_dir, clock, store, replica, book, context, server, session, closers)
