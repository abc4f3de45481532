"""Three real daemons on one LAN: each `python -m edge.cli run` in its own network namespace
on one bridge, made into one store with the CLI (init, join-code, join), finding each other
by real mDNS (no static peers) and linking over TLS. They sell one order together, come
through a partition with conflicting edits and one in which only one side sells, a node
killed in the middle of a burst, and a node that was off while the business day moved on.

Each node's API and peer port listen on its namespace's address; this process reaches the
APIs through the bridge, which has an address of its own (HOST). A node cut off the bridge
(`Namespace.unplug`) is reached from inside its namespace instead. Every wait is bounded
(WAIT) and nothing asserts on speed; where a node idles before a cut, it is only so that
the scenario is the realistic one (a sleep there can make a test pass, never fail).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import subprocess
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from sync.peer_session import QUIET

from . import netns
from .conftest import until
from .test_store_membership import posedge, terminal

WAIT = 120.0  # the most any wait below lasts before the test fails (a bound, not a timing)
HOST = "10.77.0.254"  # this process's address on the bridge
HTTP_PORT, PEER_PORT = 8420, 8421  # the same on every node: each has an address of its own
STORE = "s9"

needs_namespaces = pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))

# A request made inside a namespace (for a node cut off the bridge): argv[1] is
# [method, url, headers, body]; prints [status, body].
INSIDE = """
import json, sys, urllib.error, urllib.request
method, url, headers, body = json.loads(sys.argv[1])
data = None if body is None else json.dumps(body).encode()
request = urllib.request.Request(url, data=data, headers=headers, method=method)
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        print(json.dumps([response.status, json.load(response)]))
except urllib.error.HTTPError as error:
    print(json.dumps([error.code, json.load(error)]))
"""


class Node:
    """One daemon in its namespace: its configuration, its process, its terminal's token."""

    def __init__(self, name: str, letter: str, namespace: netns.Namespace, root: Path) -> None:
        self.name, self.letter, self.namespace = name, letter, namespace
        self.config = root / f"{name}.toml"
        self.state_dir = root / name
        self.log = root / f"{name}.log"
        self.url = f"http://{namespace.address}:{HTTP_PORT}"
        self.process: asyncio.subprocess.Process | None = None
        self.auth: dict[str, str] = {}
        self.unplugged = False

    def configure(self, zone: str) -> None:
        self.config.write_text(f"""
[store]
id = "{STORE}"
timezone = "{zone}"
[node]
name = "{self.name}"
letter = "{self.letter}"
[http]
host = "{self.namespace.address}"
port = {HTTP_PORT}
[peers]
host = "{self.namespace.address}"
port = {PEER_PORT}
mdns = true
static = []
interfaces = ["{self.namespace.interface}"]
[paths]
state_dir = "{self.state_dir}"
""")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def join(self, member: Node) -> None:
        """Join `member`'s store with a code from it, from inside this node's namespace."""
        _, out, _ = await posedge("join-code", "--config", str(member.config))
        code = out.split("join code: ")[1].split()[0]
        process = await self.namespace.spawn(
            *self.namespace.python("-m", "edge.cli", "join", code),
            *("--from", f"{member.namespace.address}:{HTTP_PORT}", "--config", str(self.config)),
            stderr=subprocess.PIPE,
        )
        async with asyncio.timeout(WAIT):
            out, err = await process.communicate()
        assert process.returncode == 0, f"{self.name} could not join: {err.decode()}"
        assert f"node {self.name} joined store {STORE}" in out.decode()

    async def start(self, http: aiohttp.ClientSession) -> None:
        with self.log.open("ab") as log:
            self.process = await self.namespace.spawn(
                *self.namespace.python("-m", "edge.cli", "run", "--config", str(self.config)),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        await until(lambda: self._ready(http), within=WAIT)

    async def _ready(self, http: aiohttp.ClientSession) -> bool:
        assert self.running, f"{self.name} exited: {self.log_tail()}"
        try:
            async with http.get(f"{self.url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def stop(self) -> None:
        """SIGTERM; the daemon must stop cleanly."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            await self.process.wait()
        assert self.process.returncode == 0, f"{self.name} stopped badly: {self.log_tail()}"

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        async with asyncio.timeout(WAIT):
            await self.process.wait()

    def unplug(self) -> None:
        self.namespace.unplug()
        self.unplugged = True

    def plug(self) -> None:
        self.namespace.plug()
        self.unplugged = False

    def log_tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return f"{self.name}: no log"
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text)

    # -- the API

    async def request(
        self, http: aiohttp.ClientSession, method: str, path: str, body: dict | None = None
    ) -> tuple[int, dict]:
        """(status, JSON body) of a request to this node's API, as its terminal."""
        headers = dict(self.auth)
        if self.unplugged:  # not reachable through the bridge: ask from inside
            if body is not None:
                headers["Content-Type"] = "application/json"
            argument = json.dumps([method, self.url + path, headers, body])
            process = await self.namespace.spawn(*self.namespace.python("-c", INSIDE, argument))
            async with asyncio.timeout(WAIT):
                out, _ = await process.communicate()
            assert process.returncode == 0, f"request {method} {path} inside {self.name} failed"
            status, answer = json.loads(out)
            return status, answer
        async with http.request(method, self.url + path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def post(self, http: aiohttp.ClientSession, path: str, body: dict) -> dict:
        status, answer = await self.request(http, "POST", path, body)
        assert status in (200, 201), f"POST {path} on {self.name}: {status} {answer}"
        return answer

    async def order(self, http: aiohttp.ClientSession, order_id: str) -> dict | None:
        status, answer = await self.request(http, "GET", f"/api/v1/orders/{order_id}")
        return answer["order"] if status == 200 else None

    async def order_ids(self, http: aiohttp.ClientSession, day: str) -> set[str]:
        """The ids of every order of business day `day` that this node lists."""
        found: set[str] = set()
        after = ""
        while True:
            query = f"/api/v1/orders?date={day}&limit=500"
            if after:
                query += f"&after={urllib.parse.quote(after)}"
            status, answer = await self.request(http, "GET", query)
            assert status == 200, f"GET {query} on {self.name}: {status} {answer}"
            found |= {summary["id"] for summary in answer["orders"]}
            if not answer["next"]:
                return found
            after = answer["next"]

    async def connected(self, http: aiohttp.ClientSession) -> set[str]:
        status, answer = await self.request(http, "GET", "/api/v1/peers")
        assert status == 200 and answer["member"], f"{self.name}: {status} {answer}"
        return {peer["node"] for peer in answer["peers"] if peer["connected"]}


async def settle(check, what: str, within: float = WAIT):
    """`until(check)`, failing with `what` and the last thing `check` saw (it returns
    (done, seen))."""
    seen: list[object] = [None]

    async def done():
        ok, seen[0] = await check()
        return ok

    try:
        await until(done, within=within)
    except AssertionError:
        pass  # failed below, without until's own message
    else:
        return seen[0]
    pytest.fail(f"{what}: not so within {within} s; last seen: {seen[0]}")


async def linked(http: aiohttp.ClientSession, nodes: list[Node]) -> None:
    """Wait until each of `nodes` shows a live link with each of the others."""

    async def check():
        seen = {node.name: await node.connected(http) for node in nodes}
        ok = all(seen[n.name] >= {m.name for m in nodes if m is not n} for n in nodes)
        return ok, seen

    await settle(check, f"{', '.join(n.name for n in nodes)} linked with each other")


async def cut_off(http: aiohttp.ClientSession, nodes: list[Node], alone: Node) -> None:
    """Wait until `alone` shows no live link, and no other node one with it."""

    async def check():
        seen = {node.name: await node.connected(http) for node in nodes}
        ok = all(
            (seen[n.name] == set()) if n is alone else alone.name not in seen[n.name] for n in nodes
        )
        return ok, seen

    await settle(check, f"{alone.name}'s links seen down on both sides of the cut")


async def converged(
    http: aiohttp.ClientSession, nodes: list[Node], days: set[str], expected: set[str]
) -> dict[str, dict]:
    """Wait until every node lists the same orders on `days`, those being `expected`, and
    serves each of them identically; the orders by id."""

    async def check():
        listed = {node.name: set() for node in nodes}
        for node in nodes:
            for day in sorted(days):
                listed[node.name] |= await node.order_ids(http, day)
        if any(ids != expected for ids in listed.values()):
            missing = {name: sorted(expected - ids) for name, ids in listed.items()}
            extra = {name: sorted(ids - expected) for name, ids in listed.items()}
            return False, {"missing": missing, "unexpected": extra}
        orders = {}
        for order_id in sorted(expected):
            copies = [await node.order(http, order_id) for node in nodes]
            if any(copy != copies[0] for copy in copies):
                return False, {"differs": order_id, "copies": copies}
            orders[order_id] = copies[0]
        return True, orders

    return await settle(check, f"{', '.join(n.name for n in nodes)} converged on {expected}")


async def same_everywhere(http, nodes: list[Node], order_id: str, **wanted) -> dict:
    """Wait until every node serves order `order_id` identically, with `wanted` fields
    (lines=N: that many lines); the order."""
    lines = wanted.pop("lines", None)

    async def check():
        copies = [await node.order(http, order_id) for node in nodes]
        ok = copies[0] is not None and all(copy == copies[0] for copy in copies)
        ok = ok and all(copies[0].get(key) == value for key, value in wanted.items())
        ok = ok and (lines is None or len(copies[0]["lines"]) == lines)
        return ok, copies

    copies = await settle(check, f"order {order_id} the same on every node with {wanted}")
    return copies[0]


@contextlib.asynccontextmanager
async def store_of_three(tmp_path: Path, zone: str = "UTC"):
    """Three linked nodes n1, n2, n3 of one store (n1 made it, with the sample catalog; the
    others joined with codes from it), each holding the catalog; yields (http, nodes).
    Every process and namespace is gone on the way out, whatever happened."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with (
        netns.Network(3, host_address=HOST) as namespaces,
        aiohttp.ClientSession(timeout=timeout) as http,
    ):
        nodes = [
            Node(f"n{index}", letter, namespace, tmp_path)
            for index, (letter, namespace) in enumerate(zip("ABC", namespaces, strict=True), 1)
        ]
        try:
            for node in nodes:
                node.configure(zone)
            n1 = nodes[0]
            _, made, _ = await posedge("init", "--config", str(n1.config))
            assert f"store {STORE} made; this node is n1" in made
            await posedge("catalog", "--sample", "--config", str(n1.config))
            await n1.start(http)
            for node in nodes[1:]:
                await node.join(n1)
                await node.start(http)
            for node in nodes:
                node.auth = await terminal(http, node.config, node.url)
            await linked(http, nodes)
            catalog = await catalog_of(http, n1)
            assert catalog["items"], "n1 has no catalog"

            async def catalogs():
                seen = {node.name: await catalog_of(http, node) for node in nodes}
                return all(c == catalog for c in seen.values()), seen

            await settle(catalogs, "the store's catalog on every node")
            yield http, nodes
            for node in nodes:
                if node.running:
                    await node.stop()
        except BaseException:
            print("\n".join(node.log_tail() for node in nodes))
            raise


async def catalog_of(http, node: Node) -> dict:
    """The catalog `node` serves, its lists sorted: each node lists a catalog's items,
    modifiers and stations in its own order (that of its copy of the CRDT map)."""
    status, catalog = await node.request(http, "GET", "/api/v1/catalog")
    assert status == 200, f"GET /api/v1/catalog on {node.name}: {status} {catalog}"
    for item in catalog["items"]:
        item["modifiers"].sort(key=lambda modifier: modifier["code"])
    for section, key in (("items", "sku"), ("stations", "id"), ("taxes", "id")):
        catalog[section].sort(key=lambda entry: entry[key])
    return catalog


async def open_order(http, node: Node, *skus: str) -> tuple[dict, list[str]]:
    """An order opened on `node` with a line of each of `skus`; (order, line ids)."""
    order = (await node.post(http, "/api/v1/orders", {}))["order"]
    line_ids = []
    for sku in skus:
        answer = await node.post(http, f"/api/v1/orders/{order['id']}/lines", {"sku": sku})
        line_ids.append(answer["line_id"])
        order = answer["order"]
    return order, line_ids


async def pay_balance(http, node: Node, order_id: str, key: str, amount: int = 0) -> int:
    """Pay in cash `amount`, or what `node` sees due on the order; the amount paid."""
    if not amount:
        order = await node.order(http, order_id)
        assert order is not None, f"{node.name} does not have order {order_id}"
        amount = order["totals"]["balance_due"]
    body = {"key": key, "tender": "cash", "amount": amount}
    answer = await node.post(http, f"/api/v1/orders/{order_id}/payments", body)
    assert answer["payment_key"] == key
    return amount


@needs_namespaces
async def test_three_nodes_find_each_other_by_mdns_and_sell_one_order_together(tmp_path):
    async with store_of_three(tmp_path) as (http, (n1, n2, n3)):
        order, lines = await open_order(http, n1, "BURGER", "FRIES")
        path = f"/api/v1/orders/{order['id']}"
        await same_everywhere(http, [n1, n2, n3], order["id"], lines=2)
        lines.append((await n2.post(http, f"{path}/lines", {"sku": "SHAKE"}))["line_id"])
        await same_everywhere(http, [n1, n2, n3], order["id"], lines=3)
        amount = await pay_balance(http, n3, order["id"], "n3-cash-1")

        paid = await same_everywhere(http, [n1, n2, n3], order["id"], status="paid")
        assert [line["id"] for line in paid["lines"]] == lines
        assert [line["sku"] for line in paid["lines"]] == ["BURGER", "FRIES", "SHAKE"]
        assert [(p["key"], p["amount"]) for p in paid["payments"]] == [("n3-cash-1", amount)]
        assert paid["totals"]["paid"] == paid["totals"]["total"] == amount
        assert paid["number"] == order["number"] and paid["number"].startswith("A-")


@needs_namespaces
async def test_a_partition_heals_with_every_sale_and_edit_kept_once(tmp_path):
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, n3 = nodes
        acked_lines: dict[str, set[str]] = {}  # order id -> lines a node acknowledged
        acked_payments: dict[str, dict[str, int]] = {}  # order id -> key -> amount
        days: set[str] = set()

        async def sell(node: Node, *skus: str, pay: bool = True) -> str:
            order, lines = await open_order(http, node, *skus)
            days.add(order["business_date"])
            acked_lines[order["id"]] = set(lines)
            acked_payments[order["id"]] = {}
            if pay:
                key = f"{node.name}-{order['id'][-6:]}"
                acked_payments[order["id"]][key] = await pay_balance(http, node, order["id"], key)
            return order["id"]

        async def add_line(node: Node, order_id: str, sku: str) -> None:
            answer = await node.post(http, f"/api/v1/orders/{order_id}/lines", {"sku": sku})
            acked_lines[order_id].add(answer["line_id"])

        async def pay(node: Node, order_id: str, key: str, amount: int = 0) -> None:
            paid = await pay_balance(http, node, order_id, key, amount)
            acked_payments[order_id][key] = paid

        shared = await sell(n1, "BURGER", "FRIES", "RINGS", pay=False)
        voided = sorted(acked_lines[shared])[0]
        await same_everywhere(http, nodes, shared, lines=3)

        n3.unplug()
        # Conflicting edits of the order all three hold, on both sides of the cut: a line
        # added on each, each side paying what it sees due (with its own key), a line voided
        # on the cut-off side. Made at once, while both sides still think they are linked.
        await add_line(n1, shared, "SHAKE")
        await add_line(n3, shared, "CHICKEN")
        await pay(n1, shared, "n1-shared")
        await pay(n3, shared, "n3-shared")
        await n3.post(http, f"/api/v1/orders/{shared}/lines/{voided}/void", {"reason": "wrong"})
        # New sales on both sides.
        await sell(n1, "BURGER")
        await sell(n2, "VEGGIE", "FRIES")
        await sell(n3, "CHICKEN", "SHAKE")
        await sell(n3, "FRIES", pay=False)

        # Then the links time out, and each side sells on, knowing it is alone.
        await cut_off(http, nodes, n3)
        await sell(n1, "RINGS", "SHAKE")
        await sell(n3, "VEGGIE")
        await add_line(n3, shared, "FRIES")
        await pay(n3, shared, "n3-shared-2", 1000)

        n3.plug()
        await linked(http, nodes)
        orders = await converged(http, nodes, days, set(acked_lines))

        for order_id, order in orders.items():
            keys = [payment["key"] for payment in order["payments"]]
            assert set(keys) == set(acked_payments[order_id]), f"payments lost in {order_id}"
            assert len(keys) == len(set(keys)), f"a payment twice in {order_id}: {keys}"
            amounts = {p["key"]: p["amount"] for p in order["payments"]}
            assert amounts == acked_payments[order_id]
            assert order["totals"]["paid"] == sum(amounts.values())
            assert {line["id"] for line in order["lines"]} == acked_lines[order_id]
            assert len(order["lines"]) == len(acked_lines[order_id])  # no line twice
        lines = {line["id"]: line for line in orders[shared]["lines"]}
        assert [line_id for line_id, line in lines.items() if line["voided"]] == [voided]
        assert orders[shared]["status"] == "paid"  # each side paid in full what it saw
        assert orders[shared]["totals"]["change_due"] > 0


@needs_namespaces
async def test_a_quiet_node_cut_off_while_the_others_sell_catches_up_when_plugged_back(
    tmp_path,
):
    """The other half of a partition: the node cut off sells nothing (a quiet till), so
    everything to converge on was made on the other side."""
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, n3 = nodes
        first, _ = await open_order(http, n1, "BURGER")
        ids, days = {first["id"]}, {first["business_date"]}
        await same_everywhere(http, nodes, first["id"], lines=1)
        # n3 idles before the cut, as a till does between customers: long enough for the
        # nodes to show each other their state once the day went quiet (sync.peer_session).
        await asyncio.sleep(3 * QUIET)

        n3.unplug()
        await cut_off(http, nodes, n3)
        await n2.post(http, f"/api/v1/orders/{first['id']}/lines", {"sku": "FRIES"})
        for node in (n1, n2):
            order, _ = await open_order(http, node, "SHAKE")
            ids.add(order["id"])
            days.add(order["business_date"])

        n3.plug()
        await linked(http, nodes)
        orders = await converged(http, nodes, days, ids)
        assert len(orders[first["id"]]["lines"]) == 2


@needs_namespaces
async def test_a_node_killed_during_a_burst_catches_up_after_its_restart(tmp_path):
    async with store_of_three(tmp_path) as (http, nodes):
        n1, n2, _ = nodes
        ids: set[str] = set()
        days: set[str] = set()
        for index in range(45):
            if index == 15:
                await n2.kill()  # while n1's changes stream to it
            if index == 30:
                await n2.start(http)
            order, _ = await open_order(http, n1, "BURGER", "FRIES")
            if index % 3 == 0:
                await pay_balance(http, n1, order["id"], f"cash-{index}")
            ids.add(order["id"])
            days.add(order["business_date"])
        await linked(http, nodes)
        orders = await converged(http, nodes, days, ids)
        assert sum(order["status"] == "paid" for order in orders.values()) == 15


# UTC−12 and UTC+12: the same instant is one business day later in the second.
DAY_BEFORE, DAY_AFTER = "Etc/GMT+12", "Etc/GMT-12"


@needs_namespaces
async def test_a_node_off_while_the_business_day_moved_on_catches_up_on_both_days(tmp_path):
    """The daemon has no clock to fake (it reads the wall clock; patching it is not allowed
    here), so the business day moves by the store's time zone instead: n1 and n2 are
    restarted with a zone 24 hours ahead while n3 is off, and so is n3 when it comes back.

    Covers: a node that comes back to a business day it never held (made, and sold on,
    while it was off) and to changes of the day before made while it was off, both within
    `peers.days`; order numbers and business dates as they were. Not covered: a rollover
    while the daemons run (the wall clock crossing the rollover hour), the HLC clock moving
    a day, and days older than `peers.days`."""
    async with store_of_three(tmp_path, zone=DAY_BEFORE) as (http, nodes):
        n1, n2, n3 = nodes
        ids: set[str] = set()
        first, _ = await open_order(http, n1, "BURGER")
        before = first["business_date"]
        ids.add(first["id"])
        await same_everywhere(http, nodes, first["id"], lines=1)
        # n3 idles a moment before it is switched off (see the quiet node test above).
        await asyncio.sleep(3 * QUIET)

        await n3.stop()
        while_off, _ = await open_order(http, n1, "FRIES", "SHAKE")  # the same day
        await pay_balance(http, n1, while_off["id"], "cash-while-off")
        await n2.post(http, f"/api/v1/orders/{first['id']}/lines", {"sku": "RINGS"})
        ids.add(while_off["id"])
        for node in (n1, n2):  # the business day moves on
            await node.stop()
            node.configure(DAY_AFTER)
            await node.start(http)
        await linked(http, [n1, n2])
        next_day, _ = await open_order(http, n1, "VEGGIE")
        after = next_day["business_date"]
        assert dt.date.fromisoformat(after) == dt.date.fromisoformat(before) + dt.timedelta(1)
        ids.add(next_day["id"])
        await same_everywhere(http, [n1, n2], next_day["id"], lines=1)

        n3.configure(DAY_AFTER)
        await n3.start(http)
        await linked(http, nodes)
        orders = await converged(http, nodes, {before, after}, ids)
        assert len(orders[first["id"]]["lines"]) == 2
        assert orders[while_off["id"]]["status"] == "paid"
        assert orders[next_day["id"]]["business_date"] == after
