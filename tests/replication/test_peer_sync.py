"""Two nodes of a store replicating over a real WebSocket link on loopback: live changes,
a partition with conflicting edits, reconnects that ship only what changed, and peers that
send what a node must refuse."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import aiohttp
import pytest
from aiohttp import web
from pycrdt import Doc, Map

from edge.orders.documents import store_documents
from edge.orders.log import Actor
from edge.runtime.errors import UnknownOrder
from sync.links.peer_link import PATH, peer_routes, run_link
from sync.links.session import QUIET, PeerSession, envelope, open_envelope
from sync.protocol import MAX_FRAME_BYTES, ProtocolError, SyncStep, decode, update
from sync.replica import Replica
from sync.store import DocStore
from tests.support.books import make_book
from tests.support.waiting import until

WAIT = 10.0
CASHIER = Actor("Counter (t-0001)")


class Node:
    def __init__(self, name: str, store: DocStore, replica: Replica, book) -> None:
        self.name, self.store, self.replica, self.book = name, store, replica, book
        self.sessions: list[PeerSession] = []
        self.updates_from: list[str] = []  # the peer of every live update received

    def session(self, peer: str) -> PeerSession:
        accept = store_documents("s1")
        session = PeerSession(
            self.replica,
            link=peer,
            offered=lambda: [d.guid for d in self.store.documents() if accept(d.guid)],
            accept=accept,
        )
        self.sessions.append(session)
        receive = session.receive

        async def receive_and_note(data: bytes) -> None:
            with contextlib.suppress(ProtocolError):  # the session refuses it
                message = decode(open_envelope(data)[1])
                if message is not None and message.step == SyncStep.UPDATE:
                    self.updates_from.append(peer)
            await receive(data)

        session.receive = receive_and_note
        return session


@contextlib.asynccontextmanager
async def nodes_of_store(tmp_path, clock, letters: str):
    async with contextlib.AsyncExitStack() as stack:
        nodes = []
        for letter in letters:
            name = f"node-{letter.lower()}"
            store = await DocStore.open(tmp_path / f"{name}.db")
            stack.push_async_callback(store.close)
            replica = Replica(store)
            book = await make_book(store, clock, letter=letter, name=name, replica=replica)
            nodes.append(Node(name, store, replica, book))
        yield nodes


@pytest.fixture
async def pair_of_nodes(tmp_path, clock):
    async with nodes_of_store(tmp_path, clock, "AB") as nodes:
        yield nodes


@pytest.fixture
async def three_nodes(tmp_path, clock):
    async with nodes_of_store(tmp_path, clock, "ABC") as nodes:
        yield nodes


@contextlib.asynccontextmanager
async def serving(node: Node):
    """`node` accepting peers on 127.0.0.1 (peers name themselves in a header: tests only)."""
    stopping = asyncio.Event()
    app = web.Application()
    app.add_routes(peer_routes(node.session, lambda r: r.headers["X-Peer"], stopping))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{PATH}"
    finally:
        stopping.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def linked(a: Node, b: Node):
    """`b` connected to `a` until the block ends; yields b's session task."""
    async with serving(a) as url, aiohttp.ClientSession() as http:
        stopping = asyncio.Event()
        task = asyncio.create_task(
            run_link(
                http,
                url,
                b.session,
                lambda _ssl: a.name,  # plain WebSocket here; TLS names the peer in a node
                stopping,
                headers={"X-Peer": b.name},
            )
        )
        try:
            yield task
        finally:
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, WAIT)


async def view_on(node: Node, order_id: str):
    try:
        return await node.book.get(order_id)
    except Exception:
        return None


async def test_an_order_opened_on_one_node_and_paid_on_the_other_is_the_same_on_both(
    pair_of_nodes,
):
    a, b = pair_of_nodes
    async with linked(a, b):
        order = await a.book.open_order(CASHIER, channel="dine_in", table="T1")
        await a.book.add_line(CASHIER, order.id, sku="BURGER", qty=2)
        seen = await until(lambda: _with_lines(b, order.id, 1))
        await b.book.add_payment(
            CASHIER, order.id, key="card-1", tender="card", amount=seen.totals.balance_due
        )
        paid = await until(lambda: _paid(a, order.id))
        assert paid.status.label == "paid"
    assert (await b.book.get(order.id)).totals == paid.totals


async def _with_lines(node: Node, order_id: str, count: int):
    view = await view_on(node, order_id)
    return view if view is not None and len(view.lines) >= count else None


async def _paid(node: Node, order_id: str):
    view = await view_on(node, order_id)
    return view if view is not None and view.totals.balance_due == 0 and view.payments else None


async def test_a_partition_with_conflicting_edits_converges_with_nothing_lost_or_doubled(
    pair_of_nodes,
):
    a, b = pair_of_nodes
    async with linked(a, b):
        order = await a.book.open_order(CASHIER)
        await until(lambda: view_on(b, order.id))
    # Partitioned: both sell, and both change the same order.
    await a.book.add_line(CASHIER, order.id, sku="FRIES")
    await b.book.add_line(CASHIER, order.id, sku="SODA")
    await b.book.add_payment(CASHIER, order.id, key="cash-b", tender="cash", amount=500)
    await a.book.add_payment(CASHIER, order.id, key="cash-a", tender="cash", amount=300)
    only_b = await b.book.open_order(CASHIER)
    async with linked(a, b):
        await until(lambda: _with_lines(a, order.id, 2))
        await until(lambda: _with_lines(b, order.id, 2))
        await until(lambda: view_on(a, only_b.id))
        on_a, on_b = await a.book.get(order.id), await b.book.get(order.id)
    assert on_a.to_dict() == on_b.to_dict()
    assert sorted(line.sku for line in on_a.lines) == ["FRIES", "SODA"]
    assert sorted(p.key for p in on_a.payments) == ["cash-a", "cash-b"]
    assert on_a.totals.paid == 800


async def test_a_change_crosses_each_link_once_and_reaches_a_node_two_links_away(three_nodes):
    a, b, c = three_nodes
    async with linked(b, a), linked(b, c):  # a chain: a and c have no link
        order = await a.book.open_order(CASHIER)
        await a.book.add_line(CASHIER, order.id, sku="FRIES")
        await until(lambda: _with_lines(c, order.id, 1))  # through b, once a went quiet
        async with linked(a, c):  # now a triangle
            await asyncio.sleep(QUIET + 0.5)  # every side has shown its state
            for node in three_nodes:
                node.updates_from.clear()
            await a.book.add_line(CASHIER, order.id, sku="SODA")
            await until(lambda: _with_lines(b, order.id, 2))
            await until(lambda: _with_lines(c, order.id, 2))
            await asyncio.sleep(QUIET + 0.5)  # b would have passed it on by now if it relayed
    assert (a.updates_from, b.updates_from, c.updates_from) == ([], ["node-a"], ["node-a"])


async def test_a_reconnect_ships_only_what_changed(pair_of_nodes):
    a, b = pair_of_nodes
    async with linked(a, b):
        for _ in range(5):
            order = await a.book.open_order(CASHIER)
            await a.book.add_line(CASHIER, order.id, sku="BURGER")
        await until(lambda: _with_lines(b, order.id, 1))
        await asyncio.sleep(QUIET + 0.5)  # both sides show their state once it is quiet
    async with linked(a, b):
        await asyncio.sleep(0.3)
    quiet_a, quiet_b = a.sessions[-1], b.sessions[-1]
    assert quiet_a.frames_out + quiet_b.frames_out == 0  # nothing changed: nothing to say
    async with linked(a, b):
        await b.book.add_line(CASHIER, order.id, sku="FRIES")
        await until(lambda: _with_lines(a, order.id, 2))


async def test_a_peer_sending_garbage_or_another_stores_document_is_cut_off(pair_of_nodes, caplog):
    a, _ = pair_of_nodes
    before = a.store.last_seq
    async with serving(a) as url, aiohttp.ClientSession() as http:
        for frame in (
            b"\x05garbage",
            envelope("s1/catalog", update(b"\x01\x02broken")),
            envelope("other-store/orders/2026-11-20", update(b"\x00\x00")),
        ):
            async with http.ws_connect(url, headers={"X-Peer": "node-x"}) as ws:
                await ws.send_bytes(frame)
                async with asyncio.timeout(WAIT):
                    while (await ws.receive()).type == aiohttp.WSMsgType.BINARY:
                        pass  # the node's own step 1s, before it reads the bad frame
                assert ws.close_code == 4400
    assert a.store.last_seq == before
    assert "link with peer node-x closed" in caplog.text
    assert "not a document of this store" in caplog.text


async def test_changes_to_a_day_closed_here_are_left_out_and_the_link_carries_on(
    pair_of_nodes, caplog
):
    a, b = pair_of_nodes
    async with linked(a, b):
        order = await a.book.open_order(CASHIER)
        await a.book.add_line(CASHIER, order.id, sku="SODA")
        view = await a.book.get(order.id)
        await a.book.add_payment(
            CASHIER, order.id, key="c", tender="cash", amount=view.totals.balance_due
        )
        await a.book.close(CASHIER, order.id)
        await until(lambda: _paid(b, order.id))
    await a.book.close_business_day(a.book.business_date())
    async with linked(a, b):
        late = await b.book.open_order(CASHIER)  # b still takes orders on that day
        await b.book.import_catalog(
            {"items": {"TEA": {"name": "Tea", "price": 300, "tax": "food"}}}
        )
        await until(lambda: _has_tea(a))
        assert "closed here" in caplog.text
        with pytest.raises(UnknownOrder):
            await a.book.get(late.id)


async def _has_tea(node: Node) -> bool:
    return "TEA" in (await node.book.catalog()).items


async def test_an_oversized_frame_closes_the_link_and_stores_nothing(pair_of_nodes):
    a, _ = pair_of_nodes
    before = a.store.last_seq
    async with serving(a) as url, aiohttp.ClientSession() as http:
        async with http.ws_connect(url, headers={"X-Peer": "node-x"}) as ws:
            try:
                await ws.send_bytes(
                    envelope("s1/catalog", update(b"\x00" * (MAX_FRAME_BYTES + 1024)))
                )
            except ConnectionError:
                pass  # the node closed the link while the frame was still going out
            async with asyncio.timeout(WAIT):
                while (await ws.receive()).type == aiohttp.WSMsgType.BINARY:
                    pass
            too_big, cut = aiohttp.WSCloseCode.MESSAGE_TOO_BIG, aiohttp.WSCloseCode.ABNORMAL_CLOSURE
            assert ws.closed and ws.close_code in (too_big, cut)
    assert a.store.last_seq == before


def write_blob(doc: Doc, text: str) -> None:
    doc.get("notes", type=Map)["blob"] = text


def read_blob(node: Node) -> str | None:
    doc = node.replica.loaded(node.book.catalog_guid)
    return None if doc is None else doc.get("notes", type=Map).get("blob")


async def test_a_catch_up_of_several_mebibytes_crosses_the_link(pair_of_nodes):
    """A busy day's catch-up is one update of several MiB (7 MiB for 5,000 orders)."""
    a, b = pair_of_nodes
    blob = secrets.token_hex(3 * 1024 * 1024)
    await a.replica.transact(a.book.catalog_guid, lambda doc: write_blob(doc, blob))
    async with linked(a, b):
        await until(lambda: read_blob(b) == blob, within=60)


async def test_a_node_that_changed_nothing_while_apart_asks_for_what_it_missed(pair_of_nodes):
    a, b = pair_of_nodes
    async with linked(a, b):
        order = await a.book.open_order(CASHIER)
        await until(lambda: view_on(b, order.id))
        await asyncio.sleep(QUIET + 0.5)  # both sides record their progress
    # Apart: only a writes. b, idle, has nothing new to offer when they link again.
    await a.book.add_line(CASHIER, order.id, sku="FRIES")
    other = await a.book.open_order(CASHIER)
    async with linked(a, b):
        await until(lambda: _with_lines(b, order.id, 1))
        await until(lambda: view_on(b, other.id))


async def test_a_day_only_the_peer_holds_reaches_a_node_that_never_had_it(pair_of_nodes, clock):
    a, b = pair_of_nodes
    async with linked(a, b):
        await asyncio.sleep(QUIET + 0.5)
    clock.advance(days=1)  # a new business day, which only a writes to while apart
    order = await a.book.open_order(CASHIER)
    async with linked(a, b):
        await until(lambda: view_on(b, order.id))
