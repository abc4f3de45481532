"""A node's live changes reach the hub over the link already up, with no reconnect and no
new offer: once the hub has acknowledged the day, and while the node still waits its turn
(its stagger) to offer. The hub is sync's own endpoint in this process, on loopback."""

from __future__ import annotations

import contextlib

from aiohttp import web

from edge.config.model import UpstreamConfig
from edge.orders.documents import HubDocuments
from edge.orders.feed import OrderFeed
from edge.orders.log import Actor
from edge.replication.upstream import UpstreamLink
from sync.hub.endpoint import Hub
from sync.hub.tokens import HubStores
from sync.replica import Replica, root_map_contents
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.tasks import running
from tests.support.waiting import until

WAIT = 10.0
CASHIER = Actor("Counter (t-0001)")


@contextlib.asynccontextmanager
async def hub_on_loopback(tmp_path):
    """(hub's replica, URL, store s1's token) of a hub serving plain WebSocket."""
    store = await DocStore.open(tmp_path / "hub.db")
    stores = HubStores(tmp_path / "stores.db")
    hub = Hub(Replica(store), stores, HubDocuments())
    app = web.Application()
    app.add_routes(hub.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield hub.replica, f"ws://127.0.0.1:{runner.addresses[0][1]}", stores.add("s1")
    finally:
        hub.stopping.set()
        await runner.cleanup()
        await store.close()


@contextlib.asynccontextmanager
async def node_linked(tmp_path, clock, url: str, token: str, *, stagger: float):
    """Node node-a of s1 with its upstream link running; linked on the LAN with node-0, so
    it offers `stagger` seconds after its link comes up."""
    store = await DocStore.open(tmp_path / "node-a.db")
    replica = Replica(store)
    book = await make_book(store, clock, replica=replica)
    link = UpstreamLink(
        book,
        replica,
        UpstreamConfig(url, token, None, stagger=stagger),
        feed=OrderFeed(replica, store_id=book.store_id),
        linked_peers=lambda: ["node-0"],
        retry_cap=1.0,
    )
    try:
        async with running(link.run()):
            yield book, link
    finally:
        await store.close()


async def hub_has(hub: Replica, guid: str, order_id: str) -> bool:
    return hub.known(guid) and order_id in root_map_contents(await hub.open(guid), "orders")


async def test_an_order_sold_after_the_hub_acknowledged_the_day_is_pushed_live(tmp_path, clock):
    async with (
        hub_on_loopback(tmp_path) as (hub, url, token),
        node_linked(tmp_path, clock, url, token, stagger=0.0) as (book, link),
    ):
        day = book.day_guid(book.business_date())
        first = await book.open_order(CASHIER, channel="counter")
        await until(lambda: hub_has(hub, day, first.id), within=WAIT)  # offered, or live
        await until(lambda: _acknowledged(link), within=WAIT)  # the link's offer is behind it
        session = link.session
        order = await book.open_order(CASHIER, channel="counter")
        await until(lambda: hub_has(hub, day, order.id), within=WAIT)
        await until(lambda: _acknowledged(link), within=WAIT)
        assert link.session is session  # live, not by a reconnect's offer


async def test_an_order_sold_while_the_node_waits_its_turn_to_offer_is_pushed_live(tmp_path, clock):
    async with (
        hub_on_loopback(tmp_path) as (hub, url, token),
        node_linked(tmp_path, clock, url, token, stagger=3600.0) as (book, link),
    ):
        await until(lambda: link.state == "connected", within=WAIT)
        order = await book.open_order(CASHIER, channel="counter")
        await until(lambda: hub_has(hub, book.day_guid(book.business_date()), order.id), WAIT)


async def _acknowledged(link: UpstreamLink) -> bool:
    return not await link.unacknowledged()
