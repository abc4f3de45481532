"""The handover of a printer's tickets to a backup another node drives
(edge/devices/standins.py), on a real store document: the printer's node asks for a stand-in
and for the tickets back, the backup's node stands in while asked and lets go once asked to,
and the printer's node takes its tickets back without waiting when the backup's node has
been away for failover_after, with the takeover that marks what it may have printed."""

from __future__ import annotations

from edge.devices.standins import Standins
from edge.kitchen.print_facts import Takeover
from tests.support.peer_stubs import Clock, Peer
from tests.support.store_documents import open_document

FAILOVER = 15.0


def standins(document, node: str, peers: dict, clock: Clock) -> Standins:
    """`node`'s view; the store printer `bar` is preferred by n2 (its owner)."""
    return Standins(document, node, peers=lambda: peers, owners=lambda: {"bar": "n2"}, clock=clock)


async def test_a_backup_on_another_node_stands_in_and_lets_go_when_asked(tmp_path):
    clock = Clock()
    async with open_document(tmp_path, node="n1") as document:
        n1 = standins(document, "n1", {"n2": Peer(session=object())}, clock)
        n2 = standins(document, "n2", {"n1": Peer(session=object())}, clock)
        assert n2.standing_in({"bar"}) == {} and n1.taken_back("kitchen", FAILOVER) == (True, None)

        await n1.stand_in("kitchen", "bar")  # step 1: kitchen is out of paper
        assert n1.state("kitchen") == ("bar", "standing_in")
        assert n2.standing_in({"bar"}) == {"kitchen": "bar"}  # step 2
        assert n2.standing_in({"bar", "kitchen"}) == {}  # a backup on its own node: no handover
        assert n2.standing_in({"front"}) == {}  # not a printer it drives
        assert n1.taken_back("kitchen", FAILOVER) == (False, None)  # held while n2 has them

        await n1.give_back("kitchen", "bar")  # step 3: paper loaded
        assert n2.standing_in({"bar"}) == {} and n2.returning({"bar"}) == {"kitchen": "bar"}
        assert n1.taken_back("kitchen", FAILOVER) == (False, None)  # until n2 lets go
        await n2.handed_back("kitchen")  # step 4
        assert n2.returning({"bar"}) == {} and n1.state("kitchen") is None
        assert n1.taken_back("kitchen", FAILOVER) == (True, None)  # step 5


async def test_tickets_come_back_without_waiting_from_a_backup_node_away_for_failover_after(
    tmp_path,
):
    clock = Clock()
    async with open_document(tmp_path, node="n1") as document:
        peers = {"n2": Peer(session=object())}
        n1 = standins(document, "n1", peers, clock)
        await n1.stand_in("kitchen", "bar")
        await n1.give_back("kitchen", "bar")
        peers["n2"] = Peer(since=clock.now, ending="silent", heard=clock.now - 4.5)  # cable
        clock.now += FAILOVER - 4.5 - 0.1
        assert n1.taken_back("kitchen", FAILOVER) == (False, None)
        clock.now += 0.2
        back, taken = n1.taken_back("kitchen", FAILOVER)
        assert back and taken == Takeover("n2", "silent", 1000.0)  # marks what n2 may have printed


async def test_the_backup_node_is_the_one_driving_it_or_the_one_it_is_plugged_into(tmp_path):
    clock = Clock()
    async with open_document(tmp_path, node="n1") as document:
        n1 = standins(document, "n1", {}, clock)
        assert n1.backup_node("bar") == "n2"  # the store printer's preferred node
        await document.write({"driver:bar": {"node": "n3", "from": "n2", "why": "it stopped"}})
        assert n1.backup_node("bar") == "n3"
        await document.write({"node:n2": {"api": [], "letter": "B", "printers": ["usb-back"]}})
        assert n1.backup_node("usb-back") == "n2"
        assert n1.backup_node("nowhere") is None
        await n1.stand_in("kitchen", "nowhere")  # a backup no node has: nothing to wait for
        assert n1.taken_back("kitchen", FAILOVER) == (True, None)
