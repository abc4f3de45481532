"""A printer's backup on another node: the kitchen printer, driven by n1, has as its backup
the bar printer, which n2 drives. Three real daemons in network namespaces, two network
printer emulators on the bridge, orders fired at every node. The kitchen printer runs out
of paper in the middle of the service: its tickets print on the bar printer, headed FOR
kitchen; paper loaded, they come back to it. Every ticket is printed, none twice without a
REPRINT mark (docs/failover.md, "A backup on another node"). Every wait is bounded
(tests/support/lan.py, WAIT)."""

from __future__ import annotations

import itertools

import pytest

from drivers.emulators.network_printer import NetworkPrinterEmulator
from tests.support import netns
from tests.support.lan import HOST, Node, fire_burger, printed_copies, settle, store_of_three

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

FAILOVER_AFTER = 3  # seconds: the kitchen printer's failover_after
STATIONS = '[stations]\ngrill = "kitchen"\n'


def printer(name: str, port: int, extra: str = "") -> str:
    return f'[devices.{name}]\nkind = "printer"\nurl = "tcp://{HOST}:{port}"\n{extra}\n'


async def devices_say(http, nodes: list[Node], wanted: dict) -> None:
    """Wait until every node's /api/v1/devices shows `wanted` (printer -> {field: value})."""

    async def check():
        seen = {}
        for node in nodes:
            status, answer = await node.request(http, "GET", "/api/v1/devices")
            assert status == 200, answer
            shown = {d["id"]: d for d in answer["devices"]}
            seen[node.name] = {
                p: {k: shown.get(p, {}).get(k) for k in fields} for p, fields in wanted.items()
            }
        return all(s == wanted for s in seen.values()), seen

    await settle(check, f"every node shows {wanted}")


@needs_namespaces
async def test_a_printers_tickets_go_to_its_backup_on_another_node_and_come_back(tmp_path):
    async with (
        NetworkPrinterEmulator(host="0.0.0.0") as kitchen,
        NetworkPrinterEmulator(host="0.0.0.0") as bar,
    ):
        files = {"n2": printer("bar", bar.port)}  # the bar printer: n2 prefers it
        async with store_of_three(tmp_path, files=files) as (http, nodes):
            n1, _, n3 = nodes
            backup = f'backup = "bar"\nfailover_after = {FAILOVER_AFTER}'
            n1.configure("UTC", extra=printer("kitchen", kitchen.port, backup) + STATIONS)
            n1.reload()  # now that the store knows the bar printer, the kitchen may name it
            wanted = {
                "kitchen": {"driven_by": "n1", "backup": "bar"},
                "bar": {"driven_by": "n2", "backup": None},
            }
            await devices_say(http, nodes, wanted)
            turns = itertools.cycle(nodes)
            before = [f"before-{n:02d}" for n in range(6)]
            for note in before:
                await fire_burger(http, next(turns), note)
            await every_ticket(http, kitchen, bar, before)
            assert all(
                printed_copies(kitchen, note) for note in before
            )  # the kitchen prints its own

            kitchen.paper_out()
            out = [f"out-{n:02d}" for n in range(12)]
            for note in out:
                await fire_burger(http, next(turns), note)
            await every_ticket(http, kitchen, bar, out)
            on_bar = [note for note in out if printed_copies(bar, note)]
            assert on_bar, "no ticket printed on the bar printer while the kitchen had no paper"
            for note in on_bar:
                assert all("FOR Kitchen" in text for text in printed_copies(bar, note)), note

            kitchen.paper_out(False)
            back = [f"back-{n:02d}" for n in range(6)]
            for note in back:
                await fire_burger(http, next(turns), note)
            await every_ticket(http, kitchen, bar, back)

            async def kitchen_prints_again():
                note = f"after-{len(kitchen.papers)}"
                await fire_burger(http, n3, note)
                await every_ticket(http, kitchen, bar, [note])
                return bool(printed_copies(kitchen, note)), note

            await settle(kitchen_prints_again, "the kitchen's tickets back on the kitchen printer")
            await devices_say(http, nodes, wanted)
            for note in before + out + back:
                found = printed_copies(kitchen, note) + printed_copies(bar, note)
                unmarked = [text for text in found if "REPRINT" not in text]
                assert len(unmarked) <= 1, f"{note} printed {len(found)} times: {found}"


async def every_ticket(http, kitchen, bar, notes: list[str]) -> None:
    async def check():
        missing = [
            note for note in notes if not printed_copies(kitchen, note) + printed_copies(bar, note)
        ]
        return not missing, missing

    await settle(check, "every fire's ticket on paper")
