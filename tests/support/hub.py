"""A real hub for the tests of tests/hub/: `posedge hub` in its own process with TLS on
127.0.0.1 (`HubProcess`, HQ's view of it included), and nodes of store s1 whose upstream link
to it runs in the test's process (`node`), selling orders (`sell`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

import aiohttp

from edge.config.model import UpstreamConfig
from edge.hub.app import prepare_hub
from edge.orders.book import OrderBook
from edge.orders.feed import OrderFeed
from edge.orders.log import Actor
from edge.replication.upstream import UpstreamLink
from sync.hub.tls import client_context
from sync.hub.tokens import HubStores
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.processes import free_port
from tests.support.tasks import running

WAIT = 30.0
CASHIER = Actor("Counter (t-0001)")


class HubProcess:
    """`posedge hub` on 127.0.0.1, its directory and HQ's view of it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.stores = HubStores(directory / "stores.db") if directory.exists() else None

    @property
    def url(self) -> str:
        """The URL nodes dial (upstream.url)."""
        return f"wss://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the hub and wait for the line that says it serves."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "edge.cli.main", "hub", "--dir", str(self.directory),
            "--host", "127.0.0.1", "--port", str(self.port), "--name", "127.0.0.1",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        line = await asyncio.wait_for(self.process.stdout.readline(), WAIT)
        assert json.loads(line)["hub"] == f"https://127.0.0.1:{self.port}", line

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """Send `sig` to a running hub and wait for it to exit. Safe when it is not running."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)
            await asyncio.wait_for(self.process.wait(), WAIT)
        self.process = None

    def add_store(self, store_id: str) -> str:
        """Prepare the hub's directory if need be and add a store: the store's token."""
        prepare_hub(self.directory, cert=None, key=None, names=["127.0.0.1"])
        self.stores = HubStores(self.directory / "stores.db")
        return self.stores.add(store_id)

    async def hq(self, method: str, path: str, **kwargs) -> tuple[int, object]:
        """(status, JSON or CSV body) of a request to the HQ API under /hq/v1."""
        token = (self.directory / "hq.token").read_text().strip()
        ssl = client_context(self.directory / "hub.pem")
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                method,
                f"https://127.0.0.1:{self.port}/hq/v1{path}",
                headers={"Authorization": f"Bearer {token}"},
                ssl=ssl,
                **kwargs,
            ) as response,
        ):
            if response.content_type == "text/csv":
                return response.status, await response.text()
            return response.status, await response.json(content_type=None)

    async def orders(self, store_id: str, day: str) -> dict[str, dict]:
        """The orders of a store's business day as HQ sees them, by id."""
        status, body = await self.hq("GET", f"/stores/{store_id}/orders?date={day}")
        assert status == 200, body
        return {order["id"]: order for order in body["orders"]}


@contextlib.asynccontextmanager
async def node(
    tmp_path,
    clock,
    hub: HubProcess,
    token: str,
    name: str = "node-a",
    *,
    peers: list[str] | None = None,
    stagger: float = 0.0,
):
    """A node of store s1 whose upstream link runs while the block does (linked on the LAN
    with `peers`, as far as its link's ranking knows)."""
    store = await DocStore.open(tmp_path / f"{name}.db")
    try:
        replica = Replica(store)
        book = await make_book(store, clock, letter=name[-1].upper(), name=name, replica=replica)
        config = UpstreamConfig(hub.url, token, hub.directory / "hub.pem", stagger=stagger)
        feed = OrderFeed(replica, store_id=book.store_id)
        link = UpstreamLink(
            book, replica, config, feed=feed, linked_peers=lambda: peers or [], retry_cap=1.0
        )
        async with running(link.run()):
            yield book, link
    finally:
        await store.close()


async def sell(book: OrderBook, count: int) -> None:
    """Ring up `count` orders of two burgers, paid by card and closed."""
    for _ in range(count):
        order = await book.open_order(CASHIER, channel="counter")
        view, _ = await book.add_line(CASHIER, order.id, sku="BURGER", qty=2)
        await book.add_payment(
            CASHIER, order.id, key=f"{order.id}-pay", tender="card", amount=view.totals.total
        )
        await book.close(CASHIER, order.id)


async def same_at_hub(hub: HubProcess, book: OrderBook, day) -> bool:
    """Whether HQ serves business day `day` of store s1 as the node's book holds it."""
    here = json.loads(json.dumps({view.id: view.to_dict() for view in await book.list_orders(day)}))
    try:
        there = await hub.orders("s1", day.isoformat())
    except aiohttp.ClientError:
        return False
    return there == here
