"""Two nodes of a store linked by the peer manager over mutually authenticated TLS on
loopback (a static peer address: mDNS is tested in network namespaces), and strangers
refused: another store's node, a node of no store."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from edge.app import serving_peers
from edge.orders.log import Actor
from edge.replication.peers import PeerManager
from edge.runtime.errors import UnknownOrder
from sync.membership.trust import StoreCredentials, create_store, issue_node_certificate, make_csr
from sync.replica import Replica
from sync.store import DocStore
from tests.support import tasks
from tests.support.books import make_book
from tests.support.processes import free_port
from tests.support.waiting import until

CASHIER = Actor("Counter (t-0001)")


def member(creds: StoreCredentials, node_id: str) -> StoreCredentials:
    """Credentials of another node of `creds`' store, as joining would give them."""
    key, csr = make_csr(node_id)
    cert = issue_node_certificate(creds, node_id, csr)
    return dataclasses.replace(creds, node_id=node_id, node_cert_pem=cert, node_key_pem=key)


@contextlib.asynccontextmanager
async def running(tmp_path, clock, creds: StoreCredentials, letter: str, static=(), port=0):
    store = await DocStore.open(tmp_path / f"{creds.node_id}.db")
    try:
        replica = Replica(store)
        book = await make_book(store, clock, letter=letter, name=creds.node_id, replica=replica)
        manager = PeerManager(
            book,
            replica,
            creds,
            interfaces=None,
            static=list(static),
            days=3,
            use_mdns=False,
        )
        async with (
            serving_peers(manager, "127.0.0.1", port) as server,
            tasks.running(manager.run(server.port)) as task,
        ):
            await until(lambda: manager.bound_port or task.done())
            if task.done():
                task.result()
            yield manager
    finally:
        await store.close()


async def test_members_replicate_over_tls_and_show_as_connected(tmp_path, clock):
    creds_a = create_store("s1", "node-a")
    creds_b = member(creds_a, "node-b")
    async with running(tmp_path, clock, creds_a, "A") as a:
        address = f"127.0.0.1:{a.bound_port}"
        async with running(tmp_path, clock, creds_b, "B", static=[address]) as b:
            order = await a.book.open_order(CASHIER)
            await a.book.add_line(CASHIER, order.id, sku="FRIES")
            await until(lambda: _has_lines(b, order.id, 1))
            await b.book.add_line(CASHIER, order.id, sku="SODA")
            await until(lambda: _has_lines(a, order.id, 2))
            seen_by_a = a.peers["node-b"].to_dict()
            assert seen_by_a["connected"] and seen_by_a["last_sync"] is not None
            assert b.peers["node-a"].to_dict()["connected"]


async def test_two_nodes_listing_each_other_keep_the_one_link_the_first_id_dialled(tmp_path, clock):
    creds_a = create_store("s1", "node-a")
    creds_b = member(creds_a, "node-b")
    port_a, port_b = free_port(), free_port()
    async with (
        running(tmp_path, clock, creds_b, "B", static=[f"127.0.0.1:{port_a}"], port=port_b) as b,
        running(tmp_path, clock, creds_a, "A", static=[f"127.0.0.1:{port_b}"], port=port_a) as a,
    ):
        # b dials first and links; then a's link replaces it, and b waits
        await until(lambda: _dialled_by(a, "node-b") == _dialled_by(b, "node-a") == "node-a")
        sessions = a.peers["node-b"].session, b.peers["node-a"].session
        order = await a.book.open_order(CASHIER)
        await a.book.add_line(CASHIER, order.id, sku="FRIES")
        await until(lambda: _has_lines(b, order.id, 1))
        await asyncio.sleep(1.5)  # b's dialler would have come back by now
        assert (a.peers["node-b"].session, b.peers["node-a"].session) == sessions
        assert sorted(a.peers) == ["node-b"] and sorted(b.peers) == ["node-a"]


def _dialled_by(node: PeerManager, peer: str) -> str | None:
    return node.peers[peer].to_dict()["dialled_by"] if peer in node.peers else None


async def _has_lines(node: PeerManager, order_id: str, count: int) -> bool:
    try:
        return len((await node.book.get(order_id)).lines) == count
    except UnknownOrder:
        return False


@pytest.mark.parametrize("stranger", ["another store", "a self-made CA"])
async def test_a_stranger_never_links_and_sees_nothing(tmp_path, clock, caplog, stranger):
    creds_a = create_store("s1", "node-a")
    other = create_store("s2" if stranger == "another store" else "s1", "node-x")
    async with running(tmp_path, clock, creds_a, "A") as a:
        order = await a.book.open_order(CASHIER)
        address = f"127.0.0.1:{a.bound_port}"
        async with running(tmp_path, clock, other, "X", static=[address]) as x:
            await until(lambda: x.peers and next(iter(x.peers.values())).last_error)
            await asyncio.sleep(0.3)
            assert not a.peers or not any(p.to_dict()["connected"] for p in a.peers.values())
            with pytest.raises(UnknownOrder):
                await x.book.get(order.id)
    assert "cannot link with peer" in caplog.text


async def test_a_removed_node_is_cut_off_by_every_node_and_cannot_link_again(
    tmp_path, clock, caplog
):
    creds_a = create_store("s1", "node-a")
    creds_b, creds_c = member(creds_a, "node-b"), member(creds_a, "node-c")
    async with running(tmp_path, clock, creds_a, "A") as a:
        address_a = f"127.0.0.1:{a.bound_port}"
        async with running(tmp_path, clock, creds_b, "B", static=[address_a]) as b:
            address_b = f"127.0.0.1:{b.bound_port}"
            async with running(tmp_path, clock, creds_c, "C", static=[address_a, address_b]) as c:
                await until(lambda: _connected(a, "node-c") and _connected(b, "node-c"))
                removed = await a.remove("node-c", by="Manager (t-1)", reason="stolen till")
                assert removed["reason"] == "stolen till"
                # a ends its link at once; b learns it from the members document
                await until(lambda: not _connected(a, "node-c") and not _connected(b, "node-c"))
                order = await a.book.open_order(CASHIER)
                await until(lambda: _has_lines(b, order.id, 0))
                await asyncio.sleep(1.0)  # c keeps dialling: it is refused every time
                assert not _connected(a, "node-c") and not _connected(b, "node-c")
                with pytest.raises(UnknownOrder):
                    await c.book.get(order.id)
                assert "node-c" in b.removed()
    assert "was removed from the store" in caplog.text


def _connected(node: PeerManager, peer: str) -> bool:
    status = node.peers.get(peer)
    return status is not None and status.to_dict()["connected"]
