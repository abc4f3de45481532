"""A real hub (`posedge hub` in its own process, TLS on loopback) and nodes' upstream links:
a day sold while the hub was down arrives once, a hub killed mid catch-up and a flapping
link lose nothing, wrong and revoked tokens and another store's documents are refused, and
a price changed at HQ is used by the node's next order. The hub and the nodes are
tests/support/hub.py's; the daemon's own view of its hub link is in test_hub_daemon.py."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal

import aiohttp
from pycrdt import Map

from edge.orders.book import OrderBook
from edge.replication.archive import DayArchive
from edge.replication.upstream import UpstreamLink
from sync.hub.tls import client_context
from sync.links.session import PEER_ORIGIN, envelope
from sync.protocol import update
from tests.support.hub import CASHIER, WAIT, HubProcess, node, same_at_hub, sell
from tests.support.processes import free_port
from tests.support.waiting import until


async def test_a_day_sold_while_the_hub_was_down_arrives_once(tmp_path, clock, hub):
    token = hub.add_store("s1")
    async with node(tmp_path, clock, hub, token) as (book, link):
        friday = book.business_date()
        await sell(book, 20)
        clock.advance(days=1)
        saturday = book.business_date()
        await sell(book, 20)
        await until(lambda: link.state == "offline", within=WAIT)  # the hub is not there
        backlog = await link.backlog()
        assert (backlog.documents, backlog.orders) == (2, 40) and backlog.bytes > 0
        await hub.start()
        await until(lambda: same_at_hub(hub, book, friday), within=WAIT)
        await until(lambda: same_at_hub(hub, book, saturday), within=WAIT)
        await until(lambda: _no_backlog(link), within=WAIT)
        status = await link.status()
        assert status["state"] == "connected" and status["last_sync"] is not None
    _, days = await hub.hq("GET", "/stores/s1/days")
    assert days["days"] == [friday.isoformat(), saturday.isoformat()]
    status, text = await hub.hq("GET", f"/stores/s1/orders?date={friday}&format=csv")
    rows = text.strip().splitlines()
    assert status == 200 and len(rows) == 21 and rows[0].startswith("number,id,")
    assert len({row.split(",")[1] for row in rows[1:]}) == 20  # each order once


async def _no_backlog(link: UpstreamLink) -> bool:
    return (await link.backlog()).orders == 0


async def test_a_hub_killed_in_the_middle_of_a_catch_up_loses_nothing(tmp_path, clock, hub):
    token = hub.add_store("s1")
    async with node(tmp_path, clock, hub, token) as (book, link):
        today = book.business_date()
        await sell(book, 150)
        await hub.start()
        await until(lambda: link.state == "connected", within=WAIT)
        await hub.stop(signal.SIGKILL)  # while the day crosses, or just after
        await sell(book, 10)
        await hub.start()
        await until(lambda: same_at_hub(hub, book, today), within=WAIT)
        await until(lambda: _no_backlog(link), within=WAIT)


class FlappingProxy:
    """Forwards loopback TCP to `port`, cutting every connection every `period` seconds."""

    def __init__(self, port: int, period: float) -> None:
        self.target, self.period = port, period
        self.port = free_port()
        self.writers: set[asyncio.StreamWriter] = set()
        self.cuts = 0

    async def _pipe(self, reader, writer) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def flap(self, times: int) -> None:
        for _ in range(times):
            await asyncio.sleep(self.period)
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()
            self.cuts += 1

    @contextlib.asynccontextmanager
    async def running(self):
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        try:
            yield self
        finally:
            server.close()
            for writer in self.writers:
                writer.transport.abort()
            await server.wait_closed()


async def test_a_link_flapping_every_few_seconds_loses_and_doubles_nothing(tmp_path, clock, hub):
    token = hub.add_store("s1")
    await hub.start()
    proxy = FlappingProxy(hub.port, period=1.5)
    async with proxy.running():
        hub_port, hub.port = hub.port, proxy.port  # the node dials the proxy
        async with node(tmp_path, clock, hub, token) as (book, _link):
            hub.port = hub_port
            today = book.business_date()
            flapping = asyncio.create_task(proxy.flap(4))
            while not flapping.done():
                await sell(book, 2)
                await asyncio.sleep(0.2)
            await flapping
            await until(lambda: same_at_hub(hub, book, today), within=WAIT)
            assert proxy.cuts == 4 and len(await book.list_orders(today)) >= 8


async def test_a_wrong_token_is_refused_and_a_revoked_one_cut_off(tmp_path, clock, hub, caplog):
    token = hub.add_store("s1")
    await hub.start()
    wrong = "ph_" + "x" * 43
    async with node(tmp_path, clock, hub, wrong) as (book, link):
        await sell(book, 1)
        await until(lambda: link.state == "refused", within=WAIT)
        assert "refused the store token" in link.last_error
    _, days = await hub.hq("GET", "/stores/s1/days")
    assert days["days"] == []
    async with node(tmp_path, clock, hub, token, name="node-b") as (book, link):
        await until(lambda: link.state == "connected", within=WAIT)
        hub.stores.revoke("s1")
        await until(lambda: link.state == "refused", within=WAIT)  # cut off, then refused
        await sell(book, 1)
        await asyncio.sleep(1.0)  # an order that would have crossed by now
        there = await hub.orders("s1", book.business_date().isoformat())
        assert len(there) < len(await book.list_orders())


async def test_a_stores_token_reaches_only_its_own_documents(tmp_path, hub):
    token_a = hub.add_store("a")
    hub.add_store("b")
    await hub.start()
    ssl = client_context(hub.directory / "hub.pem")
    headers = {"Authorization": f"Bearer {token_a}", "X-Posedge-Node": "node-1"}
    async with aiohttp.ClientSession() as http:
        for frame in (
            envelope("b/orders/2026-11-20", update(b"\x00\x00")),
            envelope("b/catalog", b"\x00\x01\x00"),  # step 1: asking for b's catalog
        ):
            async with http.ws_connect(
                f"https://127.0.0.1:{hub.port}/sync/store", headers=headers, ssl=ssl
            ) as ws:
                await ws.send_bytes(frame)
                async with asyncio.timeout(WAIT):
                    while (await ws.receive()).type == aiohttp.WSMsgType.BINARY:
                        pass
                assert ws.close_code == 4400
    for store_id in ("a", "b"):
        _, days = await hub.hq("GET", f"/stores/{store_id}/days")
        assert days["days"] == []
    status, _ = await hub.hq("GET", "/stores/b/catalog")
    assert status == 200


async def test_nodes_of_a_store_send_the_hub_each_change_once(tmp_path, clock, hub):
    """Both nodes hold the whole day (they replicate on the LAN); the first by id uploads
    it, the second, a stagger later, finds the hub up to date; live, each pushes only what
    it makes. Every node's backlog empties."""
    token = hub.add_store("s1")
    async with (
        node(tmp_path, clock, hub, token, "node-a", peers=["node-b"], stagger=2.0) as (a, up_a),
        node(tmp_path, clock, hub, token, "node-b", peers=["node-a"], stagger=2.0) as (b, up_b),
    ):
        await sell(a, 15)
        await sell(b, 15)
        for (source, src), dst in (((a, up_a), up_b), ((b, up_b), up_a)):  # as the LAN would
            for guid in (source.catalog_guid, source.day_guid(source.business_date())):
                change = src.replica.loaded(guid).get_update()
                await dst.replica.apply_update(guid, change, f"{PEER_ORIGIN}{source.node.name}")
        await hub.start()
        await until(lambda: same_at_hub(hub, a, a.business_date()), within=WAIT)
        await until(lambda: _no_backlog(up_a), within=WAIT)
        await until(lambda: _no_backlog(up_b), within=WAIT)
        uploaded, echoed = up_a.session.bytes_out, up_b.session.bytes_out
        assert echoed < uploaded / 20, (uploaded, echoed)
        await sell(b, 3)  # live: pushed by the node that made it, once
        await until(lambda: same_at_hub(hub, b, b.business_date()), within=WAIT)
        await until(lambda: _no_backlog(up_b), within=WAIT)
        assert up_a.session.bytes_out - uploaded < 1000  # a's step 1s, not b's orders
        assert len(await hub.orders("s1", a.business_date().isoformat())) == 33


async def test_a_past_day_is_archived_only_once_the_hub_has_acknowledged_it(tmp_path, clock, hub):
    token = hub.add_store("s1")
    async with node(tmp_path, clock, hub, token) as (book, link):
        archive = DayArchive(book, link.replica.store, after_days=3, upstream=link)
        friday = book.business_date()
        await sell(book, 5)
        clock.advance(days=3)
        assert await archive.sweep() == []  # the hub has not seen it
        await hub.start()
        await until(lambda: same_at_hub(hub, book, friday), within=WAIT)
        await until(lambda: _all_acknowledged(link), within=WAIT)
        assert await archive.sweep() == [friday]
        assert link.replica.store.document(book.day_guid(friday)).closed


async def test_a_catch_up_of_several_mebibytes_goes_deflated_and_is_acknowledged(
    tmp_path, clock, hub
):
    """A busy day's catch-up is one update of several MiB: the node deflates it."""
    token = hub.add_store("s1")
    await hub.start()
    async with node(tmp_path, clock, hub, token) as (book, link):
        await until(lambda: _no_backlog(link), within=WAIT)
        text = "".join(f"{n:08d} {secrets.token_hex(16)} no onions\n" for n in range(120_000))
        await link.replica.transact(book.catalog_guid, lambda doc: _write_notes(doc, text))
        link.session.end("reconnect, so the change goes as a catch-up")
        await until(lambda: link.session is not None and link.state == "connected", within=WAIT)
        await until(lambda: _all_acknowledged(link), within=60)
        assert len(text) > 5 * 1024 * 1024
        assert link.session.bytes_out < len(text) * 0.7  # deflated on the way


def _write_notes(doc, text: str) -> None:
    doc.get("notes", type=Map)["text"] = text


async def _all_acknowledged(link: UpstreamLink) -> bool:
    return not await link.unacknowledged()


async def test_a_price_changed_at_the_hub_is_used_by_the_next_order(tmp_path, clock, hub):
    token = hub.add_store("s1")
    await hub.start()
    async with node(tmp_path, clock, hub, token) as (book, _link):
        await until(lambda: _hub_has_catalog(hub), within=WAIT)  # the node's, sent up
        _, body = await hub.hq("GET", "/stores/s1/catalog")
        burger = {**body["catalog"]["items"]["BURGER"], "price": 1399}
        status, changed = await hub.hq(
            "PATCH", "/stores/s1/catalog", json={"items": {"BURGER": burger}}
        )
        assert status == 200, changed
        await until(lambda: _price(book, "BURGER", 1399), within=WAIT)
        order = await book.open_order(CASHIER)
        view, _ = await book.add_line(CASHIER, order.id, sku="BURGER")
        assert view.lines[0].unit_price == 1399
        status, refused = await hub.hq(
            "PATCH", "/stores/s1/catalog", json={"items": {"BAD": {"name": "x", "price": -1}}}
        )
        assert status == 422 and "items.BAD" in refused["detail"]


async def _hub_has_catalog(hub: HubProcess) -> bool:
    _, body = await hub.hq("GET", "/stores/s1/catalog")
    return bool(body["catalog"].get("items"))


async def _price(book: OrderBook, sku: str, price: int) -> bool:
    return (await book.catalog()).items[sku].price == price
