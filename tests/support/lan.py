"""Three real daemons on one LAN for tests/replication/test_lan.py: each `python -m
edge.cli.main run` in its own network namespace on one bridge (tests/support/netns.py), made
into one store with the CLI, and what a test asks of them through their APIs.

Each node's API and peer port listen on its namespace's address; the test process reaches the
APIs through the bridge, which has an address of its own (HOST), over HTTPS trusting the
store CA alone, as a terminal does. A node cut off the bridge (`Node.unplug`) is reached from
inside its namespace instead. Every wait is bounded (WAIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import ssl
import subprocess
import urllib.parse
from pathlib import Path

import aiohttp
import pytest

from tests.support import netns
from tests.support.processes import posedge, terminal
from tests.support.waiting import until

WAIT = 120.0  # the most any wait below lasts before the test fails (a bound, not a timing)
HOST = "10.77.0.254"  # this process's address on the bridge
HTTP_PORT, PEER_PORT = 8420, 8421  # the same on every node: each has an address of its own
STORE = "s9"

# A request made inside a namespace (for a node cut off the bridge): argv[1] is
# [method, url, headers, body, CA file]; prints [status, body].
INSIDE = """
import json, ssl, sys, urllib.error, urllib.request
method, url, headers, body, ca = json.loads(sys.argv[1])
data = None if body is None else json.dumps(body).encode()
request = urllib.request.Request(url, data=data, headers=headers, method=method)
tls = ssl.create_default_context(cafile=ca)
try:
    with urllib.request.urlopen(request, timeout=30, context=tls) as response:
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
        self.url = f"https://{namespace.address}:{HTTP_PORT}"
        self.process: asyncio.subprocess.Process | None = None
        self.auth: dict[str, str] = {}
        self.unplugged = False

    def configure(
        self, zone: str, *, host: str | None = None, http: str = "", extra: str = ""
    ) -> None:
        """Write the node's TOML: store s9 in time zone `zone`, mDNS on its interface only,
        the API on `host` (default: the namespace's address), `http` (TOML lines) among its
        http.* settings, and `extra` (TOML tables) at the end."""
        self.config.write_text(f"""
[store]
id = "{STORE}"
timezone = "{zone}"
[node]
name = "{self.name}"
letter = "{self.letter}"
[http]
host = "{host or self.namespace.address}"
port = {HTTP_PORT}
{http}
[peers]
host = "{self.namespace.address}"
port = {PEER_PORT}
mdns = true
static = []
interfaces = ["{self.namespace.interface}"]
[paths]
state_dir = "{self.state_dir}"
{extra}
""")

    @property
    def ca_file(self) -> Path:
        """The store CA, as this node holds it once it is a member."""
        return self.state_dir / "trust" / "ca.pem"

    @functools.cached_property
    def tls(self) -> ssl.SSLContext:
        """What a terminal of the store trusts: the store CA alone, host names checked (one
        context, so that the client session keeps its connections to the node)."""
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def running(self) -> bool:
        """Whether the daemon was started and has not exited."""
        return self.process is not None and self.process.returncode is None

    async def join(self, member: Node) -> None:
        """Join `member`'s store with a code from it, from inside this node's namespace."""
        _, out, _ = await posedge("join-code", "--config", str(member.config))
        code = out.split("join code: ")[1].split()[0]
        process = await self.namespace.spawn(
            *self.namespace.python("-m", "edge.cli.main", "join", code),
            *("--from", f"{member.namespace.address}:{HTTP_PORT}", "--config", str(self.config)),
            stderr=subprocess.PIPE,
        )
        async with asyncio.timeout(WAIT):
            out, err = await process.communicate()
        assert process.returncode == 0, f"{self.name} could not join: {err.decode()}"
        assert f"node {self.name} joined store {STORE}" in out.decode()

    async def start(self, http: aiohttp.ClientSession) -> None:
        """Start the daemon in its namespace, logging to its log, and wait until it is ready."""
        with self.log.open("ab") as log:
            self.process = await self.namespace.spawn(
                *self.namespace.python("-m", "edge.cli.main", "run", "--config", str(self.config)),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        await until(lambda: self._ready(http), within=WAIT)

    async def _ready(self, http: aiohttp.ClientSession) -> bool:
        assert self.running, f"{self.name} exited: {self.log_tail()}"
        try:
            if self.ca_file.exists():
                ready = http.get(f"{self.url}/readyz", ssl=self.tls)
            else:  # not a member: no HTTPS yet, and /readyz answers plain HTTP
                ready = http.get(f"http://{self.namespace.address}:{HTTP_PORT}/readyz")
            async with ready as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    def reload(self) -> None:
        """SIGHUP: the daemon applies its file as it is now."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    async def stop(self) -> None:
        """SIGTERM; the daemon must stop cleanly."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            await self.process.wait()
        assert self.process.returncode == 0, f"{self.name} stopped badly: {self.log_tail()}"

    async def kill(self) -> None:
        """SIGKILL, and wait for the process to be gone."""
        assert self.process is not None
        self.process.kill()
        async with asyncio.timeout(WAIT):
            await self.process.wait()

    def unplug(self) -> None:
        """Cut the node off the bridge."""
        self.namespace.unplug()
        self.unplugged = True

    def plug(self) -> None:
        """Put the node back on the bridge."""
        self.namespace.plug()
        self.unplugged = False

    def log_tail(self, lines: int = 60) -> str:
        """The last `lines` lines of the daemon's log, headed by its name."""
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
            argument = json.dumps([method, self.url + path, headers, body, str(self.ca_file)])
            process = await self.namespace.spawn(*self.namespace.python("-c", INSIDE, argument))
            async with asyncio.timeout(WAIT):
                out, _ = await process.communicate()
            assert process.returncode == 0, f"request {method} {path} inside {self.name} failed"
            status, answer = json.loads(out)
            return status, answer
        async with http.request(
            method, self.url + path, json=body, headers=headers, ssl=self.tls
        ) as response:
            return response.status, await response.json()

    async def post(self, http: aiohttp.ClientSession, path: str, body: dict) -> dict:
        """The answer of a POST that must succeed."""
        status, answer = await self.request(http, "POST", path, body)
        assert status in (200, 201), f"POST {path} on {self.name}: {status} {answer}"
        return answer

    async def order(self, http: aiohttp.ClientSession, order_id: str) -> dict | None:
        """The order as this node serves it, or None if it has no such order."""
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
        """The peers this node shows a live link with."""
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
async def store_of_three(tmp_path: Path, zone: str = "UTC", files: dict[str, str] | None = None):
    """Three linked nodes n1, n2, n3 of one store (n1 made it, with the sample catalog; the
    others joined with codes from it), each holding the catalog, each with `files[name]`
    (TOML tables) in its file; yields (http, nodes). Every process and namespace is gone on
    the way out, whatever happened."""
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
                node.configure(zone, extra=(files or {}).get(node.name, ""))
            n1 = nodes[0]
            _, made, _ = await posedge("init", "--config", str(n1.config))
            assert f"store {STORE} made; this node is n1" in made
            await posedge("catalog", "--sample", "--config", str(n1.config))
            await n1.start(http)
            for node in nodes[1:]:
                await node.join(n1)
                await node.start(http)
            for node in nodes:
                node.auth = await terminal(http, node.config, node.url, tls=node.tls)
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


async def fire_burger(http, node: Node, note: str = "") -> dict:
    """An order of one burger (the grill's station) with `note` on its line, fired at
    `node`: the order."""
    order = (await node.post(http, "/api/v1/orders", {}))["order"]
    line = {"sku": "BURGER", "note": note} if note else {"sku": "BURGER"}
    await node.post(http, f"/api/v1/orders/{order['id']}/lines", line)
    return (await node.post(http, f"/api/v1/orders/{order['id']}/fire", {}))["order"]


def printed_copies(printer, note: str) -> list[str]:
    """The tickets a printer emulator cut carrying `note`."""
    return [paper.text for paper in printer.papers if paper.cut and note in paper.text]
