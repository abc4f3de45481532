"""Who drives the store's network printers (edge/devices/ownership.py), decided by one node
from what it sees of its peers: the preferred node while it is there, the first candidate
present once the driver has been away failover_after seconds (at once after a clean stop),
back to the preferred node once it has been linked SETTLE seconds, and nothing until a
starting node knows who drives what."""

from __future__ import annotations

from edge.devices.ownership import SETTLE, DeviceOwnership
from tests.support.peer_stubs import Clock, Peer, gone, linked
from tests.support.store_documents import open_document

FAILOVER = 15.0
PRINTERS = {"kitchen": ("n1", FAILOVER)}


async def three_nodes(document) -> None:
    await document.write({f"node:{n}": {"api": []} for n in ("n1", "n2", "n3")})


def ownership(document, node: str, peers: dict, clock: Clock, changes: list) -> DeviceOwnership:
    return DeviceOwnership(
        document,
        node,
        printers=lambda: PRINTERS,
        peers=lambda: peers,
        changed=lambda: changes.append(node),
        clock=clock,
    )


async def test_the_preferred_node_drives_and_the_others_wait_while_it_is_there(tmp_path):
    async with open_document(tmp_path, node="n1") as document:
        await three_nodes(document)
        clock, changes = Clock(), []
        peers = {"n2": linked(clock.now), "n3": linked(clock.now)}
        n1 = ownership(document, "n1", peers, clock, changes)
        n2 = ownership(document, "n2", {"n1": linked(clock.now)}, clock, changes)
        clock.now += SETTLE
        await n1.step()
        await n2.step()
        assert n1.driving() == {"kitchen"} and n2.driving() == frozenset()
        assert changes == ["n1"]


async def test_the_first_candidate_takes_over_after_failover_after_and_not_before(tmp_path):
    async with open_document(tmp_path, node="n2") as document:
        await three_nodes(document)
        clock, changes = Clock(), []
        peers = {"n1": gone(clock.now), "n3": linked(clock.now - SETTLE)}
        n2 = ownership(document, "n2", peers, clock, changes)
        n3 = ownership(document, "n3", {"n1": gone(clock.now), "n2": linked(0)}, clock, [])
        clock.now += FAILOVER - 1
        assert n2.decide(PRINTERS) == {} and n3.decide(PRINTERS) == {}
        clock.now += 1
        assert n3.decide(PRINTERS) == {}  # n2 comes first by name, and n3 sees it
        await n2.step()
        assert n2.driving() == {"kitchen"}
        assert document.value("driver:kitchen")["node"] == "n2"
        assert document.value("driver:kitchen")["why"] == "unreachable for 15 s"
        assert n2.taken["kitchen"].node == "n1" and n2.taken["kitchen"].ending == "closed"


async def test_a_driver_that_stopped_cleanly_is_taken_over_at_once(tmp_path):
    async with open_document(tmp_path, node="n2") as document:
        await three_nodes(document)
        clock = Clock()
        peers = {"n1": gone(clock.now, "stopped"), "n3": linked(clock.now - SETTLE)}
        n2 = ownership(document, "n2", peers, clock, [])
        await n2.step()
        assert n2.driving() == {"kitchen"}


async def test_the_printer_goes_back_to_its_preferred_node_once_it_has_caught_up(tmp_path):
    async with open_document(tmp_path, node="n2") as document:
        await three_nodes(document)
        await document.write({"driver:kitchen": {"node": "n2"}})
        clock = Clock()
        peers = {"n1": linked(clock.now), "n3": linked(clock.now - SETTLE)}
        n2 = ownership(document, "n2", peers, clock, [])
        assert n2.decide(PRINTERS) == {}  # n1 just linked: it may not hold everything yet
        clock.now += SETTLE
        await n2.step()
        assert document.value("driver:kitchen")["node"] == "n1"
        assert n2.driving() == frozenset()


async def test_a_starting_node_drives_nothing_until_it_knows_who_does(tmp_path):
    async with open_document(tmp_path, node="n1") as document:
        await three_nodes(document)
        clock = Clock()
        peers: dict[str, Peer] = {}  # nobody linked yet
        n1 = ownership(document, "n1", peers, clock, [])
        await n1.step()
        assert n1.driving() == frozenset()
        peers.update({"n2": linked(clock.now), "n3": linked(clock.now)})
        clock.now += SETTLE
        await n1.step()
        assert n1.driving() == {"kitchen"}


async def test_a_node_alone_drives_its_printer_once_failover_after_has_passed(tmp_path):
    async with open_document(tmp_path, node="n1") as document:
        await three_nodes(document)
        clock = Clock()
        n1 = ownership(document, "n1", {}, clock, [])
        clock.now += FAILOVER
        await n1.step()
        assert n1.driving() == {"kitchen"}


async def test_a_node_back_from_a_cut_gives_its_peers_time_to_link_again(tmp_path):
    async with open_document(tmp_path, node="n1") as document:
        await three_nodes(document)
        clock = Clock()
        peers = {"n2": linked(clock.now - SETTLE), "n3": linked(clock.now - SETTLE)}
        n1 = ownership(document, "n1", peers, clock, [])
        await n1.step()
        assert n1.driving() == {"kitchen"}
        peers.update({"n2": gone(clock.now, "silent"), "n3": gone(clock.now, "silent")})
        clock.now += FAILOVER * 2
        await n1.step()  # cut off: it keeps driving its printer
        assert n1.driving() == {"kitchen"}
        await document.write({"driver:kitchen": {"node": "n2"}})  # n2 took it over meanwhile
        peers["n3"] = linked(clock.now)  # the cut heals; the link with n2 is not back yet
        await n1.step()
        assert n1.driving() == frozenset()  # it learnt that n2 drives
        clock.now += FAILOVER - 1
        assert n1.decide(PRINTERS) == {}  # n2 may still drive: it has not linked again yet
        clock.now += 1
        assert n1.decide(PRINTERS) == {"kitchen": "n1"}  # n2 went, after all
