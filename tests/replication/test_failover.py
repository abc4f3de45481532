"""The kitchen's network printer moves to a live node: three real daemons in network
namespaces, a network printer emulator on the bridge that every node reaches, terminals
firing orders at every node. The node driving the printer is killed, stopped, or cut off
(its cable pulled) in the middle of a rush: another node takes over, every fire's ticket
is printed, none twice without a REPRINT mark; when the node comes back the printer
returns to it, and nothing is printed twice. A driver cut off from the other nodes but not
from the printer keeps printing its side's tickets while another node prints the others'
(docs/failover.md, "A partition"); after the cut heals, the printer settles on one node.
Every wait is bounded (tests/support/lan.py, WAIT)."""

from __future__ import annotations

import itertools

import pytest

from drivers.emulators.network_printer import NetworkPrinterEmulator
from tests.support import netns
from tests.support.lan import HOST, Node, fire_burger, printed_copies, settle, store_of_three

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

FAILOVER_AFTER = 4  # seconds: the printer's failover_after (the default is 15)
FIRES = 200  # fires in a rush, across the three nodes


def kitchen_printer(port: int) -> str:
    return f"""
[devices.kitchen]
kind = "printer"
url = "tcp://{HOST}:{port}"
failover_after = {FAILOVER_AFTER}

[stations]
grill = "kitchen"
"""


async def driver(http, node: Node) -> str | None:
    """The node `node` says drives the kitchen printer."""
    status, answer = await node.request(http, "GET", "/api/v1/devices")
    assert status == 200, answer
    return next(d for d in answer["devices"] if d["id"] == "kitchen")["driven_by"]


async def rush(http, nodes: list[Node], notes: list[str], halfway) -> None:
    """Fire `notes` round-robin at the live `nodes`, calling `halfway()` half-way (it may
    take a node away, which is then left out)."""
    live = list(nodes)
    for n, note in enumerate(notes):
        if n == len(notes) // 2:
            gone = await halfway()
            live = [node for node in live if node is not gone]
        await fire_burger(http, live[n % len(live)], note)


async def every_ticket_printed(http, printer, notes: list[str]) -> None:
    async def check():
        missing = [note for note in notes if not printed_copies(printer, note)]
        return not missing, missing

    await settle(check, "every fire's ticket on paper")


def duplicates_are_marked(printer, notes: list[str]) -> int:
    """The number of REPRINT copies; fails on a ticket printed twice without one."""
    reprints = 0
    for note in notes:
        found = printed_copies(printer, note)
        marked = [text for text in found if "REPRINT" in text]
        assert len(found) - len(marked) <= 1, f"{note} printed {len(found)} times unmarked"
        reprints += len(marked)
    return reprints


@needs_namespaces
@pytest.mark.parametrize("how", ["kill", "stop", "cable"])
async def test_the_kitchen_printer_moves_to_a_live_node_when_its_node_goes(tmp_path, how):
    async with NetworkPrinterEmulator(host="0.0.0.0") as printer:  # reached at HOST
        files = {"n1": kitchen_printer(printer.port)}
        async with store_of_three(tmp_path, files=files) as (http, nodes):
            n1, n2, n3 = nodes

            async def everyone_says_n1():
                seen = [await driver(http, node) for node in nodes]
                return seen == ["n1"] * 3, seen

            await settle(everyone_says_n1, "n1 drives the kitchen printer it had in its file")
            notes = [f"{how}-{n:03d}" for n in range(FIRES)]

            async def take_n1_away() -> Node:
                if how == "cable":  # cut off the others and the printer alike
                    n1.unplug()
                else:
                    await (n1.kill() if how == "kill" else n1.stop())
                return n1

            await rush(http, nodes, notes, take_n1_away)
            # the last fire n1 took before it went may be in its log alone until it is back
            half = len(notes) // 2
            kept_by_n1 = {notes[i] for i in range(half - 3, half) if i % len(nodes) == 0}
            await every_ticket_printed(http, printer, [n for n in notes if n not in kept_by_n1])
            reprints = duplicates_are_marked(printer, notes)
            if how != "cable":  # n1 closed its links as it went: only what it had sent
                assert reprints <= 1

            async def taken_over():
                seen = [await driver(http, node) for node in (n2, n3)]
                return seen[0] == seen[1] == "n2", seen

            await settle(taken_over, "n2 (first by name) drives the printer now")
            why = {"kill": "unreachable for", "cable": "unreachable for", "stop": "it stopped"}
            assert f"printer kitchen: n2 takes over from n1, {why[how]}" in n2.log_tail(400)
            async with http.get(f"{n3.url}/metrics", headers=n3.auth, ssl=n3.tls) as answer:
                metrics = await answer.text()
            assert 'posedge_printer_driver{node="n2",printer="kitchen"} 1.0' in metrics

            if how == "cable":  # back: the printer returns to it, nothing printed twice
                n1.plug()
            else:
                await n1.start(http)
            await settle(everyone_says_n1, "n1 drives it again")
            after = [f"{how}-back-{n:02d}" for n in range(10)]
            for note, node in zip(after, itertools.cycle(nodes), strict=False):
                await fire_burger(http, node, note)
            await every_ticket_printed(http, printer, notes + after)
            # back, nothing is printed again but what n1 alone may have had in hand
            assert duplicates_are_marked(printer, notes + after) - reprints <= len(kept_by_n1)


def partition(alone: Node, others: list[Node], *, cut: bool) -> None:
    """Cut `alone` off `others` (both ways) or heal the cut; the bridge's host (and so the
    printer) stays reachable from every node."""
    for other in others:
        for here, there in ((alone, other), (other, alone)):
            if cut:
                here.namespace.block(there.namespace.address)
            else:
                here.namespace.unblock(there.namespace.address)


@needs_namespaces
async def test_a_driver_cut_off_from_the_others_keeps_printing_and_every_duplicate_is_marked(
    tmp_path,
):
    async with NetworkPrinterEmulator(host="0.0.0.0") as printer:
        files = {"n1": kitchen_printer(printer.port)}
        async with store_of_three(tmp_path, files=files) as (http, nodes):
            n1, n2, n3 = nodes

            async def drivers_are(wanted: list[str | None]):
                seen = [await driver(http, node) for node in nodes]
                return seen == wanted, seen

            await settle(lambda: drivers_are(["n1"] * 3), "n1 drives the kitchen printer")
            before = [f"before-{n:02d}" for n in range(6)]
            for note, node in zip(before, itertools.cycle(nodes), strict=False):
                await fire_burger(http, node, note)
            partition(n1, [n2, n3], cut=True)
            try:
                await settle(lambda: drivers_are(["n1", "n2", "n2"]), "both sides drive it")
                during = [f"during-{n:02d}" for n in range(9)]
                for note, node in zip(during, itertools.cycle(nodes), strict=False):
                    await fire_burger(http, node, note)  # n1's side and the others' alike
                await every_ticket_printed(http, printer, before + during)
            finally:
                partition(n1, [n2, n3], cut=False)
            await settle(lambda: drivers_are(["n1"] * 3), "healed: the printer back with n1")
            after = [f"after-{n:02d}" for n in range(6)]
            for note, node in zip(after, itertools.cycle(nodes), strict=False):
                await fire_burger(http, node, note)
            await every_ticket_printed(http, printer, before + during + after)
            duplicates_are_marked(printer, before + during + after)
