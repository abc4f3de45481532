"""A kitchen screen follows the store, not its node: a KDS page loaded from n1 in a real
Chromium (trusting the store CA, as a kitchen tablet set up by the UI's store CA page does)
goes on with n2 or n3 when n1 is killed or its cable is pulled. A bump pressed while n1 is
gone waits on the screen and reaches the order log through the node the screen reaches
next; tickets fired meanwhile show up; the screen bumps them there. Three real daemons in
network namespaces (tests/support/lan.py); every wait is bounded."""

from __future__ import annotations

import shutil

import pytest

from tests.support import netns
from tests.support.browser import chromium, trusting
from tests.support.kds_screens import open_screen, until_tickets
from tests.support.lan import Node, fire_burger, settle, store_of_three
from tests.support.processes import IN_CI, posedge

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))
needs_certutil = pytest.mark.skipif(
    shutil.which("certutil") is None and not IN_CI,
    reason="certutil is not installed (Debian: apt-get install libnss3-tools)",
)


async def bumped_everywhere(http, nodes: list[Node], order: dict) -> None:
    """Wait until every node in `nodes` has the grill's bump of `order` in its log."""

    async def check():
        seen = {}
        for node in nodes:
            copy = await node.order(http, order["id"])
            events = copy["events"] if copy else []
            seen[node.name] = [e["detail"] for e in events if e["kind"] == "bump"]
        ok = all(any(d.get("station") == "grill" for d in found) for found in seen.values())
        return ok, seen

    await settle(check, f"the bump of order {order['number']} in the log of the nodes left")


@needs_namespaces
@needs_certutil
@pytest.mark.parametrize("how", ["kill", "cable"])
async def test_a_kitchen_screen_goes_on_with_another_node_when_its_own_goes(tmp_path, how):
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, n3 = nodes
        _, out, _ = await posedge("pair", "Grill screen", "--kds", "--config", str(n1.config))
        code = out.split(": ")[1].split()[0]
        home = trusting(tmp_path / "kitchen-tablet", n1.ca_file.read_bytes())
        async with chromium(home=home) as browser:
            screen = await open_screen(browser, f"{n1.url}/kds/grill", code)
            first = await fire_burger(http, n2)
            await until_tickets(screen, [first["number"]])

            if how == "kill":
                await n1.kill()
            else:
                n1.unplug()
            await screen.keyboard.press("b")  # n1 is gone: the bump waits for another node
            second = await fire_burger(http, n3)
            # live again through n2 or n3: the first ticket bumped, the one fired meanwhile shown
            await until_tickets(screen, [second["number"]])
            await bumped_everywhere(http, [n2, n3], first)
            origin = await screen.evaluate("window.kds.nodes.current")
            assert origin in (n2.url, n3.url), f"the screen talks to {origin}"

            await screen.click("#board .ticket")  # a tap on the ticket, then on its BUMP
            await screen.click("#board .ticket.selected .bump-ticket")
            await until_tickets(screen, [])
            await bumped_everywhere(http, [n2, n3], second)
            assert await screen.evaluate("window.kds.outbox.actions.length") == 0
        if how == "cable":
            n1.plug()
